#!/usr/bin/env bash
# Machine provisioning for pysym, in one place: what each make target needs from apt and
# npm. Called by the Makefile and by .ci/run; each step installs only what is missing.
#
#   tools/provision.sh STEP...
#
# Steps:
#   toolchain     Debian's Rust for wasm32 + the vendored crates (the only wasm32 toolchain
#                 these machines can install), clang, zstd
#   test-tools    what tests/test_crash.py runs: lldb-14, llvm-symbolizer-19 (llvm-19),
#                 glibc's detached debug info, binutils, gcc, g++; tests/test_server.py's
#                 symbol servers: debuginfod, nginx (a symstore tree), gcab (cab files);
#                 tests/test_pdb.py's mingw-w64 C++ for Windows, lld-link and llvm-pdbutil;
#                 llvm-undname (the MSVC demangler's oracle); iproute2 (`ip`: loopback up in
#                 the network namespace that keeps tests/test_batch.py's Ray cluster local);
#                 ld64.lld-19 (Mach-O test binaries with __unwind_info and __eh_frame);
#                 valgrind (tests/test_process.py: a CPU that hides features the compile
#                 cache's key names)
#   node          nodejs and npm
#   chromium      Debian's chromium (npm playwright-core drives it; its own download does
#                 not work here)
#   browser-deps  node, chromium, and npm ci of tests/browser (playwright-core, pyodide,
#                 typescript, the benchmark peers)
#   fixtures      node, and npm ci of tests/reference (the real npm maps, the reference
#                 source-map consumer, and metro-symbolicate for the React Native tests)
#   lint-tools    node, npm ci of tools/lint (eslint); rustfmt and clippy from apt when
#                 Debian has them (not an error when it does not)
#   pypy          Debian's PyPy for the matrix (not an error when apt cannot install it)
#   bench-debug   detached debug info of libstdc++ and python3.11 (bench/bench_crash.py)
#   ci            toolchain test-tools node lint-tools: what `make test` needs
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
RUST_VERSION=1.63.0
TOOLCHAIN_PACKAGES="rustc cargo libstd-rust-dev-wasm32 librust-gimli-dev librust-object-dev
  librust-cpp-demangle-dev librust-rustc-demangle-dev librust-miniz-oxide-dev librust-flate2-dev
  clang-14 zstd"
TEST_PACKAGES="lldb-14 llvm-19 libc6-dbg binutils gcc g++ debuginfod nginx gcab
  g++-mingw-w64-x86-64 g++-mingw-w64-i686 lld-14 llvm-14 iproute2 lld-19 valgrind"
NPM_CI="npm ci --ignore-scripts --no-audit --no-fund --loglevel=error"

updated=0
apt_install() {
  if [ "$updated" = 0 ]; then
    apt-get update -qq
    updated=1
  fi
  # shellcheck disable=SC2068
  apt-get install -y -qq $@ >/dev/null
}

have() { command -v "$1" >/dev/null 2>&1; }

step_toolchain() {
  if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/wasm32-unknown-unknown ] \
      || ! ls -d /usr/share/cargo/registry/gimli-0.27* /usr/share/cargo/registry/cpp_demangle-0.4* >/dev/null 2>&1 \
      || ! have zstd; then
    echo "installing Debian Rust toolchain for wasm32 and the vendored crates (apt)"
    apt_install $TOOLCHAIN_PACKAGES
  fi
  local v
  v=$(/usr/bin/rustc --version | cut -d' ' -f2)
  if [ "$v" != "$RUST_VERSION" ]; then
    echo "warning: rustc $v, the committed module was built with $RUST_VERSION: the byte-for-byte check may fail"
  fi
}

step_test_tools() {
  if ! have lldb-14 || ! have llvm-symbolizer-19 || ! [ -d /usr/lib/debug/.build-id ] || ! have g++ \
      || ! have debuginfod || ! [ -x /usr/sbin/nginx ] || ! have gcab \
      || ! have x86_64-w64-mingw32-g++ || ! have i686-w64-mingw32-g++ \
      || ! have lld-link-14 || ! have llvm-pdbutil-14 || ! have llvm-undname-14 \
      || ! [ -x /usr/sbin/ip ] || ! have ld64.lld-19 || ! have valgrind; then
    echo "installing the crash-test tools (apt): $TEST_PACKAGES"
    apt_install $TEST_PACKAGES
  fi
}

step_node() {
  if ! have node || ! have npm; then
    echo "installing nodejs and npm (apt)"
    apt_install nodejs npm
  fi
}

step_chromium() {
  if ! [ -x /usr/bin/chromium ]; then
    echo "installing chromium (apt)"
    apt_install chromium
  fi
}

step_browser_deps() {
  step_node
  step_chromium
  $NPM_CI --prefix tests/browser
}

step_fixtures() {
  step_node
  $NPM_CI --prefix tests/reference
}

step_lint_tools() {
  step_node
  # npm ci starts from scratch: only when the lock changed since the last install
  if ! [ tools/lint/node_modules/.package-lock.json -nt tools/lint/package-lock.json ]; then
    $NPM_CI --prefix tools/lint
  fi
  if ! have rustfmt || ! [ -x /usr/bin/cargo-clippy ]; then
    (apt_install rustfmt rust-clippy) || echo "rustfmt/clippy not installable here: make check skips them"
  fi
}

step_pypy() {
  if ! have pypy3 && have apt-get && [ "$(id -u)" = 0 ]; then
    echo "installing pypy3 (apt) for the matrix"
    (apt_install pypy3 pypy3-venv) || echo "pypy3 not installable here: the matrix skips PyPy"
  fi
}

step_bench_debug() {
  step_test_tools
  if ! [ -e /usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6 ]; then
    apt_install libstdc++6-12-dbg python3.11-dbg
  fi
}

[ $# -gt 0 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
for step in "$@"; do
  case "$step" in
    toolchain) step_toolchain ;;
    test-tools) step_test_tools ;;
    node) step_node ;;
    chromium) step_chromium ;;
    browser-deps) step_browser_deps ;;
    fixtures) step_fixtures ;;
    lint-tools) step_lint_tools ;;
    pypy) step_pypy ;;
    bench-debug) step_bench_debug ;;
    ci) step_toolchain; step_test_tools; step_node; step_lint_tools ;;
    *) echo "provision.sh: unknown step '$step'" >&2; exit 2 ;;
  esac
done
