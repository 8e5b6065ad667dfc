#![no_main]

#[no_mangle]
pub extern "C" fn LLVMFuzzerTestOneInput(data: *const u8, size: usize) -> i32 {
    let input = if size == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(data, size) } };
    pysym_fuzz::smcache(input);
    0
}
