//! Where generated JavaScript says its source map is (ABI 11): the `sourceMappingURL` and
//! `debugId` comments, and `data:` URLs.
#![forbid(unsafe_code)]

use crate::boundary::{fail, fail_core, publish_bytes, put_out, TakenInput};
use crate::status;
use pysym_core::js::links::{debug_id, decode_data_url, sourcemap_url, units_between};
use pysym_core::js::trace::Units;
use pysym_core::sourcemap::NONE;

fn units_of(units: u32, export: &str) -> Result<Units, i32> {
    match units {
        0 => Ok(Units::Bytes),
        1 => Ok(Units::CodePoints),
        2 => Ok(Units::Utf16),
        _ => Err(fail(
            status::BAD_ARGUMENT,
            format!("{}: no such units {}", export, units),
        )),
    }
}

pub(crate) fn find(ptr: u32, len: u32, units: u32, out: u32) -> i32 {
    let input = TakenInput::new(ptr, len);
    let units = match units_of(units, "pysym_js_find_links") {
        Ok(u) => u,
        Err(code) => return code,
    };
    let text = input.bytes();
    let mut offsets = [NONE; 4];
    let mut bytes: Vec<(usize, usize)> = Vec::with_capacity(4);
    for (k, range) in [sourcemap_url(text), debug_id(text)].into_iter().enumerate() {
        if let Some(r) = range {
            bytes.push((r.start, 2 * k));
            bytes.push((r.end, 2 * k + 1));
        }
    }
    // one pass over the text for all four offsets
    bytes.sort_unstable();
    let (mut at, mut count) = (0, 0);
    for (b, slot) in bytes {
        count += units_between(text, at, b, units);
        at = b;
        offsets[slot] = count as u32;
    }
    put_out(out, &offsets);
    status::OK
}

pub(crate) fn data_url(ptr: u32, len: u32, out: u32) -> i32 {
    let input = TakenInput::new(ptr, len);
    match decode_data_url(input.bytes()) {
        Ok(bytes) => publish_bytes(&bytes, out),
        Err(e) => fail_core(e),
    }
}
