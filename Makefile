# pysym — build, test, benchmark. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The wasm module is built with Debian's Rust (rustc 1.63 + libstd-rust-dev-wasm32) and
# Debian's vendored crates: the only Rust toolchain for wasm32 that these machines can
# install (see README "Building the module").
RUSTC_BIN   := /usr/bin/rustc
CARGO_BIN   := /usr/bin/cargo
RUST_VERSION := 1.63.0
CARGO_FLAGS := --config 'source.crates-io.replace-with="debian"' \
               --config 'source.debian.directory="/usr/share/cargo/registry"'
# Path remapping keeps build paths out of the module so it is byte-for-byte reproducible.
# bulk-memory: memcpy/memset become memory.copy/memory.fill (the engine's native memmove)
# instead of compiler_builtins' byte loops, ~5% of a symcache build; every engine pysym
# supports has it (wasmtime, wasmer 1.1, browsers since 2020, Node/Pyodide).
WASM_RUSTFLAGS := --remap-path-prefix=$(CURDIR)/wasm=/pysym \
                  --remap-path-prefix=/usr/share/cargo/registry=/registry \
                  -C link-arg=--max-memory=1073741824 \
                  -C link-arg=-zstack-size=1048576 \
                  -C target-feature=+bulk-memory
WASM_OUT := wasm/target/wasm32-unknown-unknown/release/pysym_abi.wasm
WASM_PKG := pysym/_wasm/pysym.wasm
APT_PACKAGES := rustc cargo libstd-rust-dev-wasm32 \
                librust-gimli-dev librust-object-dev \
                librust-cpp-demangle-dev librust-rustc-demangle-dev librust-miniz-oxide-dev \
                librust-flate2-dev clang-14 zstd
# What tests/test_crash.py runs: the debugger that records a real crash, llvm-symbolizer-19
# (the name oracle for inlined frames) and glibc's detached debug info (/usr/lib/debug/.build-id).
TEST_APT_PACKAGES := lldb-14 llvm-19 libc6-dbg binutils gcc g++

# Tests run on a Python that has wheels for both engines (wasmtime and wasmer: 3.10),
# falling back to python3 (wasmtime only) where pyenv has no 3.10.
PYTHON ?= $(shell ls $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.10.*/bin/python3 2>/dev/null | tail -1 || true)
ifeq ($(strip $(PYTHON)),)
PYTHON := python3
endif
VENV := .venv
VPY  := $(VENV)/bin/python

.PHONY: test-tools help toolchain wasm wasm-check rust-test venv demo test test-python lint fixtures bench clean

help:
	@echo "make demo       set up and symbolicate the bundled sample stack trace"
	@echo "make test       rebuild the module (must match the committed one), run all tests"
	@echo "make wasm       rebuild pysym/_wasm/pysym.wasm from wasm/"
	@echo "make bench      benchmark against symbolic and sourcemap (prints ratios)"
	@echo "make wheel      build the py3-none-any wheel and the sdist into dist/"
	@echo "make matrix     install the wheel on every local Python, smoke-test each engine"
	@echo "make fuzz       run every fuzz target for FUZZ_SECONDS (default 60) each"

toolchain:
	@if ! [ -x $(RUSTC_BIN) ] || ! [ -d /usr/lib/rustlib/wasm32-unknown-unknown ] \
	    || ! ls -d /usr/share/cargo/registry/gimli-0.27* /usr/share/cargo/registry/cpp_demangle-0.4* >/dev/null 2>&1 \
	    || ! command -v zstd >/dev/null; then \
	  echo "installing Debian Rust toolchain for wasm32 and the vendored crates (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi
	@v=$$($(RUSTC_BIN) --version | cut -d' ' -f2); if [ "$$v" != "$(RUST_VERSION)" ]; then \
	  echo "warning: rustc $$v, the committed module was built with $(RUST_VERSION): the byte-for-byte check may fail"; fi

test-tools:
	@if ! command -v lldb-14 >/dev/null || ! command -v llvm-symbolizer-19 >/dev/null \
	    || ! [ -d /usr/lib/debug/.build-id ] || ! command -v g++ >/dev/null; then \
	  echo "installing the crash-test tools (apt): $(TEST_APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_APT_PACKAGES) >/dev/null; \
	fi

wasm: toolchain
	cd wasm && RUSTC=$(RUSTC_BIN) RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO_BIN) build --locked --release \
	  --target wasm32-unknown-unknown -p pysym-abi $(CARGO_FLAGS)
	mkdir -p pysym/_wasm && cp $(WASM_OUT) $(WASM_PKG)
	@ls -l $(WASM_PKG)

# Rebuild and compare with the committed module byte for byte.
wasm-check: toolchain
	cd wasm && RUSTC=$(RUSTC_BIN) RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO_BIN) build --locked --release \
	  --target wasm32-unknown-unknown -p pysym-abi $(CARGO_FLAGS)
	@if cmp -s $(WASM_OUT) $(WASM_PKG); then echo "wasm-check: committed module is reproducible"; \
	else echo "wasm-check: $(WASM_PKG) differs from a fresh build of wasm/ (run 'make wasm' and commit)"; exit 1; fi

rust-test: toolchain
	cd wasm && RUSTC=$(RUSTC_BIN) RUSTDOC=/usr/bin/rustdoc $(CARGO_BIN) test --locked -q $(CARGO_FLAGS)

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

venv: $(VPY)
	$(VPY) -m pip install -q -e . -r tests/requirements.txt

demo: venv
	$(VENV)/bin/pysym symbolicate-js --maps examples examples/trace.txt

fixtures:
	npm ci --prefix tests/reference --ignore-scripts --no-audit --no-fund --loglevel=error

test-python: venv fixtures
	$(VPY) -m pytest -q tests

lint: venv
	$(VENV)/bin/ruff check pysym tests bench
	$(VENV)/bin/mypy pysym

test: wasm-check rust-test lint test-python browser-test

# Peers measured in the same run: PyPI symbolic (native Rust) and sourcemap (pure Python).
bench: venv fixtures
	$(VPY) -m pip install -q symbolic sourcemap
	$(VPY) bench/bench_sourcemap.py
	$(VPY) bench/bench_native.py
	$(MAKE) test-tools
	@if ! [ -e /usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libstdc++6-12-dbg python3.11-dbg >/dev/null; fi
	$(VPY) bench/bench_crash.py

clean:
	rm -rf wasm/target $(VENV) build dist *.egg-info

# -- Distribution: one py3-none-any wheel for every Python (issue 6) ---------------------
# The wheel is pure Python + the committed module; the engines come from PyPI through the
# environment markers in pyproject.toml.  tests/smoke/matrix.py checks the result.
DIST := dist
MATRIX_CACHE := $(CURDIR)/.cache
.PHONY: wheel matrix matrix-interpreters

wheel: $(VPY)
	rm -rf $(DIST) build pysym.egg-info
	PIP_CACHE_DIR=$(MATRIX_CACHE)/pip $(VPY) -m pip install -q "build>=0.10"
	PIP_CACHE_DIR=$(MATRIX_CACHE)/pip $(VPY) -m build -q --outdir $(DIST) . >/dev/null
	rm -rf build pysym.egg-info
	$(VPY) tests/smoke/matrix.py check-dist $(DIST)

# Debian's PyPy (7.3, Python 3.9) joins the matrix when apt can install it.
matrix-interpreters:
	@if ! command -v pypy3 >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing pypy3 (apt) for the matrix"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 pypy3-venv >/dev/null) \
	    || echo "pypy3 not installable here: the matrix skips PyPy"; \
	fi

# Fresh venv per interpreter, `pip install` of the built wheel, tests/smoke/smoke.py on
# every engine that installed; prints interpreter x engine and rewrites README's table.
matrix: wheel matrix-interpreters
	PIP_CACHE_DIR=$(MATRIX_CACHE)/pip $(VPY) tests/smoke/matrix.py run --dist $(DIST) \
	  --workdir $(MATRIX_CACHE)/matrix --readme README.md

# -- browser module (browser/): node tests, headless Chromium, Pyodide -----------------
# Debian's chromium (driven through npm playwright-core; its own browser download does
# not work here) and the npm packages of tests/browser/package.json (playwright-core,
# pyodide, and the benchmark peers).
.PHONY: browser-deps browser-test browser-bench
CHROMIUM := /usr/bin/chromium

browser-deps:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "installing nodejs and npm (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; fi
	@if ! [ -x $(CHROMIUM) ]; then \
	  echo "installing chromium (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
	npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund --loglevel=error

# The browser tests run in their own pytest session (tests/browser/conftest.py keeps them
# out of test-python's); the screenshot lands in tests/browser/artifacts/.
browser-test: venv browser-deps
	PYSYM_BROWSER_TESTS=1 PYSYM_CHROMIUM=$(CHROMIUM) $(VPY) -m pytest -q tests/browser

browser-bench: browser-deps fixtures
	node bench/bench_browser.mjs
	node bench/bench_browser.mjs --chromium $(CHROMIUM)

# -- fuzzing (issue 5): libFuzzer targets for every parser of the core, built natively ---
# wasm/fuzz/ (its own Cargo workspace) with Debian's libfuzzer-14-dev and sanitizer
# coverage. FUZZ_SECONDS per target; crashes land in wasm/fuzz/artifacts/<target>/ and are
# copied to tests/fuzz_regressions/<target>/, replayed through the wasm module by pytest.
.PHONY: fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= sourcemap vlq index_map object symcache demangle demangle_msvc zstd minidump
fuzz: toolchain
	wasm/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

