//! JavaScript stack traces (ABI 10): lines parsed into frame records.
#![forbid(unsafe_code)]

use crate::boundary::{fail, host_bytes, publish_result, push_u32, state};
use crate::status;
use pysym_core::js::trace::{parse_lines, Units};

pub(crate) fn parse(ptr: u32, len: u32, max_chars: u32, units: u32, out: u32) -> i32 {
    let units = match units {
        0 => Units::Bytes,
        1 => Units::CodePoints,
        2 => Units::Utf16,
        _ => {
            return fail(
                status::BAD_ARGUMENT,
                format!("pysym_js_parse_trace: no such units {}", units),
            )
        }
    };
    let text = match std::str::from_utf8(host_bytes(ptr, len)) {
        Ok(t) => t,
        Err(e) => return fail(status::BAD_ARGUMENT, format!("the trace is not UTF-8 ({})", e)),
    };
    let mut words: Vec<u32> = Vec::new();
    parse_lines(text, max_chars as usize, units, &mut words);
    let st = state();
    st.result.clear();
    if st.result.try_reserve(words.len().saturating_mul(4)).is_err() {
        return fail(
            status::OUT_OF_MEMORY,
            format!("cannot allocate {} result words", words.len()),
        );
    }
    for w in words {
        push_u32(&mut st.result, w);
    }
    publish_result(out)
}
