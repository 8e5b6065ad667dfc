// Links Debian's libFuzzer (it provides `main`; every target is `#![no_main]`).
fn main() {
    let dir = std::env::var("PYSYM_LIBFUZZER_DIR").unwrap_or_else(|_| "/usr/lib/llvm-14/lib".into());
    println!("cargo:rustc-link-search=native={}", dir);
    println!("cargo:rustc-link-lib=static=Fuzzer");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rerun-if-env-changed=PYSYM_LIBFUZZER_DIR");
}
