//! A tokenizer and function-scope extractor for generated JavaScript.
//!
//! Not a parser: one linear pass makes tokens (template literals with nesting, regex versus
//! division, comments, hashbang), a second matches brackets, a third finds functions,
//! methods, arrows and classes and names them from the tokens around them, the way
//! symbolic's scope extraction names them from the syntax tree (`Cart.total`,
//! `get o.x`, `<object>.run`, `new Cart`). Work is linear in the input: naming looks back
//! at most [`NAME_BUDGET`] tokens, and nesting deeper than [`MAX_DEPTH`] is refused.

use crate::error::{Error, ErrorKind, Result};

/// Deepest bracket and template nesting accepted (real bundles stay below 100).
pub const MAX_DEPTH: usize = 2048;
/// Most tokens in one file (bounds memory at ~32 bytes a token).
pub const MAX_TOKENS: usize = 1 << 25;
/// Tokens looked at, backwards, to name one scope; past it the scope is anonymous.
pub const NAME_BUDGET: usize = 4096;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Private,
    Punct,
    Str,
    Num,
    Template,
    Regex,
}

/// A position in the generated file: 0-based line and UTF-16 column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// 0-based line.
    pub line: u32,
    /// 0-based column in UTF-16 code units.
    pub col: u32,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: u32,
    end: u32,
    pos: Pos,
    end_pos: Pos,
    /// A line break between this token and the one before.
    nl_before: bool,
    /// Punctuator bytes packed little-endian (0 for other kinds).
    punct: u32,
}

const fn p(s: &[u8]) -> u32 {
    let mut v = 0u32;
    let mut i = 0;
    while i < s.len() {
        v |= (s[i] as u32) << (8 * i);
        i += 1;
    }
    v
}

const PUNCTS: &[&[u8]] = &[
    b">>>=", b"...", b"===", b"!==", b"**=", b"<<=", b">>=", b">>>", b"&&=", b"||=", b"??=", b"=>", b"==", b"!=",
    b"<=", b">=", b"&&", b"||", b"??", b"++", b"--", b"+=", b"-=", b"*=", b"/=", b"%=", b"&=", b"|=", b"^=", b"<<",
    b">>", b"**",
];

const ASSIGNS: &[u32] = &[
    p(b"="),
    p(b"+="),
    p(b"-="),
    p(b"*="),
    p(b"/="),
    p(b"%="),
    p(b"**="),
    p(b"<<="),
    p(b">>="),
    p(b">>>="),
    p(b"&="),
    p(b"|="),
    p(b"^="),
    p(b"&&="),
    p(b"||="),
    p(b"??="),
];

/// Keywords after which `/` starts a regular expression (and `{` an object).
const EXPR_KEYWORDS: &[&[u8]] = &[
    b"return",
    b"typeof",
    b"instanceof",
    b"in",
    b"of",
    b"new",
    b"delete",
    b"void",
    b"throw",
    b"case",
    b"do",
    b"else",
    b"yield",
    b"await",
    b"extends",
];

/// Keywords that end the expression a function sits in (its name is not looked for further).
const STATEMENT_KEYWORDS: &[&[u8]] = &[
    b"return", b"throw", b"else", b"do", b"case", b"default", b"export", b"var", b"let", b"const", b"if", b"for",
    b"while", b"with", b"switch", b"try", b"catch", b"finally",
];

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$' || b == b'\\' || b >= 0x80
}

fn is_ident_part(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    pos: Pos,
    toks: Vec<Tok>,
    nl: bool,
    /// Open `{` / `${` while lexing: true for a template substitution.
    braces: Vec<bool>,
    /// Per open `{`: whether its `}` ends a block (then `/` after it is a regex).
    block: Vec<bool>,
}

fn too_deep() -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!("JavaScript nested deeper than {} levels", MAX_DEPTH),
    )
}

impl<'a> Lexer<'a> {
    /// Advances one byte, keeping the line and UTF-16 column.
    fn bump(&mut self) {
        let b = self.s[self.i];
        self.i += 1;
        match b {
            b'\n' => self.newline(),
            b'\r' => {
                if self.s.get(self.i) != Some(&b'\n') {
                    self.newline()
                }
            }
            0xE2 if matches!(self.s.get(self.i..self.i + 2), Some([0x80, 0xA8 | 0xA9])) => {
                self.i += 2;
                self.newline();
            }
            _ if b & 0xC0 == 0x80 => {}
            _ if b >= 0xF0 => self.pos.col += 2,
            _ => self.pos.col += 1,
        }
    }

    fn newline(&mut self) {
        self.pos.line += 1;
        self.pos.col = 0;
        self.nl = true;
    }

    fn peek(&self, k: usize) -> u8 {
        self.s.get(self.i + k).copied().unwrap_or(0)
    }

    fn push(&mut self, kind: Kind, start: usize, start_pos: Pos, punct: u32) -> Result<()> {
        if self.toks.len() >= MAX_TOKENS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("more than {} JavaScript tokens", MAX_TOKENS),
            ));
        }
        self.toks.push(Tok {
            kind,
            start: start as u32,
            end: self.i as u32,
            pos: start_pos,
            end_pos: self.pos,
            nl_before: self.nl,
            punct,
        });
        self.nl = false;
        Ok(())
    }

    fn last(&self) -> Option<&Tok> {
        self.toks.last()
    }

    fn text(&self, t: &Tok) -> &'a [u8] {
        &self.s[t.start as usize..t.end as usize]
    }

    /// Whether a `/` here starts a regular expression rather than a division.
    fn regex_allowed(&self) -> bool {
        match self.last() {
            None => true,
            Some(t) => match t.kind {
                Kind::Ident => EXPR_KEYWORDS.contains(&self.text(t)),
                Kind::Punct => {
                    if t.punct == p(b")") || t.punct == p(b"]") || t.punct == p(b"++") || t.punct == p(b"--") {
                        false
                    } else if t.punct == p(b"}") {
                        // set by the `}` arm: a closed block allows a regex
                        t.end_pos.col == NONE
                    } else {
                        true
                    }
                }
                _ => false,
            },
        }
    }

    /// Whether a `{` here opens an expression (object literal) rather than a block.
    fn brace_is_object(&self) -> bool {
        match self.last() {
            None => false,
            Some(t) => match t.kind {
                Kind::Ident => {
                    EXPR_KEYWORDS.contains(&self.text(t)) && self.text(t) != b"else" && self.text(t) != b"do"
                }
                Kind::Punct => {
                    !(t.punct == p(b")")
                        || t.punct == p(b"{")
                        || t.punct == p(b"}")
                        || t.punct == p(b";")
                        || t.punct == p(b"=>"))
                }
                _ => false,
            },
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            let b = self.peek(0);
            if b == b' ' || b == b'\t' || b == b'\n' || b == b'\r' || b == 0x0B || b == 0x0C {
                self.bump();
            } else if b == 0xC2 && self.peek(1) == 0xA0 || b == 0xEF && self.peek(1) == 0xBB && self.peek(2) == 0xBF {
                // NBSP and BOM are white space; the column counts them like any character
                let n = if b == 0xC2 { 2 } else { 3 };
                for _ in 0..n {
                    self.bump();
                }
            } else if b == 0xE2 && self.peek(1) == 0x80 && matches!(self.peek(2), 0xA8 | 0xA9) {
                self.bump();
            } else if b == b'/' && self.peek(1) == b'/' {
                while self.i < self.s.len() && !matches!(self.peek(0), b'\n' | b'\r') {
                    if self.peek(0) == 0xE2 && self.peek(1) == 0x80 && matches!(self.peek(2), 0xA8 | 0xA9) {
                        break;
                    }
                    self.bump();
                }
            } else if b == b'/' && self.peek(1) == b'*' {
                self.bump();
                self.bump();
                while self.i < self.s.len() && !(self.peek(0) == b'*' && self.peek(1) == b'/') {
                    self.bump();
                }
                if self.i < self.s.len() {
                    self.bump();
                    self.bump();
                }
            } else {
                return;
            }
        }
    }

    /// A template chunk from just after `` ` `` or `}` to `${` (pushed) or the closing `` ` ``.
    fn template_chunk(&mut self, start: usize, start_pos: Pos) -> Result<()> {
        while self.i < self.s.len() {
            match self.peek(0) {
                b'\\' => {
                    self.bump();
                    if self.i < self.s.len() {
                        self.bump();
                    }
                }
                b'`' => {
                    self.bump();
                    return self.push(Kind::Template, start, start_pos, 0);
                }
                b'$' if self.peek(1) == b'{' => {
                    self.push(Kind::Template, start, start_pos, 0)?;
                    let (s2, p2) = (self.i, self.pos);
                    self.bump();
                    self.bump();
                    if self.braces.len() >= MAX_DEPTH {
                        return Err(too_deep());
                    }
                    self.braces.push(true);
                    self.block.push(false);
                    return self.push(Kind::Punct, s2, p2, p(b"${"));
                }
                _ => self.bump(),
            }
        }
        self.push(Kind::Template, start, start_pos, 0)
    }

    fn run(&mut self) -> Result<()> {
        if self.s.starts_with(b"#!") {
            while self.i < self.s.len() && !matches!(self.peek(0), b'\n' | b'\r') {
                self.bump();
            }
        }
        loop {
            self.skip_trivia();
            if self.i >= self.s.len() {
                return Ok(());
            }
            let (start, start_pos) = (self.i, self.pos);
            let b = self.peek(0);
            if is_ident_start(b) {
                while self.i < self.s.len() && is_ident_part(self.peek(0)) {
                    if self.peek(0) == 0xC2 && self.peek(1) == 0xA0
                        || self.peek(0) == 0xE2 && self.peek(1) == 0x80 && matches!(self.peek(2), 0xA8 | 0xA9)
                    {
                        break;
                    }
                    self.bump();
                }
                self.push(Kind::Ident, start, start_pos, 0)?;
            } else if b == b'#' {
                self.bump();
                while self.i < self.s.len() && is_ident_part(self.peek(0)) {
                    self.bump();
                }
                self.push(Kind::Private, start, start_pos, 0)?;
            } else if b.is_ascii_digit() || b == b'.' && self.peek(1).is_ascii_digit() {
                let hex = b == b'0' && matches!(self.peek(1), b'x' | b'X' | b'b' | b'B' | b'o' | b'O');
                while self.i < self.s.len() {
                    let c = self.peek(0);
                    if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
                        self.bump();
                        if !hex && (c == b'e' || c == b'E') && matches!(self.peek(0), b'+' | b'-') {
                            self.bump();
                        }
                    } else {
                        break;
                    }
                }
                self.push(Kind::Num, start, start_pos, 0)?;
            } else if b == b'"' || b == b'\'' {
                self.bump();
                while self.i < self.s.len() {
                    let c = self.peek(0);
                    if c == b'\\' {
                        self.bump();
                        if self.i < self.s.len() {
                            self.bump();
                        }
                    } else if c == b || c == b'\n' || c == b'\r' {
                        if c == b {
                            self.bump();
                        }
                        break;
                    } else {
                        self.bump();
                    }
                }
                self.push(Kind::Str, start, start_pos, 0)?;
            } else if b == b'`' {
                self.bump();
                self.template_chunk(start, start_pos)?;
            } else if b == b'/' && self.regex_allowed() && self.regex_end().is_some() {
                let end = self.regex_end().unwrap_or(self.i + 1);
                while self.i < end {
                    self.bump();
                }
                while self.i < self.s.len() && is_ident_part(self.peek(0)) {
                    self.bump();
                }
                self.push(Kind::Regex, start, start_pos, 0)?;
            } else if b == b'{' {
                if self.braces.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                let object = self.brace_is_object();
                self.braces.push(false);
                self.block.push(!object);
                self.bump();
                self.push(Kind::Punct, start, start_pos, p(b"{"))?;
            } else if b == b'}' {
                let template = self.braces.pop().unwrap_or(false);
                let block = self.block.pop().unwrap_or(true);
                self.bump();
                self.push(Kind::Punct, start, start_pos, p(b"}"))?;
                if template {
                    let (s2, p2) = (self.i, self.pos);
                    self.template_chunk(s2, p2)?;
                } else if block {
                    // remembered for `regex_allowed`: a block's `}` is followed by a statement
                    if let Some(t) = self.toks.last_mut() {
                        t.end_pos.col = NONE;
                    }
                }
            } else {
                let rest = &self.s[self.i..];
                let len = PUNCTS.iter().find(|q| rest.starts_with(q)).map_or(1, |q| q.len());
                // `?.` is optional chaining unless a digit follows (`a?.5:b`)
                let len = if rest.starts_with(b"?.") && !rest.get(2).map_or(false, |c| c.is_ascii_digit()) {
                    2
                } else {
                    len
                };
                let code = p(&rest[..len]);
                for _ in 0..len {
                    self.bump();
                }
                self.push(Kind::Punct, start, start_pos, code)?;
            }
        }
    }

    /// End (after the closing `/`) of a regular expression starting here, if it is one.
    fn regex_end(&self) -> Option<usize> {
        let mut j = self.i + 1;
        let mut class = false;
        while j < self.s.len() {
            match self.s[j] {
                b'\\' => j += 1,
                b'\n' | b'\r' => return None,
                b'[' => class = true,
                b']' => class = false,
                b'/' if !class => return Some(j + 1),
                _ => {}
            }
            j += 1;
        }
        None
    }
}

/// One part of a scope's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// An identifier of the generated file, by token: mapped through the source map.
    Ident(u32),
    /// Fixed text (`.`, `new `, `get `, `<computed>`, a quoted key).
    Text(String),
}

/// A function scope: its generated range and, when one was found, its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Where the scope starts (first token of the function, class or arrow).
    pub start: Pos,
    /// Just after its last token.
    pub end: Pos,
    /// The name's parts; `None` for an anonymous function.
    pub name: Option<Vec<Part>>,
}

/// Tokens and scopes of one generated file.
pub struct Extracted<'a> {
    src: &'a [u8],
    toks: Vec<Tok>,
    /// The scopes in order of their start.
    pub scopes: Vec<Scope>,
}

impl<'a> Extracted<'a> {
    /// The text of the token an [`Part::Ident`] names.
    pub fn ident_text(&self, tok: u32) -> &'a str {
        let t = &self.toks[tok as usize];
        std::str::from_utf8(&self.src[t.start as usize..t.end as usize]).unwrap_or("")
    }

    /// Start and end position of a token.
    pub fn ident_range(&self, tok: u32) -> (Pos, Pos) {
        let t = &self.toks[tok as usize];
        (t.pos, t.end_pos)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Brace {
    Block,
    Object,
    Class,
    Body,
    Params,
    Other,
}

struct Walker<'a> {
    src: &'a [u8],
    toks: &'a [Tok],
    /// Matching bracket of each opener/closer, else NONE.
    mate: Vec<u32>,
    /// Innermost open bracket around each token, else NONE.
    parent: Vec<u32>,
    kind: Vec<Brace>,
    /// For a class body `{`: the `class` token.
    class_of: Vec<u32>,
    scopes: Vec<(u32, u32, Option<Vec<Part>>)>,
}

impl<'a> Walker<'a> {
    fn text(&self, i: usize) -> &'a [u8] {
        let t = &self.toks[i];
        &self.src[t.start as usize..t.end as usize]
    }

    fn is(&self, i: usize, punct: &[u8]) -> bool {
        i < self.toks.len() && self.toks[i].kind == Kind::Punct && self.toks[i].punct == p(punct)
    }

    fn word(&self, i: usize, w: &[u8]) -> bool {
        i < self.toks.len() && self.toks[i].kind == Kind::Ident && self.text(i) == w
    }

    /// Whether token `i` is a keyword used as a property name (`a.function`, `{class: 1}`).
    fn is_property(&self, i: usize) -> bool {
        (i > 0 && (self.is(i - 1, b".") || self.is(i - 1, b"?."))) || self.is(i + 1, b":") && !self.is(i + 1, b"?")
    }

    fn mate(&self, i: usize) -> usize {
        match self.mate[i] {
            NONE => self.toks.len() - 1,
            m => m as usize,
        }
    }

    fn ends_expression(&self, i: usize) -> bool {
        let t = &self.toks[i];
        match t.kind {
            Kind::Ident => !STATEMENT_KEYWORDS.contains(&self.text(i)) && !EXPR_KEYWORDS.contains(&self.text(i)),
            Kind::Punct => {
                t.punct == p(b")")
                    || t.punct == p(b"]")
                    || t.punct == p(b"}")
                    || t.punct == p(b"++")
                    || t.punct == p(b"--")
            }
            _ => true,
        }
    }

    fn key_part(&self, k: usize) -> Part {
        match self.toks[k].kind {
            Kind::Ident => Part::Ident(k as u32),
            Kind::Private => Part::Text(String::from_utf8_lossy(self.text(k)).into_owned()),
            Kind::Str => {
                let t = self.text(k);
                let inner = if t.len() >= 2 { &t[1..t.len() - 1] } else { t };
                Part::Text(format!("<\"{}\">", String::from_utf8_lossy(inner)))
            }
            Kind::Num => Part::Text(format!("<{}>", String::from_utf8_lossy(self.text(k)))),
            _ => Part::Text("<computed>".into()),
        }
    }

    fn record(&mut self, start: usize, end: usize, name: Option<Vec<Part>>) {
        self.scopes.push((start as u32, end as u32, name));
    }

    /// Name of the members of the class whose `class` keyword is token `c`.
    fn class_name(&self, c: usize) -> Option<Vec<Part>> {
        let own = if self.toks.get(c + 1).map_or(false, |t| t.kind == Kind::Ident) && !self.word(c + 1, b"extends") {
            Some(c + 1)
        } else {
            None
        };
        let declaration = c == 0 || {
            let q = c - 1;
            self.is(q, b";")
                || self.is(q, b"{")
                || self.is(q, b"}") && self.kind_of_closer(q) != Brace::Object
                || self.toks[c].nl_before && self.ends_expression(q)
        };
        match (own, declaration) {
            (Some(o), true) => Some(vec![Part::Ident(o as u32)]),
            (Some(o), false) => {
                let mut name = self.infer(c, Vec::new()).unwrap_or_default();
                if !name.is_empty() {
                    name.push(Part::Text(".".into()));
                }
                name.push(Part::Ident(o as u32));
                Some(name)
            }
            (None, _) => self.infer(c, Vec::new()),
        }
    }

    fn kind_of_closer(&self, q: usize) -> Brace {
        match self.mate[q] {
            NONE => Brace::Other,
            m => self.kind[m as usize],
        }
    }

    /// `a.b.c` / `this.x` / `x[0].y` ending at token `e` (the target of an assignment).
    fn member_chain(&self, e: usize) -> Option<Vec<Part>> {
        let mut parts: Vec<Part> = Vec::new();
        let mut j = e;
        loop {
            let t = &self.toks[j];
            if t.kind == Kind::Ident {
                if self.text(j) == b"this" {
                    parts.push(Part::Text("this".into()));
                } else if STATEMENT_KEYWORDS.contains(&self.text(j)) || EXPR_KEYWORDS.contains(&self.text(j)) {
                    return None;
                } else {
                    parts.push(Part::Ident(j as u32));
                }
                if j >= 1 && self.is(j - 1, b".") && j >= 2 {
                    parts.push(Part::Text(".".into()));
                    j -= 2;
                    continue;
                }
                break;
            } else if self.is(j, b"]") && self.mate[j] != NONE && self.mate[j] as usize >= 1 {
                let o = self.mate[j] as usize;
                if o + 2 == j && self.toks[o + 1].kind == Kind::Ident {
                    // `x[name]`: the identifier is mapped like any other
                    parts.push(Part::Text("]".into()));
                    parts.push(Part::Ident((o + 1) as u32));
                    parts.push(Part::Text("[".into()));
                } else if o + 2 == j && matches!(self.toks[o + 1].kind, Kind::Num | Kind::Str) {
                    let inner = &self.src[self.toks[o].start as usize..self.toks[j].end as usize];
                    parts.push(Part::Text(String::from_utf8_lossy(inner).into_owned()));
                } else {
                    parts.push(Part::Text("[<computed>]".into()));
                }
                j = o - 1;
                continue;
            } else {
                return None;
            }
        }
        parts.reverse();
        Some(parts)
    }

    /// The name the context gives an expression starting at token `s` (a function, arrow,
    /// class or object literal), with `suffix` (innermost first) already collected.
    fn infer(&self, s: usize, mut suffix: Vec<Vec<Part>>) -> Option<Vec<Part>> {
        let join = |mut head: Vec<Part>, suffix: Vec<Vec<Part>>| {
            for part in suffix.into_iter().rev() {
                if !head.is_empty() {
                    head.push(Part::Text(".".into()));
                }
                head.extend(part);
            }
            head
        };
        let mut j = s;
        let mut left_object = self.kind[s] == Brace::Object && !suffix.is_empty();
        for _ in 0..NAME_BUDGET {
            if j == 0 {
                break;
            }
            let t = j - 1;
            let tok = &self.toks[t];
            if self.toks[j].nl_before && self.ends_expression(t) && self.toks[j].kind == Kind::Ident && t + 1 == j {
                break; // a new statement after an automatic semicolon
            }
            if tok.kind == Kind::Punct {
                let c = tok.punct;
                if c == p(b")") || c == p(b"]") || c == p(b"}") {
                    if c == p(b"}") && !matches!(self.kind_of_closer(t), Brace::Object | Brace::Other) {
                        break;
                    }
                    if self.mate[t] == NONE {
                        break;
                    }
                    j = self.mate[t] as usize;
                    continue;
                }
                if c == p(b"(") || c == p(b"[") || c == p(b"${") {
                    if self.kind[t] == Brace::Params {
                        return None;
                    }
                    j = t;
                    continue;
                }
                if c == p(b"{") {
                    match self.kind[t] {
                        Brace::Object => {
                            left_object = !suffix.is_empty();
                            j = t;
                            continue;
                        }
                        Brace::Class => {
                            // a class field's initializer: named after the class
                            let cls = self.class_of[t] as usize;
                            return self.class_name(cls).map(|h| join(h, suffix));
                        }
                        _ => break,
                    }
                }
                if c == p(b":") {
                    let par = self.parent[t];
                    if par != NONE && self.kind[par as usize] == Brace::Object {
                        if t >= 1 && self.toks[t - 1].kind == Kind::Ident {
                            suffix.push(vec![Part::Ident((t - 1) as u32)]);
                        }
                        j = par as usize;
                        left_object = !suffix.is_empty();
                        continue;
                    }
                    // `c ? a : f`: the consequent is a sibling; go on before the `?`
                    match self.ternary_start(t) {
                        Some(q) => j = q,
                        None => break,
                    }
                    continue;
                }
                if c == p(b",") {
                    // what comes before a comma is a sibling (argument, element, property,
                    // declarator, sequence member): go straight to the enclosing bracket
                    let par = self.parent[t];
                    if par == NONE {
                        break;
                    }
                    // the bracket itself is looked at next (a block or body ends the walk)
                    j = par as usize + 1;
                    continue;
                }
                if ASSIGNS.contains(&c) {
                    let par = self.parent[t];
                    if par != NONE && self.kind[par as usize] == Brace::Params {
                        return None;
                    }
                    if par != NONE && self.kind[par as usize] == Brace::Class {
                        let cls = self.class_of[par as usize] as usize;
                        return self.class_name(cls).map(|h| join(h, suffix));
                    }
                    if t >= 1 {
                        if let Some(head) = self.member_chain(t - 1) {
                            return Some(join(head, suffix));
                        }
                    }
                    j = t;
                    continue;
                }
                if c == p(b"=>") || c == p(b";") {
                    break;
                }
                j = t;
                continue;
            }
            if tok.kind == Kind::Ident && STATEMENT_KEYWORDS.contains(&self.text(t)) {
                break;
            }
            j = t;
        }
        if left_object && !suffix.is_empty() {
            return Some(join(vec![Part::Text("<object>".into())], suffix));
        }
        None
    }

    /// The `?` of the conditional whose `:` is token `colon`, on the same nesting level.
    fn ternary_start(&self, colon: usize) -> Option<usize> {
        let mut depth = 0u32;
        let mut j = colon;
        for _ in 0..NAME_BUDGET {
            if j == 0 {
                return None;
            }
            j -= 1;
            let t = &self.toks[j];
            if t.kind != Kind::Punct {
                continue;
            }
            let c = t.punct;
            if c == p(b")") || c == p(b"]") || c == p(b"}") {
                if self.mate[j] == NONE {
                    return None;
                }
                j = self.mate[j] as usize;
            } else if c == p(b"(") || c == p(b"[") || c == p(b"{") || c == p(b"${") || c == p(b";") {
                return None;
            } else if c == p(b":") {
                depth += 1;
            } else if c == p(b"?") {
                if depth == 0 {
                    return Some(j);
                }
                depth -= 1;
            }
        }
        None
    }

    fn run(&mut self) {
        let n = self.toks.len();
        for i in 0..n {
            let tok = self.toks[i];
            if tok.kind == Kind::Ident {
                let w = self.text(i);
                if w == b"function" && !self.is_property(i) {
                    self.function(i);
                } else if w == b"class" && !self.is_property(i) {
                    self.class(i);
                }
            } else if tok.kind == Kind::Punct && tok.punct == p(b"=>") {
                self.arrow(i);
            } else if tok.kind == Kind::Punct && tok.punct == p(b"(") && self.kind[i] != Brace::Params {
                self.method(i);
            }
        }
    }

    fn function(&mut self, i: usize) {
        let mut start = i;
        if i >= 1 && self.word(i - 1, b"async") && !self.toks[i].nl_before {
            start = i - 1;
        }
        let mut j = i + 1;
        if self.is(j, b"*") {
            j += 1;
        }
        let own = if j < self.toks.len() && self.toks[j].kind == Kind::Ident {
            j += 1;
            Some(j - 1)
        } else {
            None
        };
        if !self.is(j, b"(") {
            return;
        }
        self.kind[j] = Brace::Params;
        let close = self.mate(j);
        if !self.is(close + 1, b"{") {
            return;
        }
        self.kind[close + 1] = Brace::Body;
        let end = self.mate(close + 1);
        let declaration = start == 0 || {
            let q = start - 1;
            self.is(q, b";")
                || self.is(q, b"{") && self.kind[q] != Brace::Object
                || self.is(q, b"}") && self.kind_of_closer(q) != Brace::Object
                || self.word(q, b"default")
                || self.word(q, b"export")
                || self.toks[start].nl_before && self.ends_expression(q)
        };
        let name = match own {
            Some(o) if declaration => Some(vec![Part::Ident(o as u32)]),
            Some(o) => {
                let mut name = self.infer(start, Vec::new()).unwrap_or_default();
                // a named function expression replaces the last part of the context's name
                name.pop();
                name.push(Part::Ident(o as u32));
                Some(name)
            }
            None => self.infer(start, Vec::new()),
        };
        self.record(start, end, name);
    }

    fn class(&mut self, i: usize) {
        let mut j = i + 1;
        let mut steps = 0;
        while j < self.toks.len() && !self.is(j, b"{") && steps < NAME_BUDGET {
            if self.is(j, b"(") || self.is(j, b"[") {
                j = self.mate(j);
            }
            j += 1;
            steps += 1;
        }
        if !self.is(j, b"{") {
            return;
        }
        self.kind[j] = Brace::Class;
        self.class_of[j] = i as u32;
        let end = self.mate(j);
        let name = self.class_name(i).map(|mut n| {
            n.insert(0, Part::Text("new ".into()));
            n
        });
        self.record(i, end, name);
    }

    fn arrow(&mut self, i: usize) {
        if i == 0 {
            return;
        }
        let mut start = i - 1;
        if self.is(start, b")") {
            if self.mate[start] == NONE {
                return;
            }
            start = self.mate[start] as usize;
            self.kind[start] = Brace::Params;
        } else if self.toks[start].kind != Kind::Ident {
            return;
        }
        if start >= 1
            && self.word(start - 1, b"async")
            && !self.toks[start].nl_before
            && !(start >= 2 && self.is(start - 2, b"."))
        {
            start -= 1;
        }
        let end = if self.is(i + 1, b"{") {
            self.kind[i + 1] = Brace::Body;
            self.mate(i + 1)
        } else {
            self.expression_end(i + 1)
        };
        let name = self.infer(start, Vec::new());
        self.record(start, end, name);
    }

    /// Last token of the expression body of an arrow starting at `s`.
    fn expression_end(&self, s: usize) -> usize {
        let n = self.toks.len();
        let mut j = s;
        let mut last = s.min(n - 1);
        let mut pending = 0u32; // `?` awaiting their `:`
        while j < n {
            let t = &self.toks[j];
            if j > s
                && t.nl_before
                && self.ends_expression(last)
                && t.kind == Kind::Ident
                && !EXPR_KEYWORDS.contains(&self.text(j))
            {
                break;
            }
            if t.kind == Kind::Punct {
                let c = t.punct;
                if c == p(b")") || c == p(b"]") || c == p(b"}") || c == p(b";") || c == p(b",") {
                    break;
                }
                if c == p(b":") {
                    if pending == 0 {
                        break;
                    }
                    pending -= 1;
                }
                if c == p(b"?") {
                    pending += 1;
                }
                if c == p(b"(") || c == p(b"[") || c == p(b"{") || c == p(b"${") {
                    j = self.mate(j);
                    last = j;
                    j += 1;
                    continue;
                }
            }
            last = j;
            j += 1;
        }
        last
    }

    /// `key(...) {` directly inside an object literal or a class body.
    fn method(&mut self, i: usize) {
        let par = self.parent[i];
        if par == NONE || i == 0 {
            return;
        }
        let body_kind = self.kind[par as usize];
        if body_kind != Brace::Object && body_kind != Brace::Class {
            return;
        }
        let close = self.mate(i);
        if !self.is(close + 1, b"{") {
            return;
        }
        let k = i - 1;
        let key_start = if self.is(k, b"]") && self.mate[k] != NONE {
            self.mate[k] as usize
        } else if self.toks[k].kind == Kind::Ident
            && matches!(self.text(k), b"if" | b"for" | b"while" | b"switch" | b"with" | b"catch")
        {
            // `for (...) {` in a block taken for an object literal (`case 1: {`)
            return;
        } else if matches!(self.toks[k].kind, Kind::Ident | Kind::Private | Kind::Str | Kind::Num) {
            k
        } else {
            return;
        };
        self.kind[i] = Brace::Params;
        self.kind[close + 1] = Brace::Body;
        let end = self.mate(close + 1);
        let mut start = key_start;
        let mut accessor = None;
        while start > par as usize + 1 {
            let q = start - 1;
            let modifier = self.is(q, b"*")
                || self.toks[q].kind == Kind::Ident
                    && matches!(self.text(q), b"static" | b"async" | b"get" | b"set" | b"accessor");
            if !modifier {
                break;
            }
            if start == key_start && (self.word(q, b"get") || self.word(q, b"set")) {
                accessor = Some(if self.word(q, b"get") { "get " } else { "set " });
            }
            start = q;
        }
        let key = self.key_part(k);
        let key = if self.is(k, b"]") {
            Part::Text("<computed>".into())
        } else {
            key
        };
        let name = if body_kind == Brace::Class {
            if self.word(k, b"constructor") && start == key_start {
                return; // the constructor's body is the class's scope
            }
            let cls = self.class_of[par as usize] as usize;
            let key = if self.toks[k].kind == Kind::Private {
                vec![Part::Ident(k as u32)]
            } else {
                vec![key]
            };
            self.class_name(cls).map(|mut h| {
                if !h.is_empty() {
                    h.push(Part::Text(".".into()));
                }
                h.extend(key);
                h
            })
        } else if let Some(acc) = accessor {
            let mut h = self.infer(par as usize, Vec::new()).unwrap_or_default();
            if !h.is_empty() {
                h.push(Part::Text(".".into()));
            }
            h.push(key);
            Some(h).map(|mut h| {
                h.insert(0, Part::Text(acc.into()));
                h
            })
        } else {
            self.infer(par as usize, vec![vec![key]])
        };
        let name = match (accessor, body_kind) {
            (Some(acc), Brace::Class) => name.map(|mut h| {
                h.insert(0, Part::Text(acc.into()));
                h
            }),
            _ => name,
        };
        self.record(start, end, name);
    }
}

/// Tokenizes `src` and returns its function scopes (functions, methods, arrows, classes)
/// ordered by start, each well nested in the ones before it that contain its start.
pub fn extract(src: &[u8]) -> Result<Extracted<'_>> {
    let mut lx = Lexer {
        s: src,
        i: 0,
        pos: Pos { line: 0, col: 0 },
        toks: Vec::new(),
        nl: false,
        braces: Vec::new(),
        block: Vec::new(),
    };
    lx.run()?;
    let toks = lx.toks;
    for t in toks.iter().filter(|t| t.kind == Kind::Punct && t.punct == p(b"}")) {
        let _ = t;
    }
    let n = toks.len();
    let mut mate = vec![NONE; n];
    let mut parent = vec![NONE; n];
    let mut kind = vec![Brace::Other; n];
    let mut stack: Vec<u32> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        parent[i] = stack.last().copied().unwrap_or(NONE);
        if t.kind != Kind::Punct {
            continue;
        }
        let c = t.punct;
        if c == p(b"(") || c == p(b"[") || c == p(b"{") || c == p(b"${") {
            if stack.len() >= MAX_DEPTH {
                return Err(too_deep());
            }
            if c == p(b"{") {
                // the lexer's guess; functions, arrows and classes refine it below
                let object = i > 0 && {
                    let q = &toks[i - 1];
                    match q.kind {
                        Kind::Ident => {
                            let w = &src[q.start as usize..q.end as usize];
                            EXPR_KEYWORDS.contains(&w) && w != b"else" && w != b"do"
                        }
                        Kind::Punct => {
                            !(q.punct == p(b")")
                                || q.punct == p(b"{")
                                || q.punct == p(b"}")
                                || q.punct == p(b";")
                                || q.punct == p(b"=>"))
                        }
                        _ => false,
                    }
                };
                kind[i] = if object { Brace::Object } else { Brace::Block };
            }
            stack.push(i as u32);
        } else if c == p(b")") || c == p(b"]") || c == p(b"}") {
            if let Some(o) = stack.pop() {
                mate[o as usize] = i as u32;
                mate[i] = o;
            }
        }
    }
    // `}` tokens of blocks were marked by the lexer through `end_pos.col`: restore it
    let mut toks = toks;
    for t in toks.iter_mut() {
        if t.kind == Kind::Punct && t.punct == p(b"}") && t.end_pos.col == NONE {
            t.end_pos = Pos {
                line: t.pos.line,
                col: t.pos.col + 1,
            };
        }
    }
    let mut w = Walker {
        src,
        toks: &toks,
        mate,
        parent,
        kind,
        class_of: vec![NONE; n],
        scopes: Vec::new(),
    };
    w.run();
    let mut raw = std::mem::take(&mut w.scopes);
    raw.sort_by_key(|s| s.0);
    let scopes = raw
        .into_iter()
        .map(|(s, e, name)| Scope {
            start: toks[s as usize].pos,
            end: toks[e as usize].end_pos,
            name,
        })
        .collect();
    Ok(Extracted { src, toks, scopes })
}
