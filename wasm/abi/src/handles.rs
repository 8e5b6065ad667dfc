//! The handle slab: objects kept between calls (source maps, their caches, symcaches,
//! minidumps), named to the host by a u32 handle (index and generation, never 0).

use crate::alloc::input_dealloc;
use crate::boundary::{fail, put_out};
use crate::host::HostFile;
use crate::status;
use pysym_core::js::names::ScopeNames;
use pysym_core::minidump::Minidump;
use pysym_core::sourcemap::cache::{Paged, SourceMapCache};
use pysym_core::sourcemap::SourceMap;
use pysym_core::symcache::SymCache;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// A value parsed from input memory the module took ownership of, kept with those bytes
/// (it borrows from them, hence the `'static` in its type: they outlive it).
pub(crate) struct Owned<T> {
    value: ManuallyDrop<T>,
    ptr: *mut u8,
    len: usize,
}

impl<T> Owned<T> {
    /// Parses the `len` bytes at `ptr` (allocated by `input_alloc`), taking ownership of
    /// them: they are freed with the value, or at once if `parse` fails.
    pub fn parse<E>(
        ptr: *mut u8,
        len: usize,
        parse: impl FnOnce(&'static [u8]) -> Result<T, E>,
    ) -> Result<Owned<T>, E> {
        // SAFETY: `ptr` came from `input_alloc(len)` and stays allocated until `drop`,
        // which drops the value (the only borrower) first.
        let data: &'static [u8] = if len == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(ptr, len) }
        };
        match parse(data) {
            Ok(value) => Ok(Owned {
                value: ManuallyDrop::new(value),
                ptr,
                len,
            }),
            Err(e) => {
                input_dealloc(ptr, len);
                Err(e)
            }
        }
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Owned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: the value borrows the bytes, so it goes first; then the bytes are freed
        // with the layout they were allocated with.
        unsafe { ManuallyDrop::drop(&mut self.value) };
        input_dealloc(self.ptr, self.len);
    }
}

/// A source map with the function scopes of its generated file, once the host gave it.
pub(crate) struct Map {
    pub map: SourceMap<'static>,
    pub scopes: Option<ScopeNames>,
    /// The map's `scopes` field names positions (it wins over function maps).
    pub by_field: bool,
}

/// A parsed minidump kept between calls (`pysym_minidump_open`), so that walking it does
/// not parse it again; its saved memory stays in the host's file, read at walk time.
pub(crate) struct KeptMinidump {
    pub md: Minidump,
    /// The size of the file it was parsed from: a walk refuses a file of another size.
    pub size: u64,
}

/// A source map cache: bytes the module owns (`pysym_smcache_from_bytes`), or a host file
/// read by pages (`pysym_smcache_open`).
pub(crate) enum SmCache {
    Memory(Owned<SourceMapCache<&'static [u8]>>),
    File(Box<SourceMapCache<Paged<HostFile>>>),
}

pub(crate) enum Entry {
    SourceMap(Owned<Map>),
    SmCache(SmCache),
    SymCache(Owned<SymCache<'static>>),
    Minidump(Box<KeptMinidump>),
}

/// A kind of object the slab keeps.
pub(crate) trait Kind: Sized + 'static {
    /// What a wrong handle is said not to be.
    const WHAT: &'static str;
    fn wrap(self) -> Entry;
    fn unwrap(entry: &mut Entry) -> Option<&mut Self>;
}

macro_rules! kind {
    ($t:ty, $variant:ident, $what:expr) => {
        impl Kind for $t {
            const WHAT: &'static str = $what;
            fn wrap(self) -> Entry {
                Entry::$variant(self)
            }
            fn unwrap(entry: &mut Entry) -> Option<&mut Self> {
                match entry {
                    Entry::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}

kind!(Owned<Map>, SourceMap, "source map");
kind!(SmCache, SmCache, "source map cache");
kind!(Owned<SymCache<'static>>, SymCache, "symcache");
kind!(Box<KeptMinidump>, Minidump, "minidump");

/// The object behind `handle`, or BAD_HANDLE.
pub(crate) fn get<T: Kind>(handle: u32) -> Result<&'static mut T, i32> {
    match slab().get_mut(handle).and_then(T::unwrap) {
        Some(x) => Ok(x),
        None => Err(fail(
            status::BAD_HANDLE,
            format!("no {} with handle {:#x}", T::WHAT, handle),
        )),
    }
}

/// Keeps `value`, its handle in `out[0]`.
pub(crate) fn insert<T: Kind>(value: T, out: u32) -> i32 {
    match slab().insert(value.wrap()) {
        Some(h) => {
            put_out(out, &[h]);
            status::OK
        }
        None => fail(status::LIMIT_EXCEEDED, "too many open objects"),
    }
}

/// Frees the object behind `handle` if it is a `T`.
pub(crate) fn free<T: Kind>(handle: u32) -> i32 {
    if let Err(code) = get::<T>(handle) {
        return code;
    }
    drop(slab().remove(handle));
    status::OK
}

struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

#[derive(Default)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u32 = (1 << (32 - INDEX_BITS)) - 1;

static mut SLAB: Option<Slab> = None;

fn slab() -> &'static mut Slab {
    // SAFETY: single-threaded module; no export re-enters another export.
    unsafe { SLAB.get_or_insert_with(Slab::default) }
}

impl Slab {
    fn insert(&mut self, entry: Entry) -> Option<u32> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                if self.slots.len() as u32 > INDEX_MASK {
                    return None;
                }
                self.slots.push(Slot {
                    generation: 1,
                    entry: None,
                });
                self.slots.len() as u32 - 1
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.entry = Some(entry);
        Some((slot.generation << INDEX_BITS) | index)
    }

    fn get_mut(&mut self, handle: u32) -> Option<&mut Entry> {
        let slot = self.slots.get_mut((handle & INDEX_MASK) as usize)?;
        if slot.generation != handle >> INDEX_BITS {
            return None;
        }
        slot.entry.as_mut()
    }

    fn remove(&mut self, handle: u32) -> Option<Entry> {
        let index = handle & INDEX_MASK;
        let slot = self.slots.get_mut(index as usize)?;
        if slot.generation != handle >> INDEX_BITS || slot.entry.is_none() {
            return None;
        }
        // Generation 0 is skipped so that no handle is ever 0.
        slot.generation = (slot.generation % GENERATION_MASK) + 1;
        self.free.push(index);
        slot.entry.take()
    }
}
