//! The instance: version, memory for inputs, errors, and compressed downloads.
#![forbid(unsafe_code)]

use crate::alloc::{input_alloc, input_dealloc, take_failure};
use crate::boundary::{fail, fail_core, publish_bytes, publish_result, put_out, state, TakenInput};
use crate::status;

pub(crate) fn alloc(len: u32) -> u32 {
    input_alloc(len as usize) as u32
}

pub(crate) fn free(ptr: u32, len: u32) {
    input_dealloc(ptr as *mut u8, len as usize)
}

pub(crate) fn input_buffer(len: u32) -> u32 {
    let st = state();
    let words = (len as usize + 7) / 8;
    if st.input.len() < words {
        st.input.clear();
        if st.input.try_reserve_exact(words).is_err() {
            return 0;
        }
        st.input.resize(words, 0);
    }
    st.input.as_mut_ptr() as u32
}

pub(crate) fn last_error(out: u32) -> i32 {
    let st = state();
    let message = std::mem::take(&mut st.last_error);
    publish_bytes(message.as_bytes(), out);
    st.last_error = message;
    st.last_status
}

pub(crate) fn alloc_failure() -> i32 {
    take_failure().min(i32::MAX as usize) as i32
}

pub(crate) fn decompress(ptr: u32, len: u32, limit: u32, out: u32) -> i32 {
    let input = TakenInput::new(ptr, len);
    if input.is_null() {
        return fail(status::BAD_ARGUMENT, "pysym_decompress: no input".to_string());
    }
    state().result = Vec::new(); // the previous result goes before the new one grows
    let done = pysym_core::decompress::decompress(input.bytes(), limit as usize);
    drop(input);
    match done {
        Ok((format, bytes)) => {
            state().result = bytes;
            publish_result(out);
            put_out(out + 8, &[format as u32]);
            status::OK
        }
        Err(e) => fail_core(e),
    }
}
