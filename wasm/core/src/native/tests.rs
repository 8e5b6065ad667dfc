use super::*;
use object::{Object, ObjectSection};

/// The program gcc makes of C `sources` (file name, text) with `args`, in a scratch
/// directory named after `name`.
pub(super) fn gcc(name: &str, sources: &[(String, String)], args: &[&str]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("pysym-core-{}-{}", name, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in sources {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let status = std::process::Command::new("gcc")
        .args(args)
        .args(sources.iter().map(|(file, _)| file.as_str()))
        .args(["-o", "prog"])
        .current_dir(&dir)
        .status()
        .expect("gcc runs");
    assert!(status.success());
    let bytes = std::fs::read(dir.join("prog")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    bytes
}

#[test]
fn rejects_garbage() {
    let e = object_info(&b"hello world, not an object"[..], None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedObject);
}

/// `PYSYM_TEST_OBJECT=path PYSYM_TEST_ADDRS=0x1139,... cargo test -- --ignored dump`
#[test]
#[ignore]
fn dump() {
    let path = std::env::var("PYSYM_TEST_OBJECT").unwrap();
    let data = std::fs::read(path).unwrap();
    println!("{:?}", object_info(&data[..], None).unwrap());
    let t = std::time::Instant::now();
    let bytes = build_symcache(&data[..], None).unwrap().finish();
    println!("built {} bytes in {:?}", bytes.len(), t.elapsed());
    let cache = crate::symcache::SymCache::parse(&bytes).unwrap();
    for a in std::env::var("PYSYM_TEST_ADDRS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let addr = u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap();
        println!("{:#x}: {:?}", addr, cache.lookup(addr));
    }
}

/// A `Read + Seek` over bytes that records the ranges read (what `object::ReadCache` keeps).
struct Recording {
    data: std::io::Cursor<Vec<u8>>,
    reads: std::rc::Rc<std::cell::RefCell<Vec<(u64, u64)>>>,
}

impl std::io::Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let at = self.data.position();
        let n = self.data.read(buf)?;
        self.reads.borrow_mut().push((at, n as u64));
        Ok(n)
    }
}

impl std::io::Seek for Recording {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.data.seek(to)
    }
}

/// zlib-compressed DWARF (`gcc -gz`) is read through the ranged source and freed once
/// decompressed: the caching reader never holds the compressed bytes (they would stay for
/// the whole build), and the symcache is the in-memory build's.
#[test]
fn compressed_sections_bypass_the_read_cache() {
    let src = "static int twice(int x) { return 2 * x; }\nint main(int c, char **v) { (void)v; return twice(c); }\n";
    let bytes = gcc(
        "gz",
        &[("p.c".to_string(), src.to_string())],
        &["-O1", "-g", "-gz=zlib"],
    );

    let file = object::File::parse(&bytes[..]).unwrap();
    let info = file
        .section_by_name(".debug_info")
        .unwrap()
        .compressed_file_range()
        .unwrap();
    assert_eq!(info.format, object::CompressionFormat::Zlib);
    let reads = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let cache = object::ReadCache::new(Recording {
        data: std::io::Cursor::new(bytes.clone()),
        reads: reads.clone(),
    });
    let ranged = build_symcache_ranged(&cache, std::io::Cursor::new(bytes.clone()), None)
        .unwrap()
        .finish();
    assert!(!reads.borrow().is_empty());
    for &(at, n) in reads.borrow().iter() {
        assert!(
            at + n <= info.offset || at >= info.offset + info.compressed_size,
            "read {:#x}+{:#x} through the cache",
            at,
            n
        );
    }
    assert_eq!(ranged, build_symcache(&bytes[..], None).unwrap().finish());
}

thread_local! {
    static GIVEN_BACK: std::cell::Cell<usize> = std::cell::Cell::new(0);
}

/// What a host does with pages given back (they may read as anything): garbage.
#[allow(unsafe_code)]
fn scribble(p: usize, n: usize) {
    GIVEN_BACK.with(|g| g.set(g.get() + n));
    // SAFETY: the build's own buffers (the read cache's copies, its sections), whose pages
    // it gave up; the test plays the host.
    unsafe { std::ptr::write_bytes(p as *mut u8, 0xa5, n) };
}

/// A ranged build gives back the pages of `.symtab` and of `.debug_line` behind pass 2 and
/// never reads them again: overwritten, the symcache is the in-memory build's.
#[test]
fn pages_given_back_are_not_read_again() {
    let mut sources = Vec::new();
    for f in 0..16 {
        let mut src = String::from("static int twice(int x) { return 2 * x; }\n");
        for k in 0..300 {
            src.push_str(&format!(
                "int f{}_{}(int x)\n{{\n  int y = twice(x) + {};\n  return y ^ {};\n}}\n",
                f, k, k, f
            ));
        }
        if f == 0 {
            src.push_str("int main(int c, char **v) { (void)v; return f0_1(c); }\n");
        }
        sources.push((format!("p{}.c", f), src));
    }
    let bytes = gcc("giveback", &sources, &["-O2", "-g"]);
    let file = object::File::parse(&bytes[..]).unwrap();
    let size = |name: &str| file.section_by_name(name).unwrap().size() as usize;
    let (line_size, symtab_size) = (size(".debug_line"), size(".symtab"));
    let given = ranged_build_scribbled(&bytes);
    // (more than `.symtab` holds: pages of `.debug_line` and of the rows too)
    assert!(
        given > symtab_size + line_size / 4,
        "{} bytes given back; .symtab {}, .debug_line {}",
        given,
        symtab_size,
        line_size
    );
}

/// A shared library without `.symtab` (stripped) names its code from `.dynsym`, whose
/// pages go back once read, and from `.dynstr`, whose pages go back as its names are
/// interned, as do the symbols' and the string data's as written: overwritten, the
/// symcache is the in-memory build's.
#[test]
fn dynsym_pages_given_back_are_not_read_again() {
    let mut src = String::new();
    for k in 0..12000 {
        src.push_str(&format!(
            "int exported_function_{}_of_a_shared_library(int x) {{ return x * {} + 1; }}\n",
            k, k
        ));
    }
    let bytes = gcc(
        "dynsym",
        &[("lib.c".to_string(), src)],
        &["-O1", "-shared", "-fPIC", "-s"],
    );
    let file = object::File::parse(&bytes[..]).unwrap();
    assert!(file.section_by_name(".symtab").is_none());
    let dynsym = file.section_by_name(".dynsym").unwrap().size() as usize;
    let given = ranged_build_scribbled(&bytes);
    assert!(
        given >= dynsym - 2 * 4096,
        "{} bytes given back; .dynsym {}",
        given,
        dynsym
    );
}

/// Builds `bytes` by ranges with every page given back scribbled over, checks that the
/// symcache is the in-memory build's; the bytes given back.
fn ranged_build_scribbled(bytes: &[u8]) -> usize {
    let whole = build_symcache(bytes, None).unwrap().finish();
    progress::set_discard(scribble);
    GIVEN_BACK.with(|g| g.set(0));
    let cache = object::ReadCache::new(std::io::Cursor::new(bytes.to_vec()));
    let ranged = build_symcache_ranged(&cache, std::io::Cursor::new(bytes.to_vec()), None)
        .unwrap()
        .finish();
    assert!(ranged == whole);
    GIVEN_BACK.with(|g| g.get())
}

#[test]
fn pe32_names_lose_their_c_decoration() {
    use super::demangle::demangle_pe32;
    for (raw, want) in [
        ("_main", "main"),
        ("_std_fn@8", "std_fn"),
        ("@fast_fn@8", "fast_fn"),
        ("vec_fn@@8", "vec_fn"),
        ("exp_cdecl", "exp_cdecl"),
        ("_name@x", "name@x"),
        ("__Z3foov", "foo()"),
        ("___Z3foov@4", "foo()"),
        ("?f@@YAHH@Z", "f(int)"),
    ] {
        assert_eq!(demangle_pe32(raw), want, "{}", raw);
    }
}
