//! One entry point for a debug file read by ranges ([`DebugFile`]), and the choice of how
//! it is read:
//!
//! - **streamed** (Breakpad text, wasm modules, PDBs): front to back or section by
//!   section in bounded windows, keeping nothing ([`source::IoSource`](super::source));
//! - **cached** (ELF, Mach-O, PE): headers, symbols and strings through a view that keeps
//!   every range read ([`io::Cached`]) for as long as the call runs;
//! - **ranged** (a symcache build of those): the cached view for headers and symbols, and
//!   the DWARF sections through a second, uncached cursor, freed as the build goes, so
//!   that most of the file is not held for the whole build.

use super::{build_cfi, build_symcache_ranged, build_symcache_streamed, object_info, object_info_streamed, ObjectInfo};
use crate::io::{File, FileError, ReadAt};
use crate::symcache::Output;
use std::cell::Cell;

/// How a call read the file (see the module's documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// In bounded windows, keeping nothing.
    Streamed,
    /// Through a view that keeps what it read.
    Cached,
    /// The cached view for headers, an uncached cursor for DWARF sections.
    Ranged,
}

/// A debug file (ELF, Mach-O, PE, Breakpad, wasm, PDB) behind a [`ReadAt`], with the
/// slice of a fat Mach-O to read (`arch`).
pub struct DebugFile<R: ReadAt> {
    file: File<R>,
    arch: Option<String>,
    view: Cell<Option<View>>,
}

impl<R: ReadAt> DebugFile<R> {
    /// A debug file read through `reader`; nothing is read until a call asks.
    pub fn open(reader: R, arch: Option<&str>) -> Self {
        DebugFile {
            file: File::new(reader),
            arch: arch.map(str::to_string),
            view: Cell::new(None),
        }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.file.size()
    }

    /// How the latest call read the file (`None` before the first).
    pub fn view(&self) -> Option<View> {
        self.view.get()
    }

    /// Identity and capabilities of the file.
    pub fn info(&self) -> Result<ObjectInfo, FileError<R::Error>> {
        let arch = self.arch.as_deref();
        let info = match object_info_streamed(&mut self.file.cursor()) {
            Some(r) => {
                self.view.set(Some(View::Streamed));
                r
            }
            None => {
                self.view.set(Some(View::Cached));
                object_info(&self.file.cached(), arch)
            }
        };
        self.file.check(info)
    }

    /// Builds the file's symcache and writes it to `out`; what the build skipped, one
    /// line per kind. Nothing is written unless the whole file was read.
    pub fn build<O: Output>(&self, out: &mut O) -> Result<Vec<String>, FileError<R::Error, O::Error>> {
        let arch = self.arch.as_deref();
        let built = match build_symcache_streamed(&mut self.file.cursor()) {
            Some(r) => {
                self.view.set(Some(View::Streamed));
                r
            }
            None => {
                self.view.set(Some(View::Ranged));
                build_symcache_ranged(&self.file.cached(), self.file.cursor(), arch)
            }
        };
        // Everything read is freed by now (the cached view with it): only the writer's
        // tables are left, and they are freed as they are written.
        let mut built = self.file.check(built)?;
        // Only the writer's tables are left: they go back as they are written, so that the
        // host's copy of the output does not come on top of them (generated-20tu.pdb: +3.2
        // MB at its peak RSS; DWARF builds are past their peak earlier, `build_core`).
        super::progress::past_peak();
        let warnings = std::mem::take(&mut built.warnings);
        built.finish_into(out).map_err(FileError::Output)?;
        Ok(warnings)
    }

    /// Builds the file's CFI cache (`unwind`, FORMAT.md).
    pub fn build_cfi(&self) -> Result<crate::unwind::build::Built, FileError<R::Error>> {
        self.view.set(Some(View::Cached));
        let built = build_cfi(&self.file.cached(), self.arch.as_deref());
        self.file.check(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::io::tests::Flaky;
    use crate::native::build_symcache;

    fn reader(data: &[u8], step: usize, fail_at: u64) -> Flaky<'_> {
        Flaky::with(data, step, fail_at)
    }

    fn gcc(name: &str, src: &str, args: &[&str]) -> Vec<u8> {
        let name = format!("debugfile-{}", name);
        crate::native::tests::gcc(&name, &[("p.c".to_string(), src.to_string())], args)
    }

    const PROGRAM: &str = "static int twice(int x) { return 2 * x; }\n\
        __attribute__((noinline)) int leaf(int x) { return twice(x) + 1; }\n\
        int main(int c, char **v) { (void)v; return leaf(c); }\n";

    const BREAKPAD: &[u8] = b"MODULE Linux x86_64 6EDC6ACDB282125843FD59DA9C81BD830 prog\n\
        FILE 0 /src/p.c\nFUNC 1130 10 0 main\n1130 8 3 0\n1138 8 4 0\nPUBLIC 1000 0 _init\n";

    #[test]
    fn the_view_follows_the_format() {
        let elf = gcc("views", PROGRAM, &["-O1", "-g"]);
        let wasm = b"\0asm\x01\0\0\0".to_vec();
        let cases: [(&[u8], View, View); 3] = [
            (BREAKPAD, View::Streamed, View::Streamed),
            (&wasm, View::Streamed, View::Streamed),
            (&elf, View::Cached, View::Ranged),
        ];
        for (data, for_info, for_build) in cases {
            let f = DebugFile::open(data, None);
            assert_eq!(f.view(), None);
            let _ = f.info();
            assert_eq!(f.view(), Some(for_info));
            let _ = f.build(&mut Vec::new());
            assert_eq!(f.view(), Some(for_build));
        }
        let f = DebugFile::open(&b"hello world, not an object"[..], None);
        match f.info() {
            Err(FileError::Format(e)) => assert_eq!(e.kind(), ErrorKind::UnsupportedObject),
            other => panic!("{:?}", other.map(|i| i.identity)),
        }
        assert_eq!(f.view(), Some(View::Cached));
    }

    /// Read in short reads through the host-style reader, a file gives the answers the
    /// in-memory parsers give for its bytes; the streamed formats never read more than a
    /// window at a time.
    #[test]
    fn answers_match_the_in_memory_parsers() {
        let elf = gcc("same", PROGRAM, &["-O1", "-g"]);
        for data in [&elf[..], BREAKPAD] {
            let want = build_symcache(data, None).unwrap().finish();
            let r = reader(data, 777, u64::MAX);
            let f = DebugFile::open(&r, None);
            let mut got = Vec::new();
            f.build(&mut got).unwrap();
            assert_eq!(got, want);
            assert_eq!(f.info().unwrap(), object_info(data, None).unwrap());
        }
        let big: Vec<u8> = BREAKPAD
            .iter()
            .copied()
            .chain(
                (0..12_000u32)
                    .flat_map(|i| format!("PUBLIC {:x} 0 f{}_{}\n", 0x2000 + i * 16, i, "x".repeat(200)).into_bytes()),
            )
            .collect();
        assert!(big.len() > 2 * super::super::source::CHUNK);
        let r = reader(&big, usize::MAX, u64::MAX);
        let f = DebugFile::open(&r, None);
        let mut got = Vec::new();
        f.build(&mut got).unwrap();
        assert_eq!(got, build_symcache(&big[..], None).unwrap().finish());
        assert!(r.largest() <= super::super::source::CHUNK, "{}", r.largest());
    }

    /// A reader failing part way makes every call fail with its error (not a malformed
    /// file, not an answer with parts missing), and nothing reaches the output.
    #[test]
    fn a_reader_failing_mid_way_is_a_read_error() {
        let elf = gcc("fail", PROGRAM, &["-O1", "-g"]);
        for data in [&elf[..], BREAKPAD] {
            let size = data.len() as u64;
            for fail_at in [0, size / 10, size / 2, size - size / 10, size - 1] {
                let r = reader(data, 4096, fail_at);
                let f = DebugFile::open(&r, None);
                let mut out = Vec::new();
                assert!(
                    matches!(f.build(&mut out), Err(FileError::Read(-4, _))),
                    "build, fail at {} of {}",
                    fail_at,
                    size
                );
                assert!(out.is_empty());
                assert!(
                    matches!(f.info(), Err(FileError::Read(-4, _))),
                    "info, fail at {} of {}",
                    fail_at,
                    size
                );
                if data == &elf[..] {
                    assert!(
                        matches!(f.build_cfi(), Err(FileError::Read(-4, _))),
                        "cfi, fail at {} of {}",
                        fail_at,
                        size
                    );
                }
            }
        }
    }

    /// The output's refusal is its own error.
    #[test]
    fn an_output_refusing_is_an_output_error() {
        struct Full;
        impl Output for Full {
            type Error = &'static str;
            fn begin(&mut self, _size: u64) -> Result<(), &'static str> {
                Err("full")
            }
            fn write(&mut self, _bytes: &[u8]) -> Result<(), &'static str> {
                Ok(())
            }
        }
        let f = DebugFile::open(BREAKPAD, None);
        assert!(matches!(f.build(&mut Full), Err(FileError::Output("full"))));
    }
}
