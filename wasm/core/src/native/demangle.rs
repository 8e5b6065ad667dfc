//! Demangling of C++ (Itanium) and Rust (legacy and v0) symbol names, formatted like
//! `llvm-symbolizer -C` prints them for common cases.

/// Demangles `name`; returns it unchanged when it is not a mangled name we know.
pub fn demangle(name: &str, _lang: u32) -> String {
    if name.starts_with("_R") {
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            // LLVM's Rust demangler leaves out crate disambiguators, as `{:#}` does.
            return format!("{:#}", d);
        }
    }
    // Legacy Rust names are Itanium names; llvm-symbolizer demangles them as such (the
    // `::h<hash>` part stays), so they go through the C++ demangler too.
    if name.starts_with("_Z") || name.starts_with("__Z") {
        let n = name.strip_prefix('_').filter(|n| n.starts_with("_Z")).unwrap_or(name);
        if let Ok(sym) = cpp_demangle::Symbol::new(n.as_bytes()) {
            let opts = cpp_demangle::DemangleOptions::new();
            if let Ok(s) = sym.demangle(&opts) {
                return llvm_style(s);
            }
        }
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            return format!("{}", d);
        }
    }
    name.to_string()
}

/// Adjusts cpp_demangle's output where LLVM's demangler prints differently.
fn llvm_style(s: String) -> String {
    // LLVM prints closing template brackets without the C++03 space: `a<b<c>>`.
    if s.contains("> >") {
        let mut t = s;
        while t.contains("> >") {
            t = t.replace("> >", ">>");
        }
        t
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn cpp_and_rust() {
        assert_eq!(demangle("_Z3addii", 4), "add(int, int)");
        assert_eq!(demangle("main", 0), "main");
        assert_eq!(demangle("_ZN3foo3barE", 0x1c), "foo::bar");
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo", 0x1c), "mycrate::foo");
    }
}
