//! Compressed downloads from symbol servers: gzip (RFC 1952, members in sequence), zstd
//! (every frame, through [`crate::zstd`]) and Microsoft cabinet files with MSZIP folders
//! (`foo.pd_`, `foo.ex_`: the first file of the cabinet).
//!
//! Everything is bounded by `limit`, the most output the caller accepts: a compression
//! bomb stops with `LimitExceeded` as soon as its output passes the limit, having
//! allocated at most about the limit.

use crate::error::{Error, ErrorKind, Result};
use miniz_oxide::inflate::core::{decompress as inflate, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// The formats [`decompress`] reads, numbered as the ABI reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// gzip members (RFC 1952)
    Gzip = 1,
    /// zstd frames (RFC 8878)
    Zstd = 2,
    /// a Microsoft cabinet file (stored or MSZIP folders)
    Cab = 3,
}

/// The format of `data` by its magic bytes, `None` when it is none of them.
pub fn detect(data: &[u8]) -> Option<Format> {
    if data.starts_with(&[0x1f, 0x8b]) {
        Some(Format::Gzip)
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Format::Zstd)
    } else if data.starts_with(b"MSCF") {
        Some(Format::Cab)
    } else {
        None
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidObject, msg)
}

fn too_large(limit: usize) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!("decompresses to more than {} bytes (the limit)", limit),
    )
}

/// Decompresses `data` whole into at most `limit` bytes.
pub fn decompress(data: &[u8], limit: usize) -> Result<(Format, Vec<u8>)> {
    let format =
        detect(data).ok_or_else(|| Error::new(ErrorKind::UnsupportedObject, "not gzip, zstd or a cabinet file"))?;
    let out = match format {
        Format::Gzip => gzip(data, limit)?,
        Format::Zstd => {
            let mut out = Vec::new();
            crate::zstd::decompress_into(data, &mut out, limit).map_err(|e| match e {
                crate::zstd::ZstdError::TooLarge { .. } => too_large(limit),
                e => invalid(e.to_string()),
            })?;
            out
        }
        Format::Cab => cab(data, limit)?,
    };
    Ok((format, out))
}

/// Inflates one raw deflate stream from `input` onto the end of `out` (whose earlier bytes
/// are the window a stream may refer back to, as MSZIP blocks do); returns the input bytes
/// used.
fn inflate_onto(out: &mut Vec<u8>, input: &[u8], limit: usize) -> Result<usize> {
    let mut dec = DecompressorOxide::new();
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut pos = out.len();
    let mut used = 0usize;
    loop {
        if out.len() == pos {
            // Grow by doubling the new part, never past the limit (+1 to notice a bomb).
            if pos > limit {
                return Err(too_large(limit));
            }
            let grow = (pos.max(1 << 16)).min(limit + 1 - pos.min(limit)).max(1);
            out.resize(pos + grow, 0);
        }
        let (st, n_in, n_out) = inflate(&mut dec, &input[used..], out, pos, flags);
        used += n_in;
        pos += n_out;
        match st {
            TINFLStatus::Done => {
                out.truncate(pos);
                if pos > limit {
                    return Err(too_large(limit));
                }
                return Ok(used);
            }
            TINFLStatus::HasMoreOutput => {
                if pos > limit {
                    return Err(too_large(limit));
                }
            }
            TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Err(invalid("deflate stream is truncated"));
            }
            _ => return Err(invalid("deflate stream is corrupt")),
        }
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *t = c;
    }
    !data
        .iter()
        .fold(!0u32, |c, &b| table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

fn gzip(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let m = &data[pos..];
        if m.len() < 18 || m[0] != 0x1f || m[1] != 0x8b {
            if pos > 0 && m.iter().all(|&b| b == 0) {
                break; // padding after the last member (tar and some servers add it)
            }
            return Err(invalid(format!("gzip: no member header at offset {}", pos)));
        }
        if m[2] != 8 {
            return Err(invalid(format!("gzip: compression method {} (only deflate)", m[2])));
        }
        let flags = m[3];
        let mut h = 10usize;
        if flags & 4 != 0 {
            let xlen = usize::from(u16::from_le_bytes([m[h], m[h + 1]]));
            h += 2 + xlen;
        }
        for bit in [8u8, 16] {
            if flags & bit != 0 {
                let end = m
                    .get(h..)
                    .and_then(|s| s.iter().position(|&b| b == 0))
                    .ok_or_else(|| invalid("gzip: unterminated name or comment"))?;
                h += end + 1;
            }
        }
        if flags & 2 != 0 {
            h += 2;
        }
        if h + 8 > m.len() {
            return Err(invalid("gzip: truncated header"));
        }
        let start = out.len();
        let used = inflate_onto(&mut out, &m[h..], limit)?;
        let t = h + used;
        if t + 8 > m.len() {
            return Err(invalid("gzip: truncated trailer"));
        }
        let crc = u32::from_le_bytes([m[t], m[t + 1], m[t + 2], m[t + 3]]);
        let size = u32::from_le_bytes([m[t + 4], m[t + 5], m[t + 6], m[t + 7]]);
        if size != (out.len() - start) as u32 || crc != crc32(&out[start..]) {
            return Err(invalid("gzip: the trailer's size or CRC-32 does not match the data"));
        }
        pos += t + 8;
    }
    Ok(out)
}

fn u16_at(d: &[u8], at: usize) -> Result<u16> {
    d.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| invalid("cab: truncated"))
}

fn u32_at(d: &[u8], at: usize) -> Result<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| invalid("cab: truncated"))
}

/// The first file of a cabinet whose folder is stored or MSZIP-compressed.
fn cab(d: &[u8], limit: usize) -> Result<Vec<u8>> {
    let files_at = u32_at(d, 16)? as usize;
    let folders = u16_at(d, 26)?;
    let files = u16_at(d, 28)?;
    let flags = u16_at(d, 30)?;
    if folders == 0 || files == 0 {
        return Err(invalid("cab: no folder or no file"));
    }
    let mut at = 36usize;
    let (mut folder_reserve, mut data_reserve) = (0usize, 0usize);
    if flags & 4 != 0 {
        let header_reserve = usize::from(u16_at(d, 36)?);
        folder_reserve = usize::from(*d.get(38).ok_or_else(|| invalid("cab: truncated"))?);
        data_reserve = usize::from(*d.get(39).ok_or_else(|| invalid("cab: truncated"))?);
        at = 40 + header_reserve;
    }
    for bit in [1u16, 2] {
        if flags & bit != 0 {
            return Err(invalid("cab: spans several cabinets (not supported)"));
        }
    }
    // The first file names its folder and where it starts in that folder's data.
    let size = u32_at(d, files_at)? as usize;
    let offset = u32_at(d, files_at + 4)? as usize;
    let folder = usize::from(u16_at(d, files_at + 8)?);
    if folder >= usize::from(folders) {
        return Err(invalid("cab: the file's folder does not exist"));
    }
    let need = offset
        .checked_add(size)
        .ok_or_else(|| invalid("cab: file range overflows"))?;
    if need > limit {
        return Err(too_large(limit));
    }
    let f = at + folder * (8 + folder_reserve);
    let mut block = u32_at(d, f)? as usize;
    let blocks = u16_at(d, f + 4)?;
    let kind = u16_at(d, f + 6)? & 0x0f;
    if kind > 1 {
        return Err(Error::new(
            ErrorKind::UnsupportedObject,
            format!("cab: compression type {} (only stored and MSZIP)", kind),
        ));
    }
    let mut out: Vec<u8> = Vec::new();
    for _ in 0..blocks {
        if out.len() >= need {
            break;
        }
        let packed = usize::from(u16_at(d, block + 4)?);
        let unpacked = usize::from(u16_at(d, block + 6)?);
        let body = block + 8 + data_reserve;
        let src = d
            .get(body..body + packed)
            .ok_or_else(|| invalid("cab: truncated data block"))?;
        let before = out.len();
        if out.len() + unpacked > limit {
            return Err(too_large(limit));
        }
        if kind == 0 {
            if packed != unpacked {
                return Err(invalid("cab: stored block with different sizes"));
            }
            out.extend_from_slice(src);
        } else {
            if !src.starts_with(b"CK") {
                return Err(invalid("cab: MSZIP block without its CK signature"));
            }
            // One deflate stream per block; earlier blocks are its window.
            inflate_onto(&mut out, &src[2..], before + unpacked)?;
        }
        if out.len() - before != unpacked {
            return Err(invalid("cab: a block decompresses to another size than it declares"));
        }
        block = body + packed;
    }
    if out.len() < need {
        return Err(invalid("cab: the folder ends before the file does"));
    }
    out.truncate(need);
    out.drain(..offset);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn not_compressed_is_unsupported() {
        assert_eq!(
            decompress(b"\x7fELF", 100).unwrap_err().kind(),
            ErrorKind::UnsupportedObject
        );
    }

    #[test]
    fn stored_deflate_block_in_gzip() {
        // A gzip member with one stored deflate block holding "hello".
        let mut g = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 5, 0, 0xfa, 0xff];
        g.extend_from_slice(b"hello");
        g.extend_from_slice(&crc32(b"hello").to_le_bytes());
        g.extend_from_slice(&5u32.to_le_bytes());
        assert_eq!(decompress(&g, 100).unwrap(), (Format::Gzip, b"hello".to_vec()));
        assert_eq!(decompress(&g, 4).unwrap_err().kind(), ErrorKind::LimitExceeded);
        let mut bad = g.clone();
        let n = bad.len();
        bad[n - 5] ^= 1;
        assert_eq!(decompress(&bad, 100).unwrap_err().kind(), ErrorKind::InvalidObject);
        assert_eq!(
            decompress(&g[..g.len() - 3], 100).unwrap_err().kind(),
            ErrorKind::InvalidObject
        );
    }
}
