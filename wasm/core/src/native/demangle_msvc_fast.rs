//! The commonest Microsoft-decorated function names, demangled straight into their short
//! form (the one llvm-symbolizer puts in frames) without building `demangle_msvc`'s tree:
//! plain identifiers, class templates whose arguments are numbers or builtin types, a
//! builtin return type and builtin parameters (`?work@?$Node@$0MO@@ns@@QEAAHH@Z` is
//! `ns::Node<206>::work(int)`). Such names are most of what a PDB of templated C++ asks a
//! lookup to demangle, and the tree parser spends most of its time allocating the tree.
//!
//! Anything else (back-references, operators, structors, pointers, classes, nested
//! templates, thunks, variables, special names) is `None` and goes to the parser, as is an
//! answer past the output cap. Wherever this answers, the text is the parser's (the tests
//! compare both on generated and real names).

use super::demangle::MAX_DEMANGLED;

/// Scopes a name may have here (more go to the parser).
const MAX_PARTS: usize = 16;

const Q_CONST: u8 = 1;
const Q_VOLATILE: u8 = 2;
const Q_RESTRICT: u8 = 4;
const Q_UNALIGNED: u8 = 8;

/// `name` in the short form, or `None` when it is not of the shapes above.
pub fn demangle_short(name: &str) -> Option<String> {
    let mut o = Vec::new();
    if !demangle_short_into(name, &mut o) {
        return None;
    }
    // (only &str pieces were appended)
    String::from_utf8(o).ok()
}

/// As [`demangle_short`], appending the UTF-8 text to `out` (a lookup's result, written
/// in place: no allocation per name); `false`, `out` unchanged, when it does not answer.
pub fn demangle_short_into(name: &str, out: &mut Vec<u8>) -> bool {
    let base = out.len();
    let done = short_into(name, out, base).is_some() && out.len() - base <= MAX_DEMANGLED;
    if !done {
        out.truncate(base);
    }
    done
}

fn short_into(name: &str, o: &mut Vec<u8>, base: usize) -> Option<()> {
    let s = name.as_bytes();
    if s.first() != Some(&b'?') {
        return None;
    }
    let mut r = Reader { s, pos: 1 };
    // The scopes' texts (identifier, template arguments), innermost first, are written
    // to `o` as they are read, then copied outermost first after them and cut out; part
    // `i` ends at `ends[i]` (from `base`). (Offsets, not ranges: the array is set up for
    // every name.)
    let mut ends = [0u32; MAX_PARTS];
    let (a, b) = r.ident()?;
    o.extend_from_slice(&s[a..b]);
    ends[0] = (o.len() - base) as u32;
    let mut n = 1;
    while !r.eat(b'@') {
        if n == MAX_PARTS {
            return None;
        }
        if r.eat2(b"?$") {
            let (a, b) = r.ident()?;
            o.extend_from_slice(&s[a..b]);
            o.push(b'<');
            let start = o.len();
            while !r.eat(b'@') {
                if o.len() > start {
                    o.extend_from_slice(b", ");
                }
                r.template_arg(o)?;
            }
            o.push(b'>');
        } else {
            let (a, b) = r.ident()?;
            o.extend_from_slice(&s[a..b]);
        }
        ends[n] = (o.len() - base) as u32;
        n += 1;
    }
    // The function class: members take `this` qualifiers; thunks, `extern "C"` and
    // variables (`$`, `9`, digits ...) are the parser's.
    let this_quals = match r.pop()? {
        b'A' | b'B' | b'E' | b'F' | b'I' | b'J' | b'M' | b'N' | b'Q' | b'R' | b'U' | b'V' => true,
        b'C' | b'D' | b'K' | b'L' | b'S' | b'T' | b'Y' | b'Z' => false,
        _ => return None,
    };
    let (mut quals, mut ref_qual) = (0u8, "");
    if this_quals {
        loop {
            match r.peek()? {
                b'E' => {}
                b'I' => quals |= Q_RESTRICT,
                b'F' => quals |= Q_UNALIGNED,
                _ => break,
            }
            r.pos += 1;
        }
        if r.eat(b'G') {
            ref_qual = " &";
        } else if r.eat(b'H') {
            ref_qual = " &&";
        }
        quals |= match r.pop()? {
            b'A' | b'Q' => 0,
            b'B' | b'R' => Q_CONST,
            b'C' | b'S' => Q_VOLATILE,
            b'D' | b'T' => Q_CONST | Q_VOLATILE,
            _ => return None,
        };
    }
    r.pop()?; // the calling convention: any letter, not printed
    if !r.eat(b'@') {
        // the return type, not printed: a builtin one, maybe cv-qualified
        if r.eat(b'?') && !matches!(r.pop()?, b'A'..=b'D' | b'Q'..=b'T') {
            return None;
        }
        r.builtin()?;
    }
    // The text goes after the scopes' texts, which are then cut out.
    let scopes_end = o.len();
    o.reserve(scopes_end - base + name.len() + name.len() / 2);
    for i in (0..n).rev() {
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        o.extend_from_within(base + start..base + ends[i] as usize);
        if i > 0 {
            o.extend_from_slice(b"::");
        }
    }
    o.push(b'(');
    if r.eat(b'X') {
        o.extend_from_slice(b"void");
    } else {
        let open = o.len();
        loop {
            match r.peek()? {
                b'@' => {
                    r.pos += 1;
                    break;
                }
                b'Z' => {
                    r.pos += 1;
                    o.extend_from_slice(if o.len() > open { b", ..." } else { b"..." });
                    break;
                }
                _ => {
                    // (a digit, a parameter back-reference, is not a builtin type)
                    if o.len() > open {
                        o.extend_from_slice(b", ");
                    }
                    o.extend_from_slice(r.builtin()?.as_bytes());
                }
            }
        }
    }
    o.push(b')');
    let noexcept = if r.eat2(b"_E") {
        true
    } else if r.eat(b'Z') {
        false
    } else {
        return None;
    };
    for (q, text) in [
        (Q_CONST, " const"),
        (Q_VOLATILE, " volatile"),
        (Q_RESTRICT, " __restrict"),
        (Q_UNALIGNED, " __unaligned"),
    ] {
        if quals & q != 0 {
            o.extend_from_slice(text.as_bytes());
        }
    }
    if noexcept {
        o.extend_from_slice(b" noexcept");
    }
    o.extend_from_slice(ref_qual.as_bytes());
    // (what follows the encoding is ignored, as the parser ignores it)
    o.drain(base..scopes_end);
    Some(())
}

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn pop(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.pos += usize::from(hit);
        hit
    }

    fn eat2(&mut self, t: &[u8; 2]) -> bool {
        let hit = self.s.get(self.pos..self.pos + 2) == Some(&t[..]);
        self.pos += if hit { 2 } else { 0 };
        hit
    }

    /// An identifier and its `@`: ASCII letters, digits and `_`, not starting with a digit
    /// (a back-reference); its byte range.
    fn ident(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        let first = *self.s.get(start)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let len = self.s[start..]
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))?;
        if self.s[start + len] != b'@' {
            return None;
        }
        self.pos = start + len + 1;
        Some((start, start + len))
    }

    /// A template argument: `$0<number>` or a builtin type.
    fn template_arg(&mut self, out: &mut Vec<u8>) -> Option<()> {
        if !self.eat2(b"$0") {
            out.extend_from_slice(self.builtin()?.as_bytes());
            return Some(());
        }
        let (v, neg) = super::demangle_msvc::read_number(self.s, &mut self.pos)?;
        if neg && v != 0 {
            out.push(b'-');
        }
        out.extend_from_slice(super::demangle_msvc::decimal(v, &mut [0; 20]).as_bytes());
        Some(())
    }

    /// A builtin type's name (not `std::nullptr_t`).
    fn builtin(&mut self) -> Option<&'static str> {
        let code = self.pop()?;
        super::demangle_msvc::builtin_name(code, || self.pop())
    }
}

#[cfg(test)]
mod tests {
    use super::super::demangle_msvc::demangle_msvc_tree;
    use super::*;

    fn check(name: &str) -> bool {
        let fast = demangle_short(name);
        if let Some(f) = &fast {
            assert_eq!(Some(f.as_str()), demangle_msvc_tree(name, true).as_deref(), "{}", name);
        }
        fast.is_some()
    }

    #[test]
    fn examples() {
        for (name, want) in [
            ("?work@?$Node@$0MO@@tu00026@@QEAAHH@Z", "tu00026::Node<206>::work(int)"),
            (
                "?mix@?$Node@$0IM@@tu00114@@SAHHH@Z",
                "tu00114::Node<140>::mix(int, int)",
            ),
            ("?f@@YAXXZ", "f(void)"),
            ("?g@A@@QEBAHXZ", "A::g(void) const"),
            ("?h@@YAXHZZ", "h(int, ...)"),
            ("?h@@YAXZZ", "h(...)"),
            ("?t@?$T@H$0?L@$0A@_N@@QEGAAXXZ", "T<int, -11, 0, bool>::t(void) &"),
        ] {
            assert_eq!(demangle_short(name).as_deref(), Some(want), "{}", name);
            assert!(check(name));
        }
        // the parser's: a back-reference, a pointer, an operator, a structor
        for name in [
            "?f@@YAXHH0@Z",
            "?f@@YAXPEAH@Z",
            "??Hf@@YAHH@Z",
            "??0A@@QEAA@XZ",
            "?x@@3HA",
        ] {
            assert_eq!(demangle_short(name), None, "{}", name);
        }
    }

    /// Names made of the pieces this path reads, and of a few it does not, each also
    /// mutated: wherever this path answers, the parser's text.
    #[test]
    fn same_text_as_the_parser_on_generated_names() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| -> usize {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        const IDENTS: [&str; 6] = ["f", "Node", "tu00026", "_x9", "A", "work"];
        const ARGS: [&str; 12] = [
            "$0A@", "$0MO@", "$00", "$09", "$0?L@", "$0?0", "$0@", "H", "_N", "_J", "PEAH", "$S",
        ];
        const TYPES: [&str; 12] = ["H", "D", "_N", "_K", "M", "N", "X", "O", "PEAH", "0", "VA@@", "_E"];
        const CLASSES: [&str; 10] = [
            "QEAA", "QEBA", "SA", "YA", "UEAA", "AEGDA", "IEIFA", "QEHAA", "Y", "$4A",
        ];
        const ENDS: [&str; 5] = ["@Z", "Z", "@_E", "ZZ", "@"];
        let mut answered = 0;
        for _ in 0..20000 {
            let mut name = String::from("?");
            name.push_str(IDENTS[next(IDENTS.len())]);
            name.push('@');
            for _ in 0..next(4) {
                if next(2) == 0 {
                    name.push_str("?$");
                    name.push_str(IDENTS[next(IDENTS.len())]);
                    name.push('@');
                    for _ in 0..next(4) {
                        name.push_str(ARGS[next(ARGS.len())]);
                    }
                    name.push('@');
                } else {
                    name.push_str(IDENTS[next(IDENTS.len())]);
                    name.push('@');
                }
            }
            name.push('@');
            name.push_str(CLASSES[next(CLASSES.len())]);
            if next(8) == 0 {
                name.push('@');
            } else {
                if next(6) == 0 {
                    name.push_str(["?B", "?A", "?Q", "?E"][next(4)]);
                }
                name.push_str(TYPES[next(TYPES.len())]);
            }
            if next(5) == 0 {
                name.push('X');
            } else {
                for _ in 0..next(4) {
                    name.push_str(TYPES[next(TYPES.len())]);
                }
            }
            name.push_str(ENDS[next(ENDS.len())]);
            answered += usize::from(check(&name));
            // and mutated: a byte replaced, dropped or the name cut
            let b = name.as_bytes();
            let i = next(b.len());
            let mut m = b.to_vec();
            match next(3) {
                0 => m[i] = b"?@$0AZ_HXQ"[next(10)],
                1 => {
                    m.remove(i);
                }
                _ => m.truncate(i),
            }
            if let Ok(m) = String::from_utf8(m) {
                check(&m);
            }
        }
        // the generator makes mostly names of this path's shapes
        assert!(answered > 3000, "answered {}", answered);
    }

    #[test]
    fn same_text_as_the_parser_on_the_hand_written_names() {
        let text = include_str!("../../../../tests/data/msvc_names.txt");
        let names: Vec<&str> = text.lines().filter(|l| l.starts_with('?')).collect();
        assert!(names.len() > 100);
        let answered = names.iter().filter(|n| check(n)).count();
        assert!(answered > 0);
    }
}
