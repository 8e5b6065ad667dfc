//! Demangling of Microsoft C++ decorated names (`?f@A@@QEAAHH@Z`), printed as
//! `llvm-undname` prints them: the full form (`public: int __cdecl A::f(int)`) and the
//! short one llvm-symbolizer puts in frames (`A::f(int)`: no access, no `static` or
//! `virtual`, no calling convention, no return type).
//!
//! Written from the decoration scheme: the parser builds a small tree (names and types
//! are printed after parsing, because a pointer's declarator wraps its pointee's text and
//! the short form leaves parts out), then prints it. Bounded like the Itanium demangler:
//! an explicit depth counter, a step limit per input byte and the output cap.

use std::rc::Rc;

/// How deep names and types may nest (template arguments, pointees, parameters, local
/// scopes); deeper names stay undemangled. The parser and printer recurse once per level.
const MAX_DEPTH: u32 = 256;

/// Productions a parse may enter per input byte (plus a constant): each production
/// consumes at least one byte or fails, so this only bounds pathological inputs.
const STEPS_PER_BYTE: u32 = 16;

/// The output cap (back-references let a short name print long).
const MAX_OUT: usize = super::demangle::MAX_DEMANGLED;

/// Demangles a Microsoft-decorated name (it starts with `?`); `short` leaves out what
/// llvm-symbolizer leaves out of frame names. `None` when the name is not one or is
/// malformed, too deep or too long.
pub fn demangle_msvc(name: &str, short: bool) -> Option<String> {
    if !name.starts_with('?') {
        return None;
    }
    if short {
        // (several times faster where it answers: no tree)
        if let Some(s) = super::demangle_msvc_fast::demangle_short(name) {
            return Some(s);
        }
    }
    demangle_msvc_tree(name, short)
}

/// As [`demangle_msvc`], always through the parser's tree (the fast path's tests compare
/// the two).
pub fn demangle_msvc_tree(name: &str, short: bool) -> Option<String> {
    if !name.starts_with('?') {
        return None;
    }
    let mut p = Parser {
        s: name.as_bytes(),
        src: name,
        pos: 0,
        depth: 0,
        steps: 0,
        max_steps: (name.len() as u32).saturating_mul(STEPS_PER_BYTE).saturating_add(1024),
        names: Names::default(),
        params: Vec::new(),
        prims: Default::default(),
    };
    let sym = p.parse()?;
    let flags = if short { SHORT } else { 0 };
    let mut o = Out {
        s: String::with_capacity(name.len() * 2),
        depth: 0,
        over: false,
    };
    sym.output(&mut o, flags);
    if o.over || o.s.is_empty() {
        None
    } else {
        Some(o.s)
    }
}

// Output flags (llvm-symbolizer's are all four).
const NO_ACCESS: u8 = 1;
const NO_CC: u8 = 2;
const NO_MEMBER_TYPE: u8 = 4;
const NO_RETURN: u8 = 8;
const SHORT: u8 = NO_ACCESS | NO_CC | NO_MEMBER_TYPE | NO_RETURN;

// Qualifiers.
const Q_CONST: u8 = 1;
const Q_VOLATILE: u8 = 2;
const Q_RESTRICT: u8 = 4;
const Q_UNALIGNED: u8 = 8;

// Function classes.
const FC_PRIVATE: u16 = 1;
const FC_PROTECTED: u16 = 2;
const FC_PUBLIC: u16 = 4;
const FC_GLOBAL: u16 = 8;
const FC_STATIC: u16 = 16;
const FC_VIRTUAL: u16 = 32;
const FC_STATIC_ADJUST: u16 = 64;
const FC_VIRTUAL_ADJUST: u16 = 128;
const FC_VIRTUAL_ADJUST_EX: u16 = 256;
const FC_EXTERN_C: u16 = 512;
const FC_NO_PARAMS: u16 = 1024;

/// The text being printed, capped.
struct Out {
    s: String,
    depth: u32,
    over: bool,
}

impl Out {
    fn put(&mut self, t: &str) {
        if self.over || self.s.len() + t.len() > MAX_OUT {
            self.over = true;
            return;
        }
        self.s.push_str(t);
    }

    fn num(&mut self, v: u64, neg: bool) {
        if neg && v != 0 {
            self.put("-");
        }
        self.digits(v);
    }

    fn signed(&mut self, v: i64) {
        if v < 0 {
            self.put("-");
        }
        self.digits(v.unsigned_abs());
    }

    /// `v` in decimal, without the allocation of `to_string` (template arguments are
    /// numbers in most names).
    fn digits(&mut self, v: u64) {
        self.put(decimal(v, &mut [0; 20]));
    }

    /// A space unless the text ends in a space, `*`, `&`, `(`... (after a word or `>`).
    fn space_if_needed(&mut self) {
        if let Some(c) = self.s.bytes().last() {
            if c.is_ascii_alphanumeric() || c == b'>' {
                self.put(" ");
            }
        }
    }

    fn quals(&mut self, q: u8, mut space_before: bool, space_after: bool) {
        if q & (Q_CONST | Q_VOLATILE | Q_RESTRICT) == 0 {
            return;
        }
        for (m, w) in [(Q_CONST, "const"), (Q_VOLATILE, "volatile"), (Q_RESTRICT, "__restrict")] {
            if q & m != 0 {
                if space_before {
                    self.put(" ");
                }
                self.put(w);
                space_before = true;
            }
        }
        if space_after {
            self.put(" ");
        }
    }

    /// Enters a nested part; false (and the output failed) past `MAX_DEPTH`. Parsing
    /// already bounds the depth; this keeps the printer safe on its own.
    fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH + 8 {
            self.over = true;
            return false;
        }
        true
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }
}

/// One component of a qualified name.
enum Id {
    /// An identifier, a rendered back-reference, `` `anonymous namespace' ``, a local
    /// scope `` `void __cdecl f(void)'::`2' ``, a special name (`` `vftable' ``).
    Named(Rc<str>, Option<Vec<Arg>>),
    /// `operator+`, `` `scalar deleting destructor' ``, `operator new[]` ...
    Intrinsic(&'static str, Option<Vec<Arg>>),
    /// A constructor or destructor: named after its class (the component before it).
    Structor(bool, Option<Rc<Id>>, Option<Vec<Arg>>),
    /// `operator <type>`: the type is the function's return type.
    Conversion(Option<Rc<Ty>>, Option<Vec<Arg>>),
    /// `operator ""_x`
    Literal(String, Option<Vec<Arg>>),
    /// `` `dynamic initializer for 'x'' `` (a variable, or the name of a function)
    Dynamic(bool, Option<Box<Sym>>, Option<QName>),
    /// `` `RTTI Base Class Descriptor at (a, b, c, d)' ``
    BaseClassDescriptor(u64, i64, u64, u64),
    /// `` `local static guard'{n} ``
    Guard(bool, u64),
    /// `` `vcall'{n, {flat}} ``
    Vcall(u64),
}

impl Id {
    fn args(&self) -> Option<&Vec<Arg>> {
        match self {
            Id::Named(_, a)
            | Id::Intrinsic(_, a)
            | Id::Structor(_, _, a)
            | Id::Conversion(_, a)
            | Id::Literal(_, a) => a.as_ref(),
            _ => None,
        }
    }

    fn set_args(&mut self, args: Vec<Arg>) {
        match self {
            Id::Named(_, a)
            | Id::Intrinsic(_, a)
            | Id::Structor(_, _, a)
            | Id::Conversion(_, a)
            | Id::Literal(_, a) => *a = Some(args),
            _ => {}
        }
    }

    fn output(&self, o: &mut Out, f: u8) {
        if !o.enter() {
            return;
        }
        match self {
            Id::Named(s, _) => o.put(s),
            Id::Intrinsic(s, _) => o.put(s),
            Id::Structor(dtor, class, _) => {
                if *dtor {
                    o.put("~");
                }
                if let Some(c) = class {
                    c.output(o, f);
                }
            }
            Id::Conversion(_, _) => o.put("operator"),
            Id::Literal(s, _) => {
                o.put("operator \"\"");
                o.put(s);
            }
            Id::Dynamic(dtor, var, name) => {
                o.put(if *dtor {
                    "`dynamic atexit destructor for "
                } else {
                    "`dynamic initializer for "
                });
                if let Some(v) = var {
                    o.put("`");
                    v.output(o, f);
                    o.put("''");
                } else if let Some(n) = name {
                    o.put("'");
                    n.output(o, f);
                    o.put("''");
                }
            }
            Id::BaseClassDescriptor(a, b, c, d) => {
                o.put("`RTTI Base Class Descriptor at (");
                o.num(*a, false);
                o.put(", ");
                o.signed(*b);
                o.put(", ");
                o.num(*c, false);
                o.put(", ");
                o.num(*d, false);
                o.put(")'");
            }
            Id::Guard(thread, n) => {
                o.put(if *thread {
                    "`local static thread guard'"
                } else {
                    "`local static guard'"
                });
                if *n > 0 {
                    o.put("{");
                    o.num(*n, false);
                    o.put("}");
                }
            }
            Id::Vcall(n) => {
                o.put("`vcall'{");
                o.num(*n, false);
                o.put(", {flat}}");
            }
        }
        if let Some(args) = self.args() {
            o.put("<");
            output_list(args, o, f);
            o.put(">");
        }
        if let Id::Conversion(Some(t), _) = self {
            o.put(" ");
            t.output(o, f);
        }
        o.leave();
    }
}

/// A qualified name, outermost component first.
#[derive(Clone)]
struct QName(Vec<Rc<Id>>);

impl QName {
    fn output(&self, o: &mut Out, f: u8) {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                o.put("::");
            }
            c.output(o, f);
        }
    }

    fn last(&self) -> &Id {
        // never empty: a scope chain holds the identifier it starts from
        &self.0[self.0.len() - 1]
    }
}

/// A template argument.
#[derive(Clone)]
enum Arg {
    Type(Rc<Ty>),
    Int(u64, bool),
    /// `&x`, `x` (a reference), `{&f, 8}` (a member pointer with offsets)
    Ref(bool, Option<Rc<Sym>>, Vec<i64>),
    Name(QName),
}

impl Arg {
    fn output(&self, o: &mut Out, f: u8) {
        match self {
            Arg::Type(t) => t.output(o, f),
            Arg::Int(v, neg) => o.num(*v, *neg),
            Arg::Ref(pointer, sym, offsets) => {
                if !offsets.is_empty() {
                    o.put("{");
                } else if *pointer {
                    o.put("&");
                }
                if let Some(s) = sym {
                    s.output(o, f);
                    if !offsets.is_empty() {
                        o.put(", ");
                    }
                }
                for (i, v) in offsets.iter().enumerate() {
                    if i > 0 {
                        o.put(", ");
                    }
                    o.signed(*v);
                }
                if !offsets.is_empty() {
                    o.put("}");
                }
            }
            Arg::Name(n) => n.output(o, f),
        }
    }
}

fn output_list(args: &[Arg], o: &mut Out, f: u8) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            o.put(", ");
        }
        a.output(o, f);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Aff {
    Ptr,
    Ref,
    RRef,
}

/// A type; `quals` are its own cv-qualifiers.
struct Ty {
    quals: u8,
    kind: TyKind,
}

enum TyKind {
    Prim(&'static str),
    Tag(&'static str, QName),
    Custom(Rc<Id>),
    Ptr {
        aff: Aff,
        class: Option<QName>,
        pointee: Rc<Ty>,
    },
    Array {
        dims: Vec<u64>,
        elem: Rc<Ty>,
    },
    Func(Box<Sig>),
}

impl Ty {
    fn output(&self, o: &mut Out, f: u8) {
        self.pre(o, f);
        self.post(o, f);
    }

    fn pre(&self, o: &mut Out, f: u8) {
        if !o.enter() {
            return;
        }
        match &self.kind {
            TyKind::Prim(s) => {
                o.put(s);
                o.quals(self.quals, true, false);
            }
            TyKind::Tag(tag, name) => {
                o.put(tag);
                o.put(" ");
                name.output(o, f);
                o.quals(self.quals, true, false);
            }
            TyKind::Custom(id) => id.output(o, f),
            TyKind::Ptr { aff, class, pointee } => {
                match &pointee.kind {
                    // A function pointee's calling convention goes inside the parentheses.
                    TyKind::Func(sig) => sig.pre(o, NO_CC, 0),
                    _ => pointee.pre(o, f),
                }
                o.space_if_needed();
                if self.quals & Q_UNALIGNED != 0 {
                    o.put("__unaligned ");
                }
                match &pointee.kind {
                    TyKind::Array { .. } => o.put("("),
                    TyKind::Func(sig) => {
                        o.put("(");
                        o.put(sig.cc);
                        o.put(" ");
                    }
                    _ => {}
                }
                if let Some(c) = class {
                    c.output(o, f);
                    o.put("::");
                }
                o.put(match aff {
                    Aff::Ptr => "*",
                    Aff::Ref => "&",
                    Aff::RRef => "&&",
                });
                o.quals(self.quals, false, false);
            }
            TyKind::Array { elem, .. } => {
                elem.pre(o, f);
                o.quals(self.quals, true, false);
            }
            TyKind::Func(sig) => sig.pre(o, f, 0),
        }
        o.leave();
    }

    fn post(&self, o: &mut Out, f: u8) {
        if !o.enter() {
            return;
        }
        match &self.kind {
            TyKind::Ptr { pointee, .. } => {
                if let TyKind::Array { .. } | TyKind::Func(_) = pointee.kind {
                    o.put(")");
                }
                pointee.post(o, f);
            }
            TyKind::Array { dims, elem } => {
                o.put("[");
                for (i, d) in dims.iter().enumerate() {
                    if i > 0 {
                        o.put("][");
                    }
                    o.num(*d, false);
                }
                o.put("]");
                elem.post(o, f);
            }
            TyKind::Func(sig) => sig.post(o, f),
            _ => {}
        }
        o.leave();
    }
}

/// This-adjustment of a thunk.
#[derive(Default, Clone, Copy)]
struct Adjust {
    static_offset: i64,
    vbptr: i64,
    vboffset: i64,
    vtordisp: i64,
}

/// A function's signature.
struct Sig {
    class: u16,
    quals: u8,
    /// 0 none, 1 `&`, 2 `&&`
    ref_qual: u8,
    cc: &'static str,
    ret: Option<Rc<Ty>>,
    /// `None`: `(void)`
    params: Option<Vec<Rc<Ty>>>,
    variadic: bool,
    noexcept: bool,
    thunk: Option<Adjust>,
}

impl Sig {
    fn pre(&self, o: &mut Out, f: u8, _: u8) {
        if self.thunk.is_some() {
            o.put("[thunk]: ");
        }
        if f & NO_ACCESS == 0 {
            if self.class & FC_PUBLIC != 0 {
                o.put("public: ");
            }
            if self.class & FC_PROTECTED != 0 {
                o.put("protected: ");
            }
            if self.class & FC_PRIVATE != 0 {
                o.put("private: ");
            }
        }
        if f & NO_MEMBER_TYPE == 0 {
            if self.class & FC_GLOBAL == 0 && self.class & FC_STATIC != 0 {
                o.put("static ");
            }
            if self.class & FC_VIRTUAL != 0 {
                o.put("virtual ");
            }
            if self.class & FC_EXTERN_C != 0 {
                o.put("extern \"C\" ");
            }
        }
        if f & NO_RETURN == 0 {
            if let Some(r) = &self.ret {
                r.pre(o, f);
                o.put(" ");
            }
        }
        if f & NO_CC == 0 {
            o.put(self.cc);
        }
    }

    fn post(&self, o: &mut Out, f: u8) {
        if let Some(a) = self.thunk {
            if self.class & FC_STATIC_ADJUST != 0 {
                o.put("`adjustor{");
                o.signed(i64::from(a.static_offset as u32));
                o.put("}'");
            } else if self.class & FC_VIRTUAL_ADJUST != 0 {
                if self.class & FC_VIRTUAL_ADJUST_EX != 0 {
                    o.put("`vtordispex{");
                    // (as LLVM keeps them: the static offset in 32 bits unsigned, the others signed)
                    let st = i64::from(a.static_offset as u32);
                    for (i, v) in [
                        a.vbptr as i32 as i64,
                        a.vboffset as i32 as i64,
                        a.vtordisp as i32 as i64,
                        st,
                    ]
                    .iter()
                    .enumerate()
                    {
                        if i > 0 {
                            o.put(", ");
                        }
                        o.signed(*v);
                    }
                    o.put("}'");
                } else {
                    o.put("`vtordisp{");
                    o.signed(a.vtordisp as i32 as i64);
                    o.put(", ");
                    o.signed(i64::from(a.static_offset as u32));
                    o.put("}'");
                }
            }
        }
        if self.class & FC_NO_PARAMS == 0 {
            o.put("(");
            match &self.params {
                Some(ps) => {
                    for (i, p) in ps.iter().enumerate() {
                        if i > 0 {
                            o.put(", ");
                        }
                        p.output(o, f);
                    }
                }
                None => o.put("void"),
            }
            if self.variadic {
                if !o.s.ends_with('(') {
                    o.put(", ");
                }
                o.put("...");
            }
            o.put(")");
        }
        if self.quals & Q_CONST != 0 {
            o.put(" const");
        }
        if self.quals & Q_VOLATILE != 0 {
            o.put(" volatile");
        }
        if self.quals & Q_RESTRICT != 0 {
            o.put(" __restrict");
        }
        if self.quals & Q_UNALIGNED != 0 {
            o.put(" __unaligned");
        }
        if self.noexcept {
            o.put(" noexcept");
        }
        match self.ref_qual {
            1 => o.put(" &"),
            2 => o.put(" &&"),
            _ => {}
        }
        if f & NO_RETURN == 0 {
            if let Some(r) = &self.ret {
                r.post(o, f);
            }
        }
    }
}

/// A demangled symbol.
enum Sym {
    Func(QName, Sig),
    /// storage class (0-4, 5 none), type (none for RTTI tables), name
    Var(u8, Option<Rc<Ty>>, QName),
    /// `const A::`vftable'{for `B'}`
    Table(u8, QName, Option<QName>),
    /// `class A `RTTI Type Descriptor'`
    TypeDescriptor(Rc<Ty>),
    /// An MD5 name, printed as it is; a string literal's text.
    Md5(String),
    Text(String),
}

impl Sym {
    fn output(&self, o: &mut Out, f: u8) {
        if !o.enter() {
            return;
        }
        match self {
            Sym::Func(name, sig) => {
                sig.pre(o, f, 0);
                o.space_if_needed();
                name.output(o, f);
                sig.post(o, f);
            }
            Sym::Var(sc, ty, name) => {
                let access = match sc {
                    0 => Some("private: "),
                    1 => Some("protected: "),
                    2 => Some("public: "),
                    _ => None,
                };
                if f & NO_ACCESS == 0 {
                    if let Some(a) = access {
                        o.put(a);
                    }
                }
                if f & NO_MEMBER_TYPE == 0 && access.is_some() {
                    o.put("static ");
                }
                if let Some(t) = ty {
                    t.pre(o, f);
                    o.space_if_needed();
                }
                name.output(o, f);
                if let Some(t) = ty {
                    t.post(o, f);
                }
            }
            Sym::Table(q, name, target) => {
                o.quals(*q, false, true);
                name.output(o, f);
                if let Some(t) = target {
                    o.put("{for `");
                    t.output(o, f);
                    o.put("'}");
                }
            }
            Sym::TypeDescriptor(t) => {
                t.output(o, f);
                o.put(" `RTTI Type Descriptor'");
            }
            Sym::Md5(s) | Sym::Text(s) => o.put(s),
        }
        o.leave();
    }
}

struct Parser<'a> {
    s: &'a [u8],
    /// `s` as text: names are slices of it, shared with the back-reference table.
    src: &'a str,
    pos: usize,
    depth: u32,
    steps: u32,
    max_steps: u32,
    /// Name back-references (`0`-`9`), rendered (shared with the names they came from:
    /// allocations were half of the time of a short name).
    names: Names,
    /// Parameter type back-references (`0`-`9`).
    params: Vec<Rc<Ty>>,
    /// Primitive types made so far, shared by every parameter of that type.
    prims: [Option<Rc<Ty>>; 4],
}

type P<T> = Option<T>;

/// The name back-reference table: 10 at most, kept without a heap allocation (each
/// template has its own table).
#[derive(Default)]
struct Names {
    v: [Option<Rc<str>>; 10],
    n: usize,
}

impl Names {
    fn len(&self) -> usize {
        self.n
    }

    fn iter(&self) -> impl Iterator<Item = &Rc<str>> {
        self.v[..self.n].iter().flatten()
    }

    fn push(&mut self, s: Rc<str>) {
        if self.n < self.v.len() {
            self.v[self.n] = Some(s);
            self.n += 1;
        }
    }

    fn get(&self, i: usize) -> Option<&Rc<str>> {
        self.v.get(i)?.as_ref()
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.s[self.pos.min(self.s.len())..]
    }

    fn starts(&self, t: &str) -> bool {
        self.rest().starts_with(t.as_bytes())
    }

    fn eat(&mut self, t: &str) -> bool {
        if self.starts(t) {
            self.pos += t.len();
            true
        } else {
            false
        }
    }

    fn pop(&mut self) -> P<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Counts a production against the depth and step limits.
    fn enter(&mut self) -> P<()> {
        self.depth += 1;
        self.steps += 1;
        if self.depth > MAX_DEPTH || self.steps > self.max_steps {
            return None;
        }
        Some(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn parse(&mut self) -> P<Sym> {
        self.enter()?;
        let r = self.parse_inner();
        self.leave();
        r
    }

    fn parse_inner(&mut self) -> P<Sym> {
        if self.starts("??@") {
            let start = self.pos;
            self.pos += 3;
            let end = self.rest().iter().position(|&c| c == b'@')?;
            self.pos += end + 1;
            let md5 = std::str::from_utf8(&self.s[start..self.pos]).ok()?.to_string();
            self.eat("??_R4@");
            return Some(Sym::Md5(md5));
        }
        if !self.eat("?") {
            return None;
        }
        if let Some(s) = self.special()? {
            return Some(s);
        }
        self.declarator()
    }

    /// The special names (`??_7`, `??_R0` ...); `Some(None)` when the name is not one.
    fn special(&mut self) -> P<Option<Sym>> {
        const TABLES: [(&str, &str); 4] = [
            ("?_7", "`vftable'"),
            ("?_8", "`vbtable'"),
            ("?_S", "`local vftable'"),
            ("?_R4", "`RTTI Complete Object Locator'"),
        ];
        for (code, text) in TABLES {
            if self.eat(code) {
                let name = self.scope_chain(Id::Named(Rc::from(text), None))?;
                let front = self.pop()?;
                if front != b'6' && front != b'7' {
                    return None;
                }
                let (q, _) = self.qualifiers()?;
                let target = if self.eat("@") { None } else { Some(self.type_name()?) };
                return Some(Some(Sym::Table(q, name, target)));
            }
        }
        if self.eat("?_R0") {
            let t = self.ty(Mode::Result)?;
            if !self.eat("@8") || self.pos != self.s.len() {
                return None;
            }
            return Some(Some(Sym::TypeDescriptor(t)));
        }
        if self.eat("?_R1") {
            let a = self.unsigned()?;
            let b = self.signed()?;
            let c = self.unsigned()?;
            let d = self.unsigned()?;
            let name = self.scope_chain(Id::BaseClassDescriptor(a, b, c, d))?;
            self.eat("8");
            return Some(Some(Sym::Var(5, None, name)));
        }
        for (code, text) in [
            ("?_R2", "`RTTI Base Class Array'"),
            ("?_R3", "`RTTI Class Hierarchy Descriptor'"),
        ] {
            if self.eat(code) {
                let name = self.scope_chain(Id::Named(Rc::from(text), None))?;
                if !self.eat("8") {
                    return None;
                }
                return Some(Some(Sym::Var(5, None, name)));
            }
        }
        for (code, thread) in [("?_B", false), ("?__J", true)] {
            if self.eat(code) {
                // the scope index is filled in below, once the name is read
                let mut name = self.scope_chain(Id::Guard(thread, 0))?;
                if !self.eat("4IA") && !self.eat("5") {
                    return None;
                }
                if self.pos < self.s.len() {
                    let n = self.unsigned()?;
                    let i = name.0.len() - 1;
                    name.0[i] = Rc::new(Id::Guard(thread, n));
                }
                return Some(Some(Sym::Var(5, None, name)));
            }
        }
        if self.eat("?_9") {
            let name = self.scope_chain(Id::Vcall(0))?;
            if !self.eat("$B") {
                return None;
            }
            let n = self.unsigned()?;
            if !self.eat("A") {
                return None;
            }
            let cc = self.calling_convention()?;
            let mut name = name;
            let i = name.0.len() - 1;
            name.0[i] = Rc::new(Id::Vcall(n));
            let sig = Sig {
                class: FC_NO_PARAMS,
                quals: 0,
                ref_qual: 0,
                cc,
                ret: None,
                params: None,
                variadic: false,
                noexcept: false,
                thunk: Some(Adjust::default()),
            };
            return Some(Some(Sym::Func(name, sig)));
        }
        for (code, dtor) in [("?__E", false), ("?__F", true)] {
            if self.eat(code) {
                let member = self.eat("?");
                let sym = self.declarator()?;
                return match sym {
                    Sym::Var(..) => {
                        for _ in 0..if member { 2 } else { 1 } {
                            if !self.eat("@") {
                                return None;
                            }
                        }
                        let sig = self.function_encoding()?;
                        let id = Id::Dynamic(dtor, Some(Box::new(sym)), None);
                        Some(Some(Sym::Func(QName(vec![Rc::new(id)]), sig)))
                    }
                    Sym::Func(name, sig) if !member => {
                        let id = Id::Dynamic(dtor, None, Some(name));
                        Some(Some(Sym::Func(QName(vec![Rc::new(id)]), sig)))
                    }
                    _ => None,
                };
            }
        }
        if self.eat("?_C") {
            return Some(Some(Sym::Text(self.string_literal()?)));
        }
        // `typeof`, UDT returning: not demangled (as LLVM)
        if self.starts("?_A") || self.starts("?_P") {
            return None;
        }
        Some(None)
    }

    /// `??_C@_<width><length><crc>@<bytes>@`: the literal's text, as far as it is encoded
    /// (32 bytes; `...` when cut), its kind guessed from the bytes as LLVM guesses it.
    fn string_literal(&mut self) -> P<String> {
        if !self.eat("@_") {
            return None;
        }
        let wide = match self.pop()? {
            b'1' => true,
            b'0' => false,
            _ => return None,
        };
        let (mut size, neg) = self.number()?;
        if neg || size < if wide { 2 } else { 1 } {
            return None;
        }
        let crc = self.rest().iter().position(|&c| c == b'@')?;
        self.pos += crc + 1;
        if self.pos >= self.s.len() {
            return None;
        }
        let mut text = String::new();
        let truncated;
        let prefix;
        if wide {
            prefix = "L\"";
            truncated = size > 64;
            while !self.eat("@") {
                if self.rest().len() < 2 {
                    return None;
                }
                let hi = self.char_literal()?;
                if self.pos >= self.s.len() {
                    return None;
                }
                let lo = self.char_literal()?;
                if size != 2 || truncated {
                    escaped(&mut text, (u32::from(hi) << 8) | u32::from(lo));
                }
                size = size.wrapping_sub(2);
            }
        } else {
            let mut bytes = Vec::new();
            while !self.eat("@") {
                if self.pos >= self.s.len() || bytes.len() >= 128 {
                    return None;
                }
                bytes.push(self.char_literal()?);
            }
            truncated = size > bytes.len() as u64;
            let width = char_width(&bytes, size);
            prefix = match width {
                1 => "\"",
                2 => "u\"",
                _ => "U\"",
            };
            let n = bytes.len() / width;
            for i in 0..n {
                let c = (0..width).fold(0u32, |c, k| c | u32::from(bytes[i * width + k]) << (8 * k));
                if i + 1 < n || truncated {
                    escaped(&mut text, c);
                }
            }
        }
        let mut out = String::from(prefix);
        out.push_str(&text);
        out.push('"');
        if truncated {
            out.push_str("...");
        }
        Some(out)
    }

    /// One byte of a string literal: itself, or `?` and a code.
    fn char_literal(&mut self) -> P<u8> {
        let c = self.pop()?;
        if c != b'?' {
            return Some(c);
        }
        if self.eat("$") {
            let r = self.rest();
            if r.len() < 2 || !(b'A'..=b'P').contains(&r[0]) || !(b'A'..=b'P').contains(&r[1]) {
                return None;
            }
            self.pos += 2;
            return Some(((r[0] - b'A') << 4) | (r[1] - b'A'));
        }
        let c = self.pop()?;
        Some(match c {
            b'0'..=b'9' => b",/\\:. \n\t'-"[usize::from(c - b'0')],
            b'a'..=b'z' => 0xE1 + (c - b'a'),
            b'A'..=b'Z' => 0xC1 + (c - b'A'),
            _ => return None,
        })
    }

    fn declarator(&mut self) -> P<Sym> {
        let mut name = self.symbol_name()?;
        let sym = match self.peek()? {
            b'0'..=b'4' => {
                let sc = self.pop()? - b'0';
                self.variable(sc, name)?
            }
            _ => {
                let sig = self.function_encoding()?;
                if let Id::Conversion(None, args) = name.last() {
                    let id = Id::Conversion(sig.ret.clone(), args.as_ref().map(|a| clone_args(a)));
                    let i = name.0.len() - 1;
                    name.0[i] = Rc::new(id);
                }
                Sym::Func(name, sig)
            }
        };
        Some(sym)
    }

    fn variable(&mut self, sc: u8, name: QName) -> P<Sym> {
        let t = self.ty(Mode::Drop)?;
        let t = match &t.kind {
            TyKind::Ptr { aff, class, pointee } => {
                let ext = self.ext_qualifiers();
                let (child, _) = self.qualifiers()?;
                if class.is_some() {
                    self.type_name()?;
                }
                let pointee = Rc::new(Ty {
                    quals: pointee.quals | child,
                    kind: clone_kind(&pointee.kind),
                });
                Rc::new(Ty {
                    quals: t.quals | ext,
                    kind: TyKind::Ptr {
                        aff: *aff,
                        class: class.clone(),
                        pointee,
                    },
                })
            }
            _ => {
                let (q, _) = self.qualifiers()?;
                Rc::new(Ty {
                    quals: q,
                    kind: clone_kind(&t.kind),
                })
            }
        };
        Some(Sym::Var(sc, Some(t), name))
    }

    fn function_encoding(&mut self) -> P<Sig> {
        let extern_c = if self.eat("$$J0") { FC_EXTERN_C } else { 0 };
        let class = self.function_class()? | extern_c;
        let mut thunk = None;
        if class & FC_STATIC_ADJUST != 0 {
            thunk = Some(Adjust {
                static_offset: self.signed()?,
                ..Adjust::default()
            });
        } else if class & FC_VIRTUAL_ADJUST != 0 {
            let mut a = Adjust::default();
            if class & FC_VIRTUAL_ADJUST_EX != 0 {
                a.vbptr = self.signed()?;
                a.vboffset = self.signed()?;
            }
            a.vtordisp = self.signed()?;
            a.static_offset = self.signed()?;
            thunk = Some(a);
        }
        let mut sig = if class & FC_NO_PARAMS != 0 {
            Sig {
                class: 0,
                quals: 0,
                ref_qual: 0,
                cc: "",
                ret: None,
                params: None,
                variadic: false,
                noexcept: false,
                thunk: None,
            }
        } else {
            self.function_type(class & (FC_GLOBAL | FC_STATIC) == 0)?
        };
        sig.class = class;
        sig.thunk = thunk;
        Some(sig)
    }

    fn function_class(&mut self) -> P<u16> {
        const PR: u16 = FC_PRIVATE;
        const PO: u16 = FC_PROTECTED;
        const PU: u16 = FC_PUBLIC;
        Some(match self.pop()? {
            b'9' => FC_EXTERN_C | FC_NO_PARAMS,
            b'A' | b'B' => PR,
            b'C' | b'D' => PR | FC_STATIC,
            b'E' | b'F' => PR | FC_VIRTUAL,
            // (LLVM reads private thunks as not virtual)
            b'G' | b'H' => PR | FC_STATIC_ADJUST,
            b'I' | b'J' => PO,
            b'K' | b'L' => PO | FC_STATIC,
            b'M' | b'N' => PO | FC_VIRTUAL,
            b'O' | b'P' => PO | FC_VIRTUAL | FC_STATIC_ADJUST,
            b'Q' | b'R' => PU,
            b'S' | b'T' => PU | FC_STATIC,
            b'U' | b'V' => PU | FC_VIRTUAL,
            b'W' | b'X' => PU | FC_VIRTUAL | FC_STATIC_ADJUST,
            b'Y' | b'Z' => FC_GLOBAL,
            b'$' => {
                let ex = if self.eat("R") { FC_VIRTUAL_ADJUST_EX } else { 0 };
                let v = FC_VIRTUAL_ADJUST | ex | FC_VIRTUAL;
                match self.pop()? {
                    b'0' | b'1' => PR | v,
                    b'2' | b'3' => PO | v,
                    b'4' | b'5' => PU | v,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    fn function_type(&mut self, this_quals: bool) -> P<Sig> {
        self.enter()?;
        let mut quals = 0;
        let mut ref_qual = 0;
        if this_quals {
            quals = self.ext_qualifiers();
            if self.eat("G") {
                ref_qual = 1;
            } else if self.eat("H") {
                ref_qual = 2;
            }
            quals |= self.qualifiers()?.0;
        }
        let cc = self.calling_convention()?;
        let ret = if self.eat("@") {
            None
        } else {
            Some(self.ty(Mode::Result)?)
        };
        let (params, variadic) = self.parameters()?;
        let noexcept = if self.eat("_E") {
            true
        } else if self.eat("Z") {
            false
        } else {
            return None;
        };
        self.leave();
        Some(Sig {
            class: 0,
            quals,
            ref_qual,
            cc,
            ret,
            params,
            variadic,
            noexcept,
            thunk: None,
        })
    }

    fn calling_convention(&mut self) -> P<&'static str> {
        Some(match self.pop()? {
            b'A' | b'B' => "__cdecl",
            b'C' | b'D' => "__pascal",
            b'E' | b'F' => "__thiscall",
            b'G' | b'H' => "__stdcall",
            b'I' | b'J' => "__fastcall",
            b'M' | b'N' => "__clrcall",
            b'O' | b'P' => "__eabi",
            b'Q' => "__vectorcall",
            // LLVM prints no convention for a letter it does not know
            _ => "",
        })
    }

    fn parameters(&mut self) -> P<(Option<Vec<Rc<Ty>>>, bool)> {
        if self.eat("X") {
            return Some((None, false));
        }
        let mut ps = Vec::new();
        while !self.starts("@") && !self.starts("Z") {
            let c = self.peek()?;
            if c.is_ascii_digit() {
                self.pos += 1;
                ps.push(self.params.get(usize::from(c - b'0'))?.clone());
                continue;
            }
            let start = self.pos;
            let t = self.ty(Mode::Drop)?;
            // one-byte types are not remembered: a back-reference would not be shorter
            if self.params.len() < 10 && self.pos - start > 1 {
                self.params.push(t.clone());
            }
            ps.push(t);
        }
        if self.eat("@") {
            return Some((Some(ps), false));
        }
        self.eat("Z");
        Some((Some(ps), true))
    }

    /// `E` (__ptr64), `I` (__restrict), `F` (__unaligned), in any number.
    fn ext_qualifiers(&mut self) -> u8 {
        let mut q = 0;
        loop {
            if self.eat("E") {
            } else if self.eat("I") {
                q |= Q_RESTRICT;
            } else if self.eat("F") {
                q |= Q_UNALIGNED;
            } else {
                return q;
            }
        }
    }

    /// cv-qualifiers, and whether they are a member's.
    fn qualifiers(&mut self) -> P<(u8, bool)> {
        Some(match self.pop()? {
            b'Q' => (0, true),
            b'R' => (Q_CONST, true),
            b'S' => (Q_VOLATILE, true),
            b'T' => (Q_CONST | Q_VOLATILE, true),
            b'A' => (0, false),
            b'B' => (Q_CONST, false),
            b'C' => (Q_VOLATILE, false),
            b'D' => (Q_CONST | Q_VOLATILE, false),
            _ => return None,
        })
    }

    fn ty(&mut self, mode: Mode) -> P<Rc<Ty>> {
        self.enter()?;
        let r = self.ty_inner(mode);
        self.leave();
        r
    }

    fn ty_inner(&mut self, mode: Mode) -> P<Rc<Ty>> {
        let mut quals = 0;
        match mode {
            Mode::Mangle => quals = self.qualifiers()?.0,
            Mode::Result => {
                if self.eat("?") {
                    quals = self.qualifiers()?.0;
                }
            }
            Mode::Drop => {}
        }
        let c = self.peek()?;
        let t = match c {
            b'T' | b'U' | b'V' | b'W' => self.class_type()?,
            _ if self.starts("$$Q") || matches!(c, b'A' | b'P' | b'Q' | b'R' | b'S') => {
                if self.is_member_pointer()? {
                    self.member_pointer()?
                } else {
                    self.pointer()?
                }
            }
            b'Y' => self.array()?,
            _ if self.starts("$$A8@@") => {
                self.pos += 6;
                Ty {
                    quals: 0,
                    kind: TyKind::Func(Box::new(self.function_type(true)?)),
                }
            }
            _ if self.starts("$$A6") => {
                self.pos += 4;
                Ty {
                    quals: 0,
                    kind: TyKind::Func(Box::new(self.function_type(false)?)),
                }
            }
            b'?' => {
                self.pos += 1;
                let id = self.unqualified_type_name(true)?;
                if !self.eat("@") {
                    return None;
                }
                Ty {
                    quals: 0,
                    kind: TyKind::Custom(id),
                }
            }
            _ => {
                let name = self.primitive()?;
                return Some(self.prim(name, quals));
            }
        };
        Some(Rc::new(Ty {
            quals: t.quals | quals,
            kind: t.kind,
        }))
    }

    fn prim(&mut self, name: &'static str, quals: u8) -> Rc<Ty> {
        let mut free = None;
        for slot in self.prims.iter_mut() {
            match slot {
                Some(t) if t.quals == quals && matches!(t.kind, TyKind::Prim(n) if n == name) => return t.clone(),
                Some(_) => {}
                None => {
                    free = Some(slot);
                    break;
                }
            }
        }
        let t = Rc::new(Ty {
            quals,
            kind: TyKind::Prim(name),
        });
        if let Some(slot) = free {
            *slot = Some(t.clone());
        }
        t
    }

    fn primitive(&mut self) -> P<&'static str> {
        if self.eat("$$T") {
            return Some("std::nullptr_t");
        }
        let code = self.pop()?;
        builtin_name(code, || self.pop())
    }

    fn class_type(&mut self) -> P<Ty> {
        let tag = match self.pop()? {
            b'T' => "union",
            b'U' => "struct",
            b'V' => "class",
            b'W' => {
                if !self.eat("4") {
                    return None;
                }
                "enum"
            }
            _ => return None,
        };
        Some(Ty {
            quals: 0,
            kind: TyKind::Tag(tag, self.type_name()?),
        })
    }

    /// Whether the pointer here points to a member (looks ahead only).
    fn is_member_pointer(&self) -> P<bool> {
        let r = self.rest();
        let mut i = 1;
        match r.first()? {
            b'$' | b'A' => return Some(false),
            _ => {}
        }
        match r.get(i)? {
            b'6' => return Some(false),
            b'8' => return Some(true),
            c if c.is_ascii_digit() => return None,
            _ => {}
        }
        for q in [b'E', b'I', b'F'] {
            if r.get(i) == Some(&q) {
                i += 1;
            }
        }
        match r.get(i)? {
            b'A'..=b'D' => Some(false),
            b'Q'..=b'T' => Some(true),
            _ => None,
        }
    }

    /// The pointer's own qualifiers and kind.
    fn pointer_cv(&mut self) -> P<(u8, Aff)> {
        if self.eat("$$Q") {
            return Some((0, Aff::RRef));
        }
        Some(match self.pop()? {
            b'A' => (0, Aff::Ref),
            b'P' => (0, Aff::Ptr),
            b'Q' => (Q_CONST, Aff::Ptr),
            b'R' => (Q_VOLATILE, Aff::Ptr),
            b'S' => (Q_CONST | Q_VOLATILE, Aff::Ptr),
            _ => return None,
        })
    }

    fn pointer(&mut self) -> P<Ty> {
        let (q, aff) = self.pointer_cv()?;
        if self.eat("6") {
            let sig = self.function_type(false)?;
            let pointee = Rc::new(Ty {
                quals: 0,
                kind: TyKind::Func(Box::new(sig)),
            });
            return Some(Ty {
                quals: q,
                kind: TyKind::Ptr {
                    aff,
                    class: None,
                    pointee,
                },
            });
        }
        let q = q | self.ext_qualifiers();
        let pointee = self.ty(Mode::Mangle)?;
        Some(Ty {
            quals: q,
            kind: TyKind::Ptr {
                aff,
                class: None,
                pointee,
            },
        })
    }

    fn member_pointer(&mut self) -> P<Ty> {
        let (q, aff) = self.pointer_cv()?;
        let q = q | self.ext_qualifiers();
        if self.eat("8") {
            let class = self.type_name()?;
            let sig = self.function_type(true)?;
            let pointee = Rc::new(Ty {
                quals: 0,
                kind: TyKind::Func(Box::new(sig)),
            });
            return Some(Ty {
                quals: q,
                kind: TyKind::Ptr {
                    aff,
                    class: Some(class),
                    pointee,
                },
            });
        }
        let (pq, _) = self.qualifiers()?;
        let class = self.type_name()?;
        let t = self.ty(Mode::Drop)?;
        let pointee = Rc::new(Ty {
            quals: pq,
            kind: clone_kind(&t.kind),
        });
        Some(Ty {
            quals: q,
            kind: TyKind::Ptr {
                aff,
                class: Some(class),
                pointee,
            },
        })
    }

    fn array(&mut self) -> P<Ty> {
        self.pos += 1; // `Y`
        let (rank, neg) = self.number()?;
        if rank == 0 || neg {
            return None;
        }
        let mut dims = Vec::new();
        for _ in 0..rank {
            let (d, neg) = self.number()?;
            if neg {
                return None;
            }
            dims.push(d);
        }
        let mut quals = 0;
        if self.eat("$$C") {
            let (q, member) = self.qualifiers()?;
            if member {
                return None;
            }
            quals = q;
        }
        let elem = self.ty(Mode::Drop)?;
        Some(Ty {
            quals,
            kind: TyKind::Array { dims, elem },
        })
    }

    /// `<number>`: `0`-`9` for 1-10, else hex digits `A`-`P` ended by `@`; `?` negates.
    fn number(&mut self) -> P<(u64, bool)> {
        read_number(self.s, &mut self.pos)
    }

    fn signed(&mut self) -> P<i64> {
        let (v, neg) = self.number()?;
        let v = v as i64;
        Some(if neg { v.wrapping_neg() } else { v })
    }

    fn unsigned(&mut self) -> P<u64> {
        let (v, neg) = self.number()?;
        if neg {
            return None;
        }
        Some(v)
    }

    fn remember(&mut self, s: &Rc<str>) {
        if self.names.len() < 10 && !self.names.iter().any(|n| **n == **s) {
            self.names.push(s.clone());
        }
    }

    fn remember_id(&mut self, id: &Id) {
        if self.names.len() >= 10 {
            return;
        }
        let mut o = Out {
            s: String::with_capacity(32),
            depth: 0,
            over: false,
        };
        id.output(&mut o, 0);
        self.remember(&Rc::from(o.s));
    }

    fn simple_name(&mut self, memorize: bool) -> P<Rc<Id>> {
        self.simple_name_id(memorize).map(Rc::new)
    }

    fn simple_name_id(&mut self, memorize: bool) -> P<Id> {
        let len = self.rest().iter().position(|&c| c == b'@')?;
        if len == 0 {
            return None;
        }
        // (the bytes of a str are text wherever they start and end on characters)
        let s: Rc<str> = Rc::from(self.src.get(self.pos..self.pos + len)?);
        self.pos += len + 1;
        if memorize {
            self.remember(&s);
        }
        Some(Id::Named(s, None))
    }

    fn back_ref(&mut self) -> P<Rc<Id>> {
        self.back_ref_id().map(Rc::new)
    }

    fn back_ref_id(&mut self) -> P<Id> {
        let i = usize::from(self.pop()? - b'0');
        let s = self.names.get(i)?.clone();
        Some(Id::Named(s, None))
    }

    /// The name of the symbol: its own identifier and the scopes around it.
    fn symbol_name(&mut self) -> P<QName> {
        let id = self.unqualified_symbol_name(NB_SIMPLE)?;
        let mut q = self.scope_chain_rc(id)?;
        if let Id::Structor(dtor, None, args) = q.last() {
            if q.0.len() < 2 {
                return None;
            }
            let class = q.0[q.0.len() - 2].clone();
            let id = Id::Structor(*dtor, Some(class), args.as_ref().map(|a| clone_args(a)));
            let i = q.0.len() - 1;
            q.0[i] = Rc::new(id);
        }
        Some(q)
    }

    fn unqualified_symbol_name(&mut self, nb: u8) -> P<Rc<Id>> {
        let c = self.peek()?;
        if c.is_ascii_digit() {
            return self.back_ref();
        }
        if self.starts("?$") {
            return self.template_name(nb);
        }
        if c == b'?' {
            return self.identifier_code();
        }
        self.simple_name(nb & NB_SIMPLE != 0)
    }

    fn unqualified_type_name(&mut self, memorize: bool) -> P<Rc<Id>> {
        let c = self.peek()?;
        if c.is_ascii_digit() {
            return self.back_ref();
        }
        if self.starts("?$") {
            return self.template_name(NB_TEMPLATE);
        }
        self.simple_name(memorize)
    }

    fn type_name(&mut self) -> P<QName> {
        let id = self.unqualified_type_name(true)?;
        self.scope_chain_rc(id)
    }

    fn scope_chain(&mut self, id: Id) -> P<QName> {
        self.scope_chain_rc(Rc::new(id))
    }

    /// The scopes up to `@`, innermost first in the input.
    fn scope_chain_rc(&mut self, id: Rc<Id>) -> P<QName> {
        let mut v = Vec::with_capacity(4);
        v.push(id);
        while !self.eat("@") {
            self.enter()?;
            let piece = self.scope_piece();
            self.leave();
            v.push(piece?);
        }
        v.reverse();
        Some(QName(v))
    }

    fn scope_piece(&mut self) -> P<Rc<Id>> {
        let c = self.peek()?;
        if c.is_ascii_digit() {
            return self.back_ref();
        }
        if self.starts("?$") {
            return self.template_name(NB_TEMPLATE);
        }
        if self.eat("?A") {
            let len = self.rest().iter().position(|&c| c == b'@')?;
            let key: Rc<str> = Rc::from(self.src.get(self.pos..self.pos + len)?);
            self.pos += len + 1;
            // LLVM remembers the namespace's key, not its printed name
            self.remember(&key);
            return Some(Rc::new(Id::Named(Rc::from("`anonymous namespace'"), None)));
        }
        if self.local_scope_here() {
            self.pos += 1;
            let (n, _) = self.number()?;
            self.eat("?");
            let scope = self.parse()?;
            let mut o = Out {
                s: String::from("`"),
                depth: 0,
                over: false,
            };
            scope.output(&mut o, 0);
            if o.over {
                return None;
            }
            o.put("'::`");
            o.num(n, false);
            o.put("'");
            return Some(Rc::new(Id::Named(Rc::from(o.s), None)));
        }
        self.simple_name(true)
    }

    /// `?<number>?`: a scope inside a function (its discriminator, then the function).
    fn local_scope_here(&self) -> bool {
        let r = self.rest();
        if r.first() != Some(&b'?') {
            return false;
        }
        let r = &r[1..];
        let end = match r.iter().position(|&c| c == b'?') {
            Some(e) => e,
            None => return false,
        };
        let c = &r[..end];
        match c.len() {
            0 => false,
            1 => c[0] == b'@' || c[0].is_ascii_digit(),
            _ => {
                c[c.len() - 1] == b'@'
                    && (b'B'..=b'P').contains(&c[0])
                    && c[1..c.len() - 1].iter().all(|b| (b'A'..=b'P').contains(b))
            }
        }
    }

    fn template_name(&mut self, nb: u8) -> P<Rc<Id>> {
        self.pos += 2; // `?$`
                       // a template's arguments have their own back-references
        let outer_names = std::mem::take(&mut self.names);
        let outer_params = std::mem::take(&mut self.params);
        let r = self.template_name_inner();
        self.names = outer_names;
        self.params = outer_params;
        let id = r?;
        if nb & NB_TEMPLATE != 0 {
            if let Id::Conversion(..) | Id::Structor(..) = *id {
                return None;
            }
            self.remember_id(&id);
        }
        Some(id)
    }

    fn template_name_inner(&mut self) -> P<Rc<Id>> {
        // (as `unqualified_symbol_name`, the common cases not boxed only to be unboxed)
        let c = self.peek()?;
        let mut id = if c.is_ascii_digit() {
            self.back_ref_id()?
        } else if c != b'?' {
            self.simple_name_id(true)?
        } else {
            Rc::try_unwrap(self.unqualified_symbol_name(NB_SIMPLE)?).ok()?
        };
        let args = self.template_args()?;
        id.set_args(args);
        Some(Rc::new(id))
    }

    fn template_args(&mut self) -> P<Vec<Arg>> {
        let mut v = Vec::new();
        while !self.eat("@") {
            self.enter()?;
            let a = self.template_arg();
            self.leave();
            if let Some(a) = a? {
                v.push(a);
            }
        }
        Some(v)
    }

    /// One template argument; `Some(None)` for an empty pack.
    fn template_arg(&mut self) -> P<Option<Arg>> {
        for empty in ["$S", "$$V", "$$$V", "$$Z"] {
            if self.eat(empty) {
                return Some(None);
            }
        }
        let a = if self.eat("$$Y") {
            Arg::Name(self.type_name()?)
        } else if self.eat("$$B") {
            Arg::Type(self.ty(Mode::Drop)?)
        } else if self.eat("$$C") {
            Arg::Type(self.ty(Mode::Mangle)?)
        } else if self.starts("$1") || self.starts("$H") || self.starts("$I") || self.starts("$J") {
            self.pos += 1;
            let kind = self.pop()?;
            let mut sym = None;
            if self.peek() == Some(b'?') {
                let s = self.parse()?;
                let last = match &s {
                    Sym::Func(n, _) | Sym::Var(_, _, n) => n.last(),
                    _ => return None,
                };
                self.remember_id(last);
                sym = Some(Rc::new(s));
            }
            let count = match kind {
                b'J' => 3,
                b'I' => 2,
                b'H' => 1,
                _ => 0,
            };
            let mut offsets = Vec::new();
            for _ in 0..count {
                offsets.push(self.signed()?);
            }
            Arg::Ref(true, sym, offsets)
        } else if self.starts("$E?") {
            self.pos += 2;
            Arg::Ref(false, Some(Rc::new(self.parse()?)), Vec::new())
        } else if self.starts("$F") || self.starts("$G") {
            self.pos += 1;
            let count = if self.pop()? == b'G' { 3 } else { 2 };
            let mut offsets = Vec::new();
            for _ in 0..count {
                offsets.push(self.signed()?);
            }
            Arg::Ref(true, None, offsets)
        } else if self.eat("$0") {
            let (v, neg) = self.number()?;
            Arg::Int(v, neg)
        } else {
            Arg::Type(self.ty(Mode::Drop)?)
        };
        Some(Some(a))
    }

    /// `?0` constructor, `?1` destructor, `?B` conversion, `?H` operator+ ...
    fn identifier_code(&mut self) -> P<Rc<Id>> {
        self.pos += 1; // `?`
        let id = if self.eat("__") {
            let c = self.pop()?;
            if c == b'K' {
                let n = self.simple_name(false)?;
                match &*n {
                    Id::Named(s, _) => Id::Literal(s.to_string(), None),
                    _ => return None,
                }
            } else {
                Id::Intrinsic(double_under(c)?, None)
            }
        } else if self.eat("_") {
            Id::Intrinsic(under(self.pop()?)?, None)
        } else {
            match self.pop()? {
                b'0' => Id::Structor(false, None, None),
                b'1' => Id::Structor(true, None, None),
                b'B' => Id::Conversion(None, None),
                c => Id::Intrinsic(basic(c)?, None),
            }
        };
        Some(Rc::new(id))
    }
}

/// Bytes per character of a narrow literal (1, 2 or 4), from its length and its zeros.
fn char_width(bytes: &[u8], size: u64) -> usize {
    if size % 2 == 1 {
        return 1;
    }
    let n = bytes.len();
    if size < 32 {
        let trailing = bytes.iter().rev().take_while(|&&b| b == 0).count();
        if n >= 4 && trailing >= 4 && size % 4 == 0 {
            return 4;
        }
        if n >= 2 && trailing >= 2 {
            return 2;
        }
        return 1;
    }
    let nulls = bytes.iter().filter(|&&b| b == 0).count();
    if nulls >= 2 * n / 3 && size % 4 == 0 {
        return 4;
    }
    if nulls >= n / 3 {
        return 2;
    }
    1
}

/// A character of a literal as C source spells it.
fn escaped(out: &mut String, c: u32) {
    let e = match c {
        0 => "\\0",
        0x27 => "\\'",
        0x22 => "\\\"",
        0x5c => "\\\\",
        7 => "\\a",
        8 => "\\b",
        0xc => "\\f",
        0xa => "\\n",
        0xd => "\\r",
        9 => "\\t",
        0xb => "\\v",
        0x20..=0x7e => {
            out.push(c as u8 as char);
            return;
        }
        _ => {
            out.push_str("\\x");
            let digits = format!("{:X}", c);
            if digits.len() % 2 == 1 {
                out.push('0');
            }
            out.push_str(&digits);
            return;
        }
    };
    out.push_str(e);
}

#[derive(Clone, Copy)]
enum Mode {
    Drop,
    Mangle,
    Result,
}

const NB_SIMPLE: u8 = 1;
const NB_TEMPLATE: u8 = 2;

fn basic(c: u8) -> P<&'static str> {
    Some(match c {
        b'2' => "operator new",
        b'3' => "operator delete",
        b'4' => "operator=",
        b'5' => "operator>>",
        b'6' => "operator<<",
        b'7' => "operator!",
        b'8' => "operator==",
        b'9' => "operator!=",
        b'A' => "operator[]",
        b'C' => "operator->",
        b'D' => "operator*",
        b'E' => "operator++",
        b'F' => "operator--",
        b'G' => "operator-",
        b'H' => "operator+",
        b'I' => "operator&",
        b'J' => "operator->*",
        b'K' => "operator/",
        b'L' => "operator%",
        b'M' => "operator<",
        b'N' => "operator<=",
        b'O' => "operator>",
        b'P' => "operator>=",
        b'Q' => "operator,",
        b'R' => "operator()",
        b'S' => "operator~",
        b'T' => "operator^",
        b'U' => "operator|",
        b'V' => "operator&&",
        b'W' => "operator||",
        b'X' => "operator*=",
        b'Y' => "operator+=",
        b'Z' => "operator-=",
        _ => return None,
    })
}

fn under(c: u8) -> P<&'static str> {
    Some(match c {
        b'0' => "operator/=",
        b'1' => "operator%=",
        b'2' => "operator>>=",
        b'3' => "operator<<=",
        b'4' => "operator&=",
        b'5' => "operator|=",
        b'6' => "operator^=",
        b'9' => "`vcall'",
        b'A' => "`typeof'",
        b'B' => "`local static guard'",
        b'C' => "`string'",
        b'D' => "`vbase dtor'",
        b'E' => "`vector deleting dtor'",
        b'F' => "`default ctor closure'",
        b'G' => "`scalar deleting dtor'",
        b'H' => "`vector ctor iterator'",
        b'I' => "`vector dtor iterator'",
        b'J' => "`vector vbase ctor iterator'",
        b'K' => "`virtual displacement map'",
        b'L' => "`eh vector ctor iterator'",
        b'M' => "`eh vector dtor iterator'",
        b'N' => "`eh vector vbase ctor iterator'",
        b'O' => "`copy ctor closure'",
        b'S' => "`local vftable'",
        b'T' => "`local vftable ctor closure'",
        b'U' => "operator new[]",
        b'V' => "operator delete[]",
        b'X' => "`placement delete closure'",
        b'Y' => "`placement delete[] closure'",
        _ => return None,
    })
}

fn double_under(c: u8) -> P<&'static str> {
    Some(match c {
        b'A' => "`managed vector ctor iterator'",
        b'B' => "`managed vector dtor iterator'",
        b'C' => "`eh vector copy ctor iterator'",
        b'D' => "`eh vector vbase copy ctor iterator'",
        b'G' => "`vector copy ctor iterator'",
        b'H' => "`vector vbase copy constructor iterator'",
        b'I' => "`managed vector copy ctor iterator'",
        b'J' => "`local static thread guard'",
        b'L' => "operator co_await",
        b'M' => "operator<=>",
        _ => return None,
    })
}

fn clone_args(a: &[Arg]) -> Vec<Arg> {
    a.to_vec()
}

fn clone_kind(k: &TyKind) -> TyKind {
    match k {
        TyKind::Prim(s) => TyKind::Prim(s),
        TyKind::Tag(t, n) => TyKind::Tag(t, n.clone()),
        TyKind::Custom(i) => TyKind::Custom(i.clone()),
        TyKind::Ptr { aff, class, pointee } => TyKind::Ptr {
            aff: *aff,
            class: class.clone(),
            pointee: pointee.clone(),
        },
        TyKind::Array { dims, elem } => TyKind::Array {
            dims: dims.clone(),
            elem: elem.clone(),
        },
        TyKind::Func(s) => TyKind::Func(Box::new(Sig {
            class: s.class,
            quals: s.quals,
            ref_qual: s.ref_qual,
            cc: s.cc,
            ret: s.ret.clone(),
            params: s.params.clone(),
            variadic: s.variadic,
            noexcept: s.noexcept,
            thunk: s.thunk,
        })),
    }
}

/// The builtin type coded `code` (`_` and then `ext()` for the extended ones), as both the
/// parser and the fast path (`demangle_msvc_fast`) name it; `std::nullptr_t` (`$$T`) is
/// the parser's own.
#[inline]
pub(super) fn builtin_name(code: u8, ext: impl FnOnce() -> Option<u8>) -> Option<&'static str> {
    Some(match code {
        b'X' => "void",
        b'D' => "char",
        b'C' => "signed char",
        b'E' => "unsigned char",
        b'F' => "short",
        b'G' => "unsigned short",
        b'H' => "int",
        b'I' => "unsigned int",
        b'J' => "long",
        b'K' => "unsigned long",
        b'M' => "float",
        b'N' => "double",
        b'O' => "long double",
        b'_' => match ext()? {
            b'N' => "bool",
            b'J' => "__int64",
            b'K' => "unsigned __int64",
            b'W' => "wchar_t",
            b'Q' => "char8_t",
            b'S' => "char16_t",
            b'U' => "char32_t",
            _ => return None,
        },
        _ => return None,
    })
}

/// `<number>` at `s[*pos..]`, `pos` moved past what it read: `0`-`9` for 1-10, else hex
/// digits `A`-`P` ended by `@`; a leading `?` negates (the value and whether negated). The
/// parser's and the fast path's (`demangle_msvc_fast`) numbers.
pub(super) fn read_number(s: &[u8], pos: &mut usize) -> Option<(u64, bool)> {
    let neg = s.get(*pos) == Some(&b'?');
    *pos += usize::from(neg);
    let first = *s.get(*pos)?;
    if first.is_ascii_digit() {
        *pos += 1;
        return Some((u64::from(first - b'0') + 1, neg));
    }
    let mut v: u64 = 0;
    let mut n = 0;
    loop {
        let c = *s.get(*pos)?;
        *pos += 1;
        match c {
            b'@' => return Some((v, neg)),
            b'A'..=b'P' => {
                n += 1;
                if n > 16 {
                    return None;
                }
                v = (v << 4) | u64::from(c - b'A');
            }
            _ => return None,
        }
    }
}

/// `v` in decimal, written at the end of `buf` (no allocation: template arguments are
/// numbers in most names).
pub(super) fn decimal(mut v: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // (ASCII digits)
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}
