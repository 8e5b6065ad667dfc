# pysym — build, test, benchmark. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The wasm module is built with Debian's Rust (rustc 1.63 + libstd-rust-dev-wasm32) and
# Debian's vendored crates: the only Rust toolchain for wasm32 that these machines can
# install (see README "Building the module").
RUSTC_BIN   := /usr/bin/rustc
CARGO_BIN   := /usr/bin/cargo
CARGO_FLAGS := --config 'source.crates-io.replace-with="debian"' \
               --config 'source.debian.directory="/usr/share/cargo/registry"'
# Path remapping keeps build paths out of the module so it is byte-for-byte reproducible.
# bulk-memory: memcpy/memset become memory.copy/memory.fill (the engine's native memmove)
# instead of compiler_builtins' byte loops, ~5% of a symcache build; every engine pysym
# supports has it (wasmtime, wasmer 1.1, browsers since 2020, Node/Pyodide).
# simd128: the JSON scanners' 16-byte paths (cfg(target_feature = "simd128") in
# wasm/core/src/sourcemap/json.rs) plus autovectorised loops; ~8-14% less CPU parsing a
# 31 MB map. Needs WebAssembly SIMD: wasmtime, wasmer 1.1 (cranelift), Chrome/Edge 91+,
# Firefox 89+, Safari 16.4+, Node 16.4+ (README "Compatibility").
WASM_RUSTFLAGS := --remap-path-prefix=$(CURDIR)/wasm=/pysym \
                  --remap-path-prefix=/usr/share/cargo/registry=/registry \
                  -C link-arg=--max-memory=1073741824 \
                  -C link-arg=-zstack-size=1048576 \
                  -C target-feature=+bulk-memory \
                  -C target-feature=+simd128
# No binaryen post-pass: wasm-opt 132 -O2/-O3/-O4/-Os (npm binaryen) on this module, measured
# 2026-12-06 (symcache builds, babylon map parse, lookups, both engines): answers identical,
# 1-2% less fuel, 0-3% less build CPU on wasmtime and none on wasmer (cranelift redoes most of
# it), 5-15% slower engine compiles: short of the >=3%-on-both bar for a pinned npm tool here.
WASM_OUT := wasm/target/wasm32-unknown-unknown/release/pysym_abi.wasm
WASM_PKG := pysym/_wasm/pysym.wasm
# Machine provisioning (apt, npm) lives in one script, also called by .ci/run.
PROVISION := tools/provision.sh
ESLINT := tools/lint/node_modules/.bin/eslint --config tools/lint/eslint.config.mjs

# Tests run on a Python that has wheels for both engines (wasmtime and wasmer: 3.10),
# falling back to python3 (wasmtime only) where pyenv has no 3.10.
PYTHON ?= $(shell ls $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.10.*/bin/python3 2>/dev/null | tail -1 || true)
ifeq ($(strip $(PYTHON)),)
PYTHON := python3
endif
VENV := .venv
VPY  := $(VENV)/bin/python

.PHONY: test-tools help toolchain wasm wasm-check rust-test venv demo test test-python lint lint-tools check abi-check \
        fixtures bench clean react-native-fixtures

# Every target carries a `## what it does` comment on its line; help prints them.
help:  ## list the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
	  sed -E 's/^([a-z-]+):.*## (.*)$$/\1\t\2/' | awk -F '\t' '{ printf "make %-20s %s\n", $$1, $$2 }'

toolchain:  ## install Debian's Rust for wasm32 and the vendored crates (apt) if missing
	$(PROVISION) toolchain

test-tools:  ## install what the crash and server tests run: lldb-14, llvm-19, libc6-dbg, gcc, g++, debuginfod, nginx, gcab (apt)
	$(PROVISION) test-tools

wasm: toolchain  ## rebuild pysym/_wasm/pysym.wasm from wasm/
	cd wasm && RUSTC=$(RUSTC_BIN) RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO_BIN) build --locked --release \
	  --target wasm32-unknown-unknown -p pysym-abi $(CARGO_FLAGS)
	mkdir -p pysym/_wasm && cp $(WASM_OUT) $(WASM_PKG)
	@ls -l $(WASM_PKG)

wasm-check: toolchain  ## rebuild and compare with the committed module byte for byte
	cd wasm && RUSTC=$(RUSTC_BIN) RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO_BIN) build --locked --release \
	  --target wasm32-unknown-unknown -p pysym-abi $(CARGO_FLAGS)
	@if cmp -s $(WASM_OUT) $(WASM_PKG); then echo "wasm-check: committed module is reproducible"; \
	else echo "wasm-check: $(WASM_PKG) differs from a fresh build of wasm/ (run 'make wasm' and commit)"; exit 1; fi

rust-test: toolchain  ## native tests of the Rust core and the ABI shim
	cd wasm && RUSTC=$(RUSTC_BIN) RUSTDOC=/usr/bin/rustdoc $(CARGO_BIN) test --locked -q $(CARGO_FLAGS)

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

venv: $(VPY)  ## .venv with pysym (editable) and the test requirements
	$(VPY) -m pip install -q -e . -r tests/requirements.txt

demo: venv  ## set up and symbolicate the bundled sample stack trace
	$(VENV)/bin/pysym symbolicate-js --maps examples examples/trace.txt

fixtures:  ## the real npm maps and the reference consumer of tests/reference (npm ci)
	$(PROVISION) fixtures

test-python: venv fixtures  ## the Python tests (tests/, without tests/browser)
	$(VPY) -m pytest -q tests

lint: venv  ## ruff and mypy (strict)
	$(VENV)/bin/ruff check pysym tests bench tools
	$(VENV)/bin/mypy pysym

lint-tools:  ## eslint (npm ci tools/lint); rustfmt and clippy when Debian has them (apt)
	$(PROVISION) lint-tools

# cargo fmt --check fails on drift; clippy only reports.
# /usr/bin first on PATH: cargo-fmt and cargo-clippy run the rustfmt and cargo they find
# there, and a rustup toolchain's (another rustc) would not read Debian's build outputs.
DEBIAN_PATH := PATH=/usr/bin:$$PATH
abi-check:  ## the files generated from wasm/abi.toml (tools/abigen.py) are up to date
	python3 tools/abigen.py --check

check: abi-check lint lint-tools  ## ABI drift, ruff, mypy, eslint, cargo fmt --check; clippy reported (informational)
	$(ESLINT) browser tests/browser tests/reference bench
	@if [ -x /usr/bin/cargo-fmt ]; then \
	  files=$$(cd wasm && $(DEBIAN_PATH) $(CARGO_BIN) fmt --all -- --check -l 2>/dev/null); \
	  if [ -n "$$files" ]; then echo "cargo fmt --check: these files need cargo fmt (in wasm/):"; echo "$$files"; exit 1; fi; \
	  echo "cargo fmt --check: clean"; \
	else echo "cargo fmt: rustfmt is not installed (not in this Debian?): skipped"; fi
	@if [ -x /usr/bin/cargo-clippy ]; then \
	  out=$$(cd wasm && $(DEBIAN_PATH) RUSTC=$(RUSTC_BIN) $(CARGO_BIN) clippy --locked -q --workspace \
	         $(CARGO_FLAGS) 2>&1 || true); \
	  echo "cargo clippy: $$(echo "$$out" | grep -c '^warning') warnings, $$(echo "$$out" | grep '^error' | grep -vc 'could not compile') errors" \
	       "(informational, does not fail; an error stops the crates that depend on it)"; \
	else echo "cargo clippy: clippy is not installed (not in this Debian?): skipped"; fi

test: wasm-check rust-test check test-python browser-test  ## everything CI runs: module check, Rust, check, Python, browser

# Peers measured in the same run: PyPI symbolic (native Rust) and sourcemap (pure Python).
bench: venv fixtures  ## benchmark against symbolic and sourcemap (prints ratios)
	$(VPY) -m pip install -q symbolic sourcemap
	$(VPY) bench/bench_sourcemap.py
	$(VPY) bench/bench_native.py
	$(PROVISION) bench-debug
	$(VPY) bench/bench_crash.py

# The core's inflate against miniz_oxide, byte for byte, on every zlib section of the
# largest debug file of each Debian -dbg package of the native bench (installed or fetched).
.PHONY: inflate-check
inflate-check: toolchain  ## the core's inflate vs miniz_oxide on real compressed debug sections (release build; needs the venv)
	cd wasm && PYSYM_INFLATE_FILES="$$(cd .. && $(VPY) -c 'import sys; sys.path.insert(0, "bench"); import bench_native as b; print(":".join(filter(None, map(b.largest_debug, b.DEBIAN_DBG))))')" \
	  RUSTC=$(RUSTC_BIN) $(CARGO_BIN) test --release --locked -q -p pysym-core $(CARGO_FLAGS) real_sections_match_miniz -- --ignored --nocapture

# The PDB differential test samples 3,000 addresses per build; this compares every byte.
.PHONY: pdb-oracle
pdb-oracle: venv  ## PE/PDB builds against llvm-symbolizer 19 at every byte of .text (slow)
	PYSYM_PDB_ADDRESSES=0 $(VPY) -m pytest -q tests/test_pdb.py -k "agrees or omap"

# Function names from scopes against symbolic's SourceMapCache: the real bundles of
# tests/reference and three more npm packages (pinned; installed into $(JS_NAMES_DIR)).
RN_TOOLS_DIR ?= .cache/hermes-engine-cli
react-native-fixtures: fixtures  ## rebuild tests/data/react_native (Metro-style bundle, hermesc map, Hermes VM traces)
	mkdir -p $(RN_TOOLS_DIR)
	cd $(RN_TOOLS_DIR) && [ -x package/linux64-bin/hermes ] || \
	  (npm pack --silent hermes-engine-cli@0.12.0 && tar xzf hermes-engine-cli-0.12.0.tgz)
	node tests/data/react_native/make.mjs $(RN_TOOLS_DIR)/package/linux64-bin

JS_NAMES_DIR ?= .cache/js-names
JS_NAMES_PACKAGES := axios@1.7.9 preact@10.25.4 bootstrap@5.3.3
js-names: venv fixtures  ## function names from JS scopes vs PyPI symbolic 13.9.0 (prints agreement)
	$(VPY) -m pip install -q symbolic==13.9.0
	npm install --prefix $(JS_NAMES_DIR) --ignore-scripts --no-audit --no-fund $(JS_NAMES_PACKAGES)
	$(VPY) bench/js_names.py --reference \
	  $(JS_NAMES_DIR)/node_modules/axios/dist/axios.min.js $(JS_NAMES_DIR)/node_modules/axios/dist/axios.min.js.map \
	  $(JS_NAMES_DIR)/node_modules/preact/dist/preact.min.js $(JS_NAMES_DIR)/node_modules/preact/dist/preact.min.js.map \
	  $(JS_NAMES_DIR)/node_modules/bootstrap/dist/js/bootstrap.min.js $(JS_NAMES_DIR)/node_modules/bootstrap/dist/js/bootstrap.min.js.map
.PHONY: js-names

# -- the service (issue 18): long runs that are programs, not tests ----------------------
.PHONY: fuzz-api load soak batch-test batch-cluster bench-batch
FUZZ_API_EXAMPLES ?= 100
fuzz-api: venv  ## schemathesis (coverage + fuzzing, every check) against pysym serve's /openapi.json
	$(VPY) bench/fuzz_api.py --max-examples $(FUZZ_API_EXAMPLES)

load: venv  ## load test of pysym serve (native, JS, minidump mix) beside the reference app on symbolic (ratios, bounded in time)
	$(VPY) -m pip install -q symbolic==13.9.0
	$(VPY) bench/load_service.py --clients 8,32,128 --seconds 10

SOAK_SECONDS ?= 600
SOAK_RSS_MB ?= 1024
soak: venv  ## 10-minute RSS soak of pysym serve (8 clients); fails past SOAK_RSS_MB; stops by itself
	$(VPY) bench/load_service.py --soak $(SOAK_SECONDS) --clients 8 --rss-bound $(SOAK_RSS_MB)

batch-test: venv  ## tests/test_batch.py at the issue's size: 100,352 frames on a local Ray cluster (num_cpus=2)
	PYSYM_BATCH_EVENTS=196 $(VPY) -m pytest -q -s tests/test_batch.py

batch-cluster: venv  ## pysym.batch --ray-address on a two-node Ray cluster (ray start --head + a second node, own namespaces)
	$(VPY) tools/batch_cluster.py

BATCH_EVENTS ?= 400
bench-batch: venv  ## pysym.batch throughput: one process, Ray with a task per event, Ray grouped by debug id (same run)
	$(VPY) bench/bench_batch.py --events $(BATCH_EVENTS)

clean:  ## remove wasm/target, .venv and build outputs
	rm -rf wasm/target $(VENV) build dist *.egg-info

# -- Distribution: one py3-none-any wheel for every Python (issue 6) ---------------------
# The wheel is pure Python + the committed module; the engines come from PyPI through the
# environment markers in pyproject.toml.  tools/matrix.py checks the result.
DIST := dist
MATRIX_CACHE := $(CURDIR)/.cache
.PHONY: wheel matrix matrix-interpreters

wheel: $(VPY)  ## build the py3-none-any wheel and the sdist into dist/
	rm -rf $(DIST) build pysym.egg-info
	PIP_CACHE_DIR=$(MATRIX_CACHE)/pip $(VPY) -m pip install -q "build>=0.10"
	PIP_CACHE_DIR=$(MATRIX_CACHE)/pip $(VPY) -m build -q --outdir $(DIST) . >/dev/null
	rm -rf build pysym.egg-info
	$(VPY) tools/matrix.py check-dist $(DIST)

matrix-interpreters:  ## Debian's PyPy for the matrix, when apt can install it
	$(PROVISION) pypy

# Fresh venv per interpreter, `pip install` of the built wheel, tools/smoke.py on
# every engine that installed; prints interpreter x engine and rewrites README's table.
matrix: wheel matrix-interpreters  ## install the wheel on every local Python, smoke-test each engine
	PIP_CACHE_DIR=$(MATRIX_CACHE)/pip $(VPY) tools/matrix.py run --dist $(DIST) \
	  --workdir $(MATRIX_CACHE)/matrix --readme README.md

# -- browser module (browser/): node tests, headless Chromium, Pyodide -----------------
# Debian's chromium (driven through npm playwright-core; its own browser download does
# not work here) and the npm packages of tests/browser/package.json (playwright-core,
# pyodide, and the benchmark peers).
.PHONY: browser-deps browser-test browser-bench runaway-bench
CHROMIUM := /usr/bin/chromium

browser-deps:  ## node, Debian's chromium and the npm packages of tests/browser
	$(PROVISION) browser-deps

# The browser tests run in their own pytest session (tests/browser/conftest.py keeps them
# out of test-python's); the screenshot lands in tests/browser/artifacts/.
browser-test: venv browser-deps  ## browser/ in node, headless Chromium and Pyodide (tests/browser)
	PYSYM_BROWSER_TESTS=1 PYSYM_CHROMIUM=$(CHROMIUM) $(VPY) -m pytest -q tests/browser

browser-bench: venv browser-deps fixtures  ## the browser module against trace-mapping and source-map; processMinidump beside Python
	node bench/bench_browser.mjs --python $(VPY)
	node bench/bench_browser.mjs --python $(VPY) --chromium $(CHROMIUM)

runaway-bench: venv  ## the hostile minidump of the worker-timeout tests: time by thread count, Node beside Python
	node bench/runaway_dump.mjs --python $(VPY)

# -- fuzzing (issue 5): libFuzzer targets for every parser of the core, built natively ---
# wasm/fuzz/ (its own Cargo workspace) with Debian's libfuzzer-14-dev and sanitizer
# coverage. FUZZ_SECONDS per target; crashes land in wasm/fuzz/artifacts/<target>/ and are
# copied to tests/fuzz_regressions/<target>/, replayed through the wasm module by pytest.
.PHONY: fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= sourcemap vlq index_map object symcache demangle demangle_msvc zstd minidump walk pdb
fuzz: toolchain  ## run every fuzz target for FUZZ_SECONDS (default 60) each
	wasm/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

