//! Token records (ABI.md "Layouts"), written the same way for source maps and their
//! caches: one batched-lookup loop and one token-range loop for both.
#![forbid(unsafe_code)]

use crate::boundary::{fail, fail_core, host_pair, publish_result, push_u32, put_out, result_of_size, state};
use crate::status;
use pysym_core::sourcemap::{Bias, Token, NONE};
use pysym_core::Error;
use std::borrow::Cow;

const TOKEN_WORDS: usize = 6;

const NO_TOKEN: Token = Token {
    dst_line: NONE,
    dst_col: NONE,
    src: NONE,
    src_line: NONE,
    src_col: NONE,
    name: NONE,
};

fn token_words(t: &Token) -> [u32; TOKEN_WORDS] {
    if t.src == NONE {
        [t.dst_line, t.dst_col, NONE, NONE, NONE, NONE]
    } else {
        [t.dst_line, t.dst_col, t.src, t.src_line, t.src_col, t.name]
    }
}

/// The bias argument of a lookup.
pub(crate) fn bias(value: u32) -> Result<Bias, i32> {
    match value {
        0 => Ok(Bias::GreatestLowerBound),
        1 => Ok(Bias::LeastUpperBound),
        _ => Err(fail(
            status::BAD_ARGUMENT,
            format!("bias must be 0 or 1, not {}", value),
        )),
    }
}

/// `tokens` as six u32 columns one after another, after their count (column_tokens):
/// the layout `pysym_sourcemap_token_columns` writes, for hosts that hand out columns.
pub(crate) fn publish_token_columns(tokens: &[Token], out: u32) -> i32 {
    let st = state();
    st.result.clear();
    if st
        .result
        .try_reserve(4 + tokens.len().saturating_mul(4 * TOKEN_WORDS))
        .is_err()
    {
        return fail(
            status::OUT_OF_MEMORY,
            format!("cannot allocate {} token columns", tokens.len()),
        );
    }
    push_u32(&mut st.result, tokens.len() as u32);
    for field in 0..TOKEN_WORDS {
        for t in tokens {
            push_u32(&mut st.result, token_words(t)[field]);
        }
    }
    publish_result(out)
}

/// A lookup's answer: 1 and the token record in `out[0..6]`, then `extra` words, or 0
/// when nothing with a source was found.
pub(crate) fn put_found(found: Option<&Token>, extra: &[u32], out: u32) -> i32 {
    match found {
        Some(t) if t.src != NONE => {
            let mut words = [0u32; TOKEN_WORDS + 2];
            words[..TOKEN_WORDS].copy_from_slice(&token_words(t));
            words[TOKEN_WORDS..TOKEN_WORDS + extra.len()].copy_from_slice(extra);
            put_out(out, &words[..TOKEN_WORDS + extra.len()]);
            1
        }
        _ => 0,
    }
}

/// The answer a **function_names** record gives for one position; its kind is the
/// record's first word (`FUNCTION_KIND_*` in abi.toml).
pub(crate) enum FunctionAnswer<'a> {
    /// Top-level code.
    TopLevel,
    Anonymous,
    Named(Cow<'a, str>),
    /// No function map answers and there are no scopes (the hosts then name the frame
    /// another way).
    NoAnswer,
}

impl FunctionAnswer<'_> {
    fn kind(&self) -> u32 {
        match self {
            FunctionAnswer::TopLevel => 0,
            FunctionAnswer::Anonymous => 1,
            FunctionAnswer::Named(_) => 2,
            FunctionAnswer::NoAnswer => 3,
        }
    }
}

/// The **function_names** result over the `count` (line, col) pairs at `ptr`, written the
/// same way for maps and caches: `find` answers one pair.
pub(crate) fn function_names<'a>(
    ptr: u32,
    count: u32,
    out: u32,
    mut find: impl FnMut(u32, u32) -> Result<FunctionAnswer<'a>, Error>,
) -> i32 {
    let n = count as usize;
    let result = &mut state().result;
    result.clear();
    if result.try_reserve(n.saturating_mul(12)).is_err() {
        return fail(
            status::OUT_OF_MEMORY,
            format!("cannot allocate results for {} positions", n),
        );
    }
    let mut data: Vec<u8> = Vec::new();
    for i in 0..n {
        let (line, col) = host_pair(ptr, i);
        let found = match find(line, col) {
            Ok(found) => found,
            Err(e) => return fail_core(e),
        };
        let (off, len) = match &found {
            FunctionAnswer::Named(s) => {
                let off = data.len() as u32;
                data.extend_from_slice(s.as_bytes());
                (off, s.len() as u32)
            }
            _ => (0, 0),
        };
        push_u32(result, found.kind());
        push_u32(result, off);
        push_u32(result, len);
    }
    result.extend_from_slice(&data);
    publish_result(out)
}

/// A batched lookup over the `count` (line, col) pairs at `ptr`: `count` token indices,
/// then (`with_functions`) `count` function-name words, then `count` token records.
/// `find` answers one pair: the token index, function word and token, or `None`.
pub(crate) fn lookup_many(
    ptr: u32,
    count: u32,
    with_functions: bool,
    out: u32,
    mut find: impl FnMut(u32, u32) -> Result<Option<(u32, u32, Token)>, Error>,
) -> i32 {
    let n = count as usize;
    let columns = if with_functions { 2 } else { 1 };
    let result = match result_of_size(n.saturating_mul((TOKEN_WORDS + columns) * 4), || {
        format!("cannot allocate results for {} positions", n)
    }) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let (indices, rest) = result.split_at_mut(n * 4);
    let (functions, records) = rest.split_at_mut(if with_functions { n * 4 } else { 0 });
    for i in 0..n {
        let (line, col) = host_pair(ptr, i);
        let (index, function, words) = match find(line, col) {
            Ok(Some((index, f, t))) if t.src != NONE => (index, f, token_words(&t)),
            Ok(_) => (NONE, NONE, token_words(&NO_TOKEN)),
            Err(e) => return fail_core(e),
        };
        indices[i * 4..i * 4 + 4].copy_from_slice(&index.to_le_bytes());
        if with_functions {
            functions[i * 4..i * 4 + 4].copy_from_slice(&function.to_le_bytes());
        }
        let rec = &mut records[i * TOKEN_WORDS * 4..(i + 1) * TOKEN_WORDS * 4];
        for (k, w) in words.iter().enumerate() {
            rec[k * 4..k * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
    }
    publish_result(out)
}

/// A batched lookup answered with each distinct token once (distinct_lookups): the
/// number `d` of distinct tokens found, `count` slots (the position's distinct token,
/// `d` for no answer), the `d` token indices, then the `d` tokens as six u32 columns. A
/// host makes one object per distinct token straight from the columns, with no search
/// for repeats and no gather from per-position records.
///
/// `find` gives a position's token index; `token` reads the token of an index on a
/// line. Every position is searched first and the distinct tokens read afterwards: those
/// reads (five columns each, mostly cache misses on a large map) then overlap instead of
/// each waiting behind a search. A token without an original position answers nothing.
pub(crate) fn lookup_distinct(
    ptr: u32,
    count: u32,
    out: u32,
    mut find: impl FnMut(u32, u32) -> Option<u32>,
    token: impl Fn(u32, u32) -> Option<Token>,
) -> i32 {
    let n = count as usize;
    // Open addressing, (token index, slot) with NONE for a free entry: at most half full,
    // so a probe always ends.
    let cap = match n.checked_mul(2).and_then(usize::checked_next_power_of_two) {
        Some(cap) => cap.max(16),
        None => {
            return fail(
                status::OUT_OF_MEMORY,
                format!("cannot allocate lookups for {} positions", n),
            )
        }
    };
    let shift = 32 - cap.trailing_zeros();
    let mut table: Vec<(u32, u32)> = Vec::new();
    let mut slots: Vec<u32> = Vec::new();
    // (token index, line) of each distinct index, in the order first found
    let mut firsts: Vec<(u32, u32)> = Vec::new();
    if table.try_reserve_exact(cap).is_err() || slots.try_reserve_exact(n).is_err() {
        return fail(
            status::OUT_OF_MEMORY,
            format!("cannot allocate lookups for {} positions", n),
        );
    }
    table.resize(cap, (NONE, 0));
    for i in 0..n {
        let (line, col) = host_pair(ptr, i);
        let slot = match find(line, col) {
            Some(index) => {
                // Fibonacci hashing: token indices of a batch cluster.
                let mut p = (index.wrapping_mul(0x9E37_79B9) >> shift) as usize;
                loop {
                    let (key, slot) = table[p];
                    if key == index {
                        break slot;
                    }
                    if key == NONE {
                        let slot = firsts.len() as u32;
                        table[p] = (index, slot);
                        firsts.push((index, line));
                        break slot;
                    }
                    p = (p + 1) & (cap - 1);
                }
            }
            None => NONE,
        };
        slots.push(slot);
    }
    // The distinct tokens with an original position, renumbered in the same order
    // (`renumber[first]`: NONE for one without).
    let mut tokens: Vec<(u32, Token)> = Vec::with_capacity(firsts.len());
    let renumber: Vec<u32> = firsts
        .iter()
        .map(|&(index, line)| match token(index, line) {
            Some(t) if t.src != NONE => {
                tokens.push((index, t));
                tokens.len() as u32 - 1
            }
            _ => NONE,
        })
        .collect();
    let d = tokens.len();
    let result = match result_of_size(4 * (1 + n + (1 + TOKEN_WORDS) * d), || {
        format!("cannot allocate results for {} positions", n)
    }) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut at = 0;
    let mut put = |w: u32| {
        result[at..at + 4].copy_from_slice(&w.to_le_bytes());
        at += 4;
    };
    put(d as u32);
    for &s in &slots {
        let s = if s == NONE { NONE } else { renumber[s as usize] };
        put(if s == NONE { d as u32 } else { s });
    }
    for (index, _) in &tokens {
        put(*index);
    }
    for field in 0..TOKEN_WORDS {
        for (_, t) in &tokens {
            put(token_words(t)[field]);
        }
    }
    publish_result(out)
}

/// Token records of `tokens` (stopping at the first `None`) in the result buffer.
pub(crate) fn publish_tokens(tokens: impl Iterator<Item = Result<Option<Token>, Error>>, out: u32) -> i32 {
    let st = state();
    st.result.clear();
    for t in tokens {
        match t {
            Ok(Some(t)) => {
                for w in token_words(&t) {
                    push_u32(&mut st.result, w);
                }
            }
            Ok(None) => break,
            Err(e) => return fail_core(e),
        }
    }
    publish_result(out)
}
