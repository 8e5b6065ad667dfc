;; Test module for the engine adapters (tests/engine): same imports as pysym.wasm.
(module
  (import "pysym_host" "file_size" (func $file_size (param i32 i32) (result i32)))
  (import "pysym_host" "file_read" (func $file_read (param i32 i64 i32 i32) (result i32)))
  (memory (export "memory") 1 16384)  ;; 64 KiB initial, 1 GiB maximum like pysym.wasm

  (func (export "pysym_abi_version") (result i32) (i32.const 1))

  ;; five i32 args: writes a, b, c, d, out, a+b as 6 u32 at out; returns a
  (func (export "five") (param $a i32) (param $b i32) (param $c i32) (param $d i32) (param $out i32) (result i32)
    (i32.store (local.get $out) (local.get $a))
    (i32.store offset=4 (local.get $out) (local.get $b))
    (i32.store offset=8 (local.get $out) (local.get $c))
    (i32.store offset=12 (local.get $out) (local.get $d))
    (i32.store offset=16 (local.get $out) (local.get $out))
    (i32.store offset=20 (local.get $out) (i32.add (local.get $a) (local.get $b)))
    (local.get $a))

  (func (export "echo32") (param i32) (result i32) (local.get 0))
  (func (export "echo64") (param i64) (result i64) (local.get 0))
  ;; i64 argument in the middle: returns the high 32 bits of x plus y
  (func (export "mixed") (param $a i32) (param $x i64) (param $y i32) (result i64)
    (i64.add (i64.shr_u (local.get $x) (i64.const 32)) (i64.extend_i32_u (local.get $y))))
  (func (export "nothing"))
  (func (export "zero") (result i32) (i32.const 0))

  ;; sum of the bytes at [ptr, ptr+len)
  (func $sum (export "sum") (param $ptr i32) (param $len i32) (result i64)
    (local $s i64) (local $end i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (local.set $s (i64.add (local.get $s) (i64.load8_u (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next)))
    (local.get $s))

  ;; file_size(fh) into out (u64); returns the import's status
  (func (export "size") (param $fh i32) (param $out i32) (result i32)
    (call $file_size (local.get $fh) (local.get $out)))
  ;; file_read passthrough
  (func (export "read") (param $fh i32) (param $off i64) (param $dst i32) (param $len i32) (result i32)
    (call $file_read (local.get $fh) (local.get $off) (local.get $dst) (local.get $len)))

  ;; whole-file byte sum through the imports, reading in chunks of $chunk at $buf.
  ;; returns the sum, or the (negative) status of a failing import
  (func (export "sum_file") (param $fh i32) (param $buf i32) (param $chunk i32) (result i64)
    (local $st i32) (local $size i64) (local $off i64) (local $n i32) (local $s i64)
    (local.set $st (call $file_size (local.get $fh) (local.get $buf)))
    (if (i32.lt_s (local.get $st) (i32.const 0)) (then (return (i64.extend_i32_s (local.get $st)))))
    (local.set $size (i64.load (local.get $buf)))
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $off) (local.get $size)))
        (local.set $n (call $file_read (local.get $fh) (local.get $off) (local.get $buf) (local.get $chunk)))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i64.extend_i32_s (local.get $n)))))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i64.add (local.get $s) (call $sum (local.get $buf) (local.get $n))))
        (local.set $off (i64.add (local.get $off) (i64.extend_i32_u (local.get $n))))
        (br $next)))
    (local.get $s))

  (func (export "trap") (unreachable))
  (func (export "trap_i32") (param i32) (result i32) (unreachable))
  (func (export "oob") (result i32) (i32.load (i32.const -4)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (local.get 0)) (i32.const 1)))

  ;; memory.grow by $pages; returns the old size in pages or -1
  (func (export "grow") (param $pages i32) (result i32) (memory.grow (local.get $pages)))
  (func (export "pages") (result i32) (memory.size))
  ;; store a u32 (little-endian) at ptr
  (func (export "poke") (param $ptr i32) (param $v i32) (i32.store (local.get $ptr) (local.get $v)))
  (func (export "peek") (param $ptr i32) (result i32) (i32.load (local.get $ptr)))

  (global $g (export "a_global") i32 (i32.const 7))
)
