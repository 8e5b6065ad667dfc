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
                return llvm_style(clone_suffix(s));
            }
        }
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            return format!("{}", d);
        }
    }
    name.to_string()
}

/// cpp_demangle prints a clone suffix (`.cold`, `.isra.0`, `.llvm.123`) as
/// ` [clone .llvm] [clone .123]`; LLVM prints ` (.llvm.123)`.
fn clone_suffix(s: String) -> String {
    match s.find(" [clone ") {
        Some(i) => {
            let suffix: String = s[i..].split(" [clone ").filter(|p| !p.is_empty()).map(|p| p.trim_end_matches(']')).collect();
            format!("{} ({})", &s[..i], suffix)
        }
        None => s,
    }
}

/// Adjusts cpp_demangle's output where LLVM 14's demangler prints differently: no space
/// in `operator< <T>`, and lambdas as `'lambda'(args)` (`'lambda0'` for the second ...).
/// (LLVM 14 keeps the C++03 space in `> >`, as cpp_demangle does.)
fn llvm_style(s: String) -> String {
    let mut s = s.replace("operator< <", "operator<<").replace("operator<< <", "operator<<<");
    while let Some(start) = s.find("{lambda(") {
        let bytes = s.as_bytes();
        let mut depth = 0usize;
        let mut close = None;
        for (i, &b) in bytes.iter().enumerate().skip(start + 7) {
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = match close {
            Some(c) => c,
            None => break,
        };
        let rest = &s[close + 1..];
        let end = match rest.find('}') {
            Some(e) if rest.starts_with('#') => e,
            _ => break,
        };
        let n: usize = rest[1..end].parse().unwrap_or(1);
        let tag = if n <= 1 { String::new() } else { (n - 2).to_string() };
        s = format!("{}'lambda{}'{}{}", &s[..start], tag, &s[start + 7..close + 1], &rest[end + 1..]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn cpp_and_rust() {
        assert_eq!(demangle("_Z3addii", 4), "add(int, int)");
        assert_eq!(demangle("main", 0), "main");
        assert_eq!(demangle("_Z3addii.cold", 0), "add(int, int) (.cold)");
        assert_eq!(demangle("_ZZ4mainENKUlddE_clEdd", 0), "main::'lambda'(double, double)::operator()(double, double) const");
        assert_eq!(demangle("_ZZ4mainENKUlddE0_clEdd", 0), "main::'lambda0'(double, double)::operator()(double, double) const");
        assert_eq!(demangle("_ZN3foo3barE", 0x1c), "foo::bar");
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo", 0x1c), "mycrate::foo");
    }

    /// The fixes in the vendored cpp_demangle (vendor/cpp_demangle/PYSYM-PATCHES.md), each
    /// checked against llvm-cxxfilt 14.
    #[test]
    fn llvm_identical_cpp() {
        let s = "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
        // A template constructor has no return type: all parameters are printed.
        assert_eq!(
            demangle("_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEC2IS3_EEPKcRKS3_", 0),
            format!("{}::basic_string<std::allocator<char> >(char const*, std::allocator<char> const&)", s)
        );
        // Parameter packs expand in place with references collapsed; empty ones vanish;
        // integer literals have LLVM's suffixes.
        assert_eq!(
            demangle("_ZNSt4pairIKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEiEC4IJRS6_EJLm0EEJEJEEERSt5tupleIJDpT_EERSA_IJDpT1_EESt12_Index_tupleIJXspT0_EEESJ_IJXspT2_EEE", 0),
            format!("std::pair<{0} const, int>::pair<{0} const&, 0ul>(std::tuple<{0} const&>&, std::tuple<>&, std::_Index_tuple<0ul>, std::_Index_tuple<>)", s)
        );
        assert_eq!(
            demangle("_ZNSt6vectorIiSaIiEE17_M_realloc_insertIJRKiEEEvN9__gnu_cxx17__normal_iteratorIPiS1_EEDpOT_", 0),
            "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)"
        );
        assert_eq!(demangle("_Z1fILj4EEvv", 0), "void f<4u>()");
    }
}
