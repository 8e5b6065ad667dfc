use super::*;

#[test]
fn rejects_garbage() {
    let e = object_info(&b"hello world, not an object"[..], None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedObject);
}

/// `PYSYM_TEST_OBJECT=path PYSYM_TEST_ADDRS=0x1139,... cargo test -- --ignored dump`
#[test]
#[ignore]
fn dump() {
    let path = std::env::var("PYSYM_TEST_OBJECT").unwrap();
    let data = std::fs::read(path).unwrap();
    println!("{:?}", object_info(&data[..], None).unwrap());
    let t = std::time::Instant::now();
    let bytes = build_symcache(&data[..], None).unwrap().finish();
    println!("built {} bytes in {:?}", bytes.len(), t.elapsed());
    let cache = crate::symcache::SymCache::parse(&bytes).unwrap();
    for a in std::env::var("PYSYM_TEST_ADDRS").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
        let addr = u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap();
        println!("{:#x}: {:?}", addr, cache.lookup(addr));
    }
}
