//! A fast hasher for the builders' interning tables.
//!
//! std's SipHash costs a large share of a symcache build, and on wasm32-unknown-unknown
//! std has no entropy, so its keys are fixed anyway. The tables probe linearly from the
//! hash's low bits: the multiply-rotate steps alone leave those bits depending only on the
//! low bytes of each word, so sequential names (`f0`, `f1`, ... differing in their last
//! bytes) all started in a few slots and interning went quadratic. The finaliser mixes
//! every bit of the state into every bit of the result, so the low bits see the whole name.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate hashing of whole words (the scheme rustc's FxHash uses).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // MurmurHash3's 64-bit finaliser: a bijection with full avalanche, two multiplies.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// `a == b` a word at a time: slice equality is a `memcmp` call, a byte loop in wasm
/// (~1 % of a symcache build, comparing interned keys).
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    for (p, q) in (&mut x).zip(&mut y) {
        if word(p) != word(q) {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn h<T: Hash + ?Sized>(v: &T) -> u64 {
        let mut s = BuildHasherDefault::<FastHasher>::default().build_hasher();
        v.hash(&mut s);
        s.finish()
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let v: Vec<u8> = (0..40u8).collect();
        for i in 0..v.len() {
            for j in i..v.len() {
                let a = &v[i..j];
                let mut b = a.to_vec();
                assert!(super::same_bytes(a, &b));
                for k in 0..b.len() {
                    b[k] ^= 1;
                    assert!(!super::same_bytes(a, &b));
                    b[k] ^= 1;
                }
                if j < v.len() {
                    assert!(!super::same_bytes(a, &v[i..j + 1]));
                }
            }
        }
    }

    #[test]
    fn trailing_zero_bytes_and_lengths_hash_apart() {
        assert_ne!(h(b"a".as_slice()), h(b"a\0".as_slice()));
        assert_ne!(h(&b"abcdefgh"[..]), h(&b"abcdefgh\0"[..]));
        let mut m: FastMap<Vec<u8>, u32> = FastMap::default();
        for i in 0..10_000u32 {
            m.insert(i.to_string().into_bytes(), i);
        }
        assert_eq!(m.get(&b"4242"[..]), Some(&4242));
    }

    #[test]
    fn sequential_names_spread_over_the_low_bits() {
        // Names that differ only in their last bytes must not share low hash bits: the
        // interning tables probe from them. 4096 names into 4096 buckets: a uniform hash
        // fills about 63% of them; the unfinalised hash filled a handful.
        let mut used = vec![false; 4096];
        for i in 0..4096u32 {
            used[(h(format!("f{}", 100_000 + i).as_bytes()) & 4095) as usize] = true;
        }
        let filled = used.iter().filter(|&&u| u).count();
        assert!(filled > 2300, "{} of 4096 buckets", filled);
    }
}
