//! The CFI cache: writer ([`CfiBuilder`]) and in-place reader ([`CfiCache`]). Layout in
//! FORMAT.md beside this file.

use crate::error::{Error, ErrorKind, Result};
use std::collections::HashMap;

const MAGIC: &[u8; 4] = b"PYCF";
/// The format version (FORMAT.md, "Version history").
pub const VERSION: u32 = 2;
const HEADER: usize = 48;
const ROW: usize = 16;
const RULE: usize = 16;
const RANGE: usize = 16;
const WIN: usize = 24;

/// The rule target of the canonical frame address.
pub const CFA: u16 = 0xffff;
/// The rule target of the return address (the caller's pc).
pub const RA: u16 = 0xfffe;

/// Rows covering more than this many bytes are dropped (a damaged FDE's length).
const MAX_ROW_SPAN: u64 = 1 << 32;

/// The architecture a cache's register numbers belong to (DWARF numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Unknown: rules are kept, the walker refuses them.
    Unknown = 0,
    /// 32-bit x86 (eax 0, ecx 1, edx 2, ebx 3, esp 4, ebp 5, esi 6, edi 7, eip 8).
    X86 = 1,
    /// x86_64 (rax 0 ... rbp 6, rsp 7, r8-r15 8-15, rip 16).
    X86_64 = 2,
    /// 32-bit ARM (r0-r15; sp 13, lr 14, pc 15).
    Arm = 3,
    /// arm64 (x0-x30, sp 31; pysym numbers the pc 32).
    Arm64 = 4,
}

impl Arch {
    /// From pysym's architecture names.
    pub fn from_name(name: &str) -> Arch {
        match name {
            "x86" | "i386" | "i686" => Arch::X86,
            "x86_64" | "x86_64h" | "amd64" => Arch::X86_64,
            "arm64" | "arm64e" | "aarch64" => Arch::Arm64,
            n if n.starts_with("arm") => Arch::Arm,
            _ => Arch::Unknown,
        }
    }

    fn from_u32(v: u32) -> Arch {
        match v {
            1 => Arch::X86,
            2 => Arch::X86_64,
            3 => Arch::Arm,
            4 => Arch::Arm64,
            _ => Arch::Unknown,
        }
    }

    /// Bytes per stack word.
    pub fn word(self) -> u64 {
        match self {
            Arch::X86 | Arch::Arm => 4,
            _ => 8,
        }
    }

    /// DWARF numbers of the stack pointer and the pc.
    pub fn sp_pc(self) -> (u16, u16) {
        match self {
            Arch::X86 => (4, 8),
            Arch::X86_64 => (7, 16),
            Arch::Arm => (13, 15),
            Arch::Arm64 => (31, 32),
            Arch::Unknown => (0xfff0, 0xfff1),
        }
    }

    /// The DWARF number of a register name (Breakpad's `$rsp`, minidump context names).
    pub fn register(self, name: &str) -> Option<u16> {
        const X64: [&str; 17] = [
            "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
            "r15", "rip",
        ];
        const X86: [&str; 9] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip"];
        let name = name.strip_prefix('$').unwrap_or(name);
        let pos = |t: &[&str]| t.iter().position(|r| *r == name).map(|i| i as u16);
        let numbered = |prefix: &str, max: u16| {
            name.strip_prefix(prefix)
                .and_then(|n| n.parse::<u16>().ok())
                .filter(|n| *n <= max)
        };
        match self {
            Arch::X86_64 => pos(&X64),
            Arch::X86 => pos(&X86),
            Arch::Arm64 => match name {
                "fp" => Some(29),
                "lr" => Some(30),
                "sp" => Some(31),
                "pc" => Some(32),
                _ => numbered("x", 30),
            },
            Arch::Arm => match name {
                "fp" => Some(11),
                "ip" => Some(12),
                "sp" => Some(13),
                "lr" => Some(14),
                "pc" => Some(15),
                _ => numbered("r", 15),
            },
            Arch::Unknown => None,
        }
    }
}

/// How to recover one value of the caller (or the CFA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Not recoverable.
    Undefined,
    /// Unchanged from the callee.
    Same,
    /// The word at CFA + offset.
    AtCfa(i64),
    /// CFA + offset.
    CfaPlus(i64),
    /// The callee's value of a register.
    Register(u16),
    /// A register's value + offset (the CFA's usual rule).
    RegPlus(u16, i64),
    /// A Breakpad postfix expression: `len` bytes at `offset` in the string table.
    Expr(u32, u32),
}

impl Rule {
    fn encode(self) -> (u8, u32, i64) {
        match self {
            Rule::Undefined => (0, 0, 0),
            Rule::Same => (1, 0, 0),
            Rule::AtCfa(o) => (2, 0, o),
            Rule::CfaPlus(o) => (3, 0, o),
            Rule::Register(r) => (4, r as u32, 0),
            Rule::RegPlus(r, o) => (5, r as u32, o),
            Rule::Expr(at, len) => (6, len, at as i64),
        }
    }

    fn decode(kind: u8, reg: u32, value: i64) -> Option<Rule> {
        Some(match kind {
            0 => Rule::Undefined,
            1 => Rule::Same,
            2 => Rule::AtCfa(value),
            3 => Rule::CfaPlus(value),
            4 => Rule::Register(reg as u16),
            5 => Rule::RegPlus(reg as u16, value),
            6 => Rule::Expr(u32::try_from(value).ok()?, reg),
            _ => return None,
        })
    }
}

/// A Breakpad `STACK WIN` record (32-bit Windows frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WinRecord {
    /// Bytes of parameters the function takes.
    pub parameter_size: u32,
    /// Bytes of saved registers.
    pub saved_register_size: u32,
    /// Bytes of locals.
    pub local_size: u32,
    /// Bit 0: the function sets up ebp (`allocates_base_pointer`); bit 1: it has a program.
    pub flags: u32,
    /// The program string (offset, length in the string table).
    pub program: (u32, u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Body {
    Rules(Vec<(u16, Rule)>),
    Win(WinRecord),
}

/// Collects rows and writes a cache.
pub struct CfiBuilder {
    arch: Arch,
    /// (start, end, priority, body): a lower priority wins where rows overlap.
    rows: Vec<(u64, u64, u8, Body)>,
    strings: Vec<u8>,
    string_ids: HashMap<String, (u32, u32)>,
    code: Vec<(u64, u64)>,
    max_rows: usize,
    /// Rows left out by the limit.
    pub dropped: u64,
}

impl CfiBuilder {
    /// An empty cache of `arch`, keeping at most `max_rows` rows.
    pub fn new(arch: Arch, max_rows: usize) -> Self {
        CfiBuilder {
            arch,
            rows: Vec::new(),
            strings: Vec::new(),
            string_ids: HashMap::new(),
            code: Vec::new(),
            max_rows,
            dropped: 0,
        }
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds a string (a postfix expression) and gives its (offset, length).
    pub fn string(&mut self, s: &str) -> (u32, u32) {
        // Stored once: equal rule sets then share one body.
        if let Some(&r) = self.string_ids.get(s) {
            return r;
        }
        let r = (self.strings.len() as u32, s.len() as u32);
        self.strings.extend_from_slice(s.as_bytes());
        self.string_ids.insert(s.to_string(), r);
        r
    }

    /// Rules for `[start, end)`; `priority` 0 wins over 1 where rows overlap.
    pub fn add_rules(&mut self, start: u64, end: u64, priority: u8, mut rules: Vec<(u16, Rule)>) {
        rules.sort_by_key(|r| r.0);
        self.push(start, end, priority, Body::Rules(rules));
    }

    /// A `STACK WIN` record for `[start, end)`.
    pub fn add_win(&mut self, start: u64, end: u64, priority: u8, rec: WinRecord) {
        self.push(start, end, priority, Body::Win(rec));
    }

    fn push(&mut self, start: u64, end: u64, priority: u8, body: Body) {
        if end <= start || end - start > MAX_ROW_SPAN {
            return;
        }
        if self.rows.len() >= self.max_rows {
            self.dropped += 1;
            return;
        }
        self.rows.push((start, end, priority, body));
    }

    /// An executable range (stack scanning checks candidates against them).
    pub fn add_code(&mut self, start: u64, end: u64) {
        if start < end {
            self.code.push((start, end));
        }
    }

    /// The cache's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.rows.sort_by_key(|r| (r.0, r.2));
        self.code.sort_unstable();
        let mut code: Vec<(u64, u64)> = Vec::new();
        for (s, e) in self.code {
            match code.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => code.push((s, e)),
            }
        }
        // Rows without overlaps: a row starting inside a kept one is cut to start where
        // the kept one ends (or dropped).
        let mut kept: Vec<(u64, u64, usize)> = Vec::with_capacity(self.rows.len());
        let mut bodies: Vec<Body> = Vec::new();
        let mut body_ids: HashMap<Body, usize> = HashMap::new();
        for (s, e, _p, body) in self.rows {
            let mut s = s;
            if let Some(last) = kept.last() {
                if e <= last.1 {
                    continue;
                }
                s = s.max(last.1);
            }
            let id = match body_ids.get(&body) {
                Some(&id) => id,
                None => {
                    bodies.push(body.clone());
                    body_ids.insert(body, bodies.len() - 1);
                    bodies.len() - 1
                }
            };
            kept.push((s, e, id));
        }
        // Rule sets and WIN records laid out once each.
        let mut rules: Vec<u8> = Vec::new();
        let mut wins: Vec<u8> = Vec::new();
        let mut places: Vec<(u8, u32, u16)> = Vec::with_capacity(bodies.len());
        for b in &bodies {
            match b {
                Body::Rules(rs) => {
                    let first = (rules.len() / RULE) as u32;
                    for (target, rule) in rs.iter().take(u16::MAX as usize) {
                        let (kind, reg, value) = rule.encode();
                        rules.extend_from_slice(&target.to_le_bytes());
                        rules.push(kind);
                        rules.push(0);
                        rules.extend_from_slice(&reg.to_le_bytes());
                        rules.extend_from_slice(&value.to_le_bytes());
                    }
                    places.push((1, first, rs.len().min(u16::MAX as usize) as u16));
                }
                Body::Win(w) => {
                    let first = (wins.len() / WIN) as u32;
                    for v in [
                        w.parameter_size,
                        w.saved_register_size,
                        w.local_size,
                        w.flags,
                        w.program.0,
                        w.program.1,
                    ] {
                        wins.extend_from_slice(&v.to_le_bytes());
                    }
                    places.push((2, first, 1));
                }
            }
        }
        let mut rows: Vec<u8> = Vec::with_capacity(kept.len() * 2 * ROW);
        let mut n_rows = 0u32;
        let mut row = |rows: &mut Vec<u8>, start: u64, kind: u8, index: u32, count: u16| {
            rows.extend_from_slice(&start.to_le_bytes());
            rows.extend_from_slice(&index.to_le_bytes());
            rows.extend_from_slice(&count.to_le_bytes());
            rows.push(kind);
            rows.push(0);
            n_rows += 1;
        };
        for (i, &(s, e, id)) in kept.iter().enumerate() {
            let (kind, index, count) = places[id];
            row(&mut rows, s, kind, index, count);
            // A gap row where the next row does not start right here.
            if kept.get(i + 1).map_or(true, |n| n.0 > e) {
                row(&mut rows, e, 0, 0, 0);
            }
        }
        while self.strings.len() % 8 != 0 {
            self.strings.push(0);
        }
        let mut out = Vec::with_capacity(
            HEADER + rows.len() + rules.len() + wins.len() + code.len() * RANGE + self.strings.len(),
        );
        out.extend_from_slice(MAGIC);
        for v in [
            VERSION,
            self.arch as u32,
            n_rows,
            (rules.len() / RULE) as u32,
            (wins.len() / WIN) as u32,
            code.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.resize(HEADER, 0);
        out.extend_from_slice(&rows);
        out.extend_from_slice(&rules);
        // WIN records are 24 bytes: pad the section to 8.
        let wins_len = wins.len();
        out.extend_from_slice(&wins);
        out.resize(out.len() + (8 - wins_len % 8) % 8, 0);
        for (s, e) in code {
            out.extend_from_slice(&s.to_le_bytes());
            out.extend_from_slice(&e.to_le_bytes());
        }
        out.extend_from_slice(&self.strings);
        out
    }
}

fn bad(msg: &str) -> Error {
    Error::new(ErrorKind::InvalidSymCache, format!("CFI cache: {}", msg))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u32_at(b, at) as u64 | (u32_at(b, at + 4) as u64) << 32
}

/// A CFI cache read in place.
#[derive(Clone, Copy, Debug)]
pub struct CfiCache<'d> {
    arch: Arch,
    rows: &'d [u8],
    rules: &'d [u8],
    wins: &'d [u8],
    code: &'d [u8],
    strings: &'d [u8],
}

/// What a cache says about one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found<'d> {
    /// CFI rules (sorted by target).
    Rules(Vec<(u16, Rule)>),
    /// A `STACK WIN` record and its program.
    Win(WinRecord, &'d str),
}

impl<'d> CfiCache<'d> {
    /// Checks the header and the section sizes (not the rows: they are checked as read).
    pub fn parse(data: &'d [u8]) -> Result<CfiCache<'d>> {
        if data.len() < HEADER || &data[0..4] != MAGIC {
            return Err(bad("not a CFI cache"));
        }
        let version = u32_at(data, 4);
        if version != VERSION {
            return Err(bad(&format!(
                "format version {} (this reader knows {})",
                version, VERSION
            )));
        }
        let arch = Arch::from_u32(u32_at(data, 8));
        let counts = [
            u32_at(data, 12),
            u32_at(data, 16),
            u32_at(data, 20),
            u32_at(data, 24),
            u32_at(data, 28),
        ];
        let wins_len = counts[2] as u64 * WIN as u64;
        let sizes = [
            counts[0] as u64 * ROW as u64,
            counts[1] as u64 * RULE as u64,
            wins_len + (8 - wins_len % 8) % 8,
            counts[3] as u64 * RANGE as u64,
            counts[4] as u64,
        ];
        let mut at = HEADER as u64;
        let mut parts = [&data[0..0]; 5];
        for (i, size) in sizes.iter().enumerate() {
            let end = at + size;
            if end > data.len() as u64 {
                return Err(bad("a section runs past the end"));
            }
            parts[i] = &data[at as usize..end as usize];
            at = end;
        }
        Ok(CfiCache {
            arch,
            rows: parts[0],
            rules: parts[1],
            wins: &parts[2][..wins_len as usize],
            code: parts[3],
            strings: parts[4],
        })
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Rows (gap rows included).
    pub fn row_count(&self) -> usize {
        self.rows.len() / ROW
    }

    /// Whether the cache has any rule.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether `rel` is in an executable range; `None` when the cache lists none.
    pub fn is_code(&self, rel: u64) -> Option<bool> {
        let n = self.code.len() / RANGE;
        if n == 0 {
            return None;
        }
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if u64_at(self.code, mid * RANGE) <= rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(lo > 0 && rel < u64_at(self.code, (lo - 1) * RANGE + 8))
    }

    /// The string at (offset, len), when it is valid UTF-8 inside the table.
    pub fn string(&self, at: u32, len: u32) -> Option<&'d str> {
        let end = (at as usize).checked_add(len as usize)?;
        std::str::from_utf8(self.strings.get(at as usize..end)?).ok()
    }

    /// The rules covering `rel`; `None` where there are none (or the row is damaged).
    pub fn find(&self, rel: u64) -> Option<Found<'d>> {
        let n = self.row_count();
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if u64_at(self.rows, mid * ROW) <= rel {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let at = lo.checked_sub(1)? * ROW;
        let (index, count, kind) = (
            u32_at(self.rows, at + 8) as usize,
            u16_at(self.rows, at + 12) as usize,
            self.rows[at + 14],
        );
        // The last row is always a gap: a row without an end covers nothing.
        if lo == n {
            return None;
        }
        match kind {
            1 => {
                let end = index.checked_add(count)?;
                if end > self.rules.len() / RULE {
                    return None;
                }
                let mut out = Vec::with_capacity(count);
                for i in index..end {
                    let r = &self.rules[i * RULE..(i + 1) * RULE];
                    let value = u64_at(r, 8) as i64;
                    out.push((u16_at(r, 0), Rule::decode(r[2], u32_at(r, 4), value)?));
                }
                Some(Found::Rules(out))
            }
            2 => {
                let w = self.wins.get(index * WIN..(index + 1) * WIN)?;
                let rec = WinRecord {
                    parameter_size: u32_at(w, 0),
                    saved_register_size: u32_at(w, 4),
                    local_size: u32_at(w, 8),
                    flags: u32_at(w, 12),
                    program: (u32_at(w, 16), u32_at(w, 20)),
                };
                let prog = if rec.flags & 2 != 0 {
                    self.string(rec.program.0, rec.program.1)?
                } else {
                    ""
                };
                Some(Found::Win(rec, prog))
            }
            _ => None,
        }
    }
}
