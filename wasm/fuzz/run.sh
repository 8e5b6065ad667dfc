#!/usr/bin/env bash
# Build the fuzz targets with sanitizer coverage and run each with libFuzzer.
#   wasm/fuzz/run.sh [seconds per target, default 60] [target ...]
# FUZZ_FLAGS adds libFuzzer options (e.g. "-fork=1 -ignore_crashes=1" to go on after a crash).
# Seeds: wasm/fuzz/corpus/<target>/ (committed). The growing corpus lives under
# wasm/target/fuzz/corpus/<target>/; crashes land in wasm/fuzz/artifacts/<target>/ --
# copy each into tests/fuzz_regressions/<target>/ so the test suite replays it through
# the wasm module (tests/test_bad_inputs.py).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=${*:-sourcemap vlq index_map object symcache demangle demangle_msvc zstd minidump walk pdb js_scopes js_trace smcache}
TRIPLE=x86_64-unknown-linux-gnu
OUT=../target/fuzz
if ! [ -f "${PYSYM_LIBFUZZER_DIR:-/usr/lib/llvm-14/lib}/libFuzzer.a" ]; then
  echo "installing libfuzzer-14-dev (apt)"; apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuzzer-14-dev >/dev/null
fi
SANCOV="-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=4 \
 -C llvm-args=-sanitizer-coverage-inline-8bit-counters -C llvm-args=-sanitizer-coverage-pc-table \
 -C llvm-args=-sanitizer-coverage-trace-compares"
RUSTC=/usr/bin/rustc RUSTFLAGS="$SANCOV" /usr/bin/cargo build -q --locked --release --target $TRIPLE \
  --config 'source.crates-io.replace-with="debian"' \
  --config 'source.debian.directory="/usr/share/cargo/registry"' --target-dir $OUT
for t in $TARGETS; do
  mkdir -p "$OUT/corpus/$t" "artifacts/$t"
  max_len=65536; [ "$t" = object ] && max_len=262144; case $t in demangle*) max_len=4096;; esac
  # one name should take milliseconds: flag anything slower than 2 s as a hang
  timeout=10; case $t in demangle*) timeout=2;; esac
  echo "== $t: ${SECONDS_PER_TARGET}s"
  "$OUT/$TRIPLE/release/$t" "$OUT/corpus/$t" "corpus/$t" -max_total_time="$SECONDS_PER_TARGET" \
    -max_len=$max_len -rss_limit_mb=2048 -timeout=$timeout -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" ${FUZZ_FLAGS:-} 2>&1 | tee "$OUT/$t.log" | grep -E "^(#[0-9]+[[:space:]]*(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written)" || true
done
echo "crash artifacts:"; find artifacts -type f 2>/dev/null | grep -v '\.gitkeep' || true
