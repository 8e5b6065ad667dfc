"""pysym's browser module (browser/) tested in Node and in real Chromium.

Run by ``make browser-test`` (which installs Debian ``chromium`` and the npm packages of
``tests/browser/package.json``). The Python side writes golden outputs in the same run
(``golden.py``); the node tests and the Chromium driver (``chromium.mjs``) compare the
JavaScript results with them. A screenshot of the devtools page with a symbolicated trace
is left in ``$PYSYM_ARTIFACTS`` (default ``tests/browser/artifacts/``).

Missing tools make the tests FAIL with what to install, never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CHROMIUM = os.environ.get("PYSYM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("PYSYM_ARTIFACTS", str(HERE / "artifacts")))
NODE_TESTS = sorted((HERE / "node").glob("*.test.mjs"))


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (make browser-test installs it)")
    return node


def _need_packages() -> None:
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        pytest.fail("npm packages missing: npm ci --prefix tests/browser (make browser-test does it)")


@pytest.fixture(scope="session")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import sys

    sys.path.insert(0, str(HERE))
    try:
        import golden as golden_mod  # tests/browser/golden.py
    finally:
        sys.path.pop(0)
    out = tmp_path_factory.mktemp("golden")
    golden_mod.write(str(out))
    return out


@pytest.mark.parametrize("script", NODE_TESTS, ids=[p.name for p in NODE_TESTS])
def test_node(script: Path, golden: Path) -> None:
    """browser/ in Node >= 20 (node:test files in tests/browser/node/)."""
    env = dict(os.environ, PYSYM_GOLDEN=str(golden))
    proc = subprocess.run([_node(), "--test", "--test-reporter=spec", str(script)], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, out
    assert "skipped 0" in out, out  # PYSYM_GOLDEN is set: nothing may skip


@pytest.fixture(scope="session")
def chromium_results(golden: Path) -> List[Dict[str, Any]]:
    _need_packages()
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s not found: apt-get install -y chromium (make browser-test does it)" % CHROMIUM)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [_node(), str(HERE / "chromium.mjs"), "--golden", str(golden), "--artifacts", str(ARTIFACTS),
         "--chromium", CHROMIUM],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900,
    )
    results = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            obj = json.loads(line)
            if not obj.get("summary"):
                results.append(obj)
    if not results:
        pytest.fail("chromium.mjs produced no results:\n%s" % proc.stderr.decode("utf-8", "replace"))
    return results


def _check(results: List[Dict[str, Any]], prefixes: List[str], minimum: int) -> None:
    mine = [r for r in results if any(r["check"].startswith(p) for p in prefixes)]
    failed = [r for r in mine if not r["ok"]]
    assert not failed, json.dumps(failed, indent=1, ensure_ascii=False)
    assert len(mine) >= minimum, "expected at least %d checks, got %s" % (minimum, [r["check"] for r in mine])


def test_chromium_devtools_page(chromium_results: List[Dict[str, Any]]) -> None:
    """The page loads under the strict CSP and symbolicates the fixtures exactly like the CLI."""
    _check(chromium_results, ["page served", "inline scripts", "devtools page:"], 10)


def test_chromium_screenshot(chromium_results: List[Dict[str, Any]]) -> None:
    _check(chromium_results, ["screenshot"], 1)
    png = ARTIFACTS / "devtools-page.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000


def test_chromium_crash_tab(chromium_results: List[Dict[str, Any]]) -> None:
    """The Crash tab: minidumps + a symbol folder shown as the Python response (crashing
    thread first and open, every frame), a frame's detail, a hostile dump's typed error and
    recovery, a runaway dump stopped at the tab's time limit, pasted crash requests in a
    layout and casing; in the page and in the extension's panel page."""
    _check(chromium_results, ["devtools page: crash tab", "devtools page: a frame click", "devtools page: a hostile",
                              "devtools page: the page works", "devtools page: a pasted",
                              "devtools page: the crash tab's IndexedDB", "devtools page: a frame's click",
                              "devtools page: screenshot of the crash tab"], 12)
    # a runaway dump stopped at the tab's time limit, the page usable after
    _check(chromium_results, ["devtools page: a runaway dump"], 1)
    _check(chromium_results, ["extension panel page: crash tab", "extension panel page: a hostile"], 3)
    png = ARTIFACTS / "devtools-crash.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000


def test_chromium_crash_module_matches_python(chromium_results: List[Dict[str, Any]]) -> None:
    """Every golden minidump and crash request through Symbolicator inside Chromium (store
    files as Blobs) == the Python Symbolicator; a minidump call past the worker's timeout."""
    _check(chromium_results, ["crash module in Chromium", "crash worker in Chromium"], 4)


def test_chromium_module_matches_python(chromium_results: List[Dict[str, Any]]) -> None:
    """Every fixture map and trace through browser/index.js inside Chromium == the Python API."""
    _check(chromium_results, ["module in Chromium"], 2)


def test_chromium_worker_timeout(chromium_results: List[Dict[str, Any]]) -> None:
    _check(chromium_results, ["worker in Chromium"], 1)


def test_chromium_extension(chromium_results: List[Dict[str, Any]]) -> None:
    """The DevTools extension loads (--load-extension) and its panel page symbolicates."""
    _check(chromium_results, ["extension"], 8)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pysym's wheel, built from a copy of the sources (the tree stays clean)."""
    import sys

    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "setup.cfg", "setup.py"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "pysym", src / "pysym", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode("utf-8", "replace")
    wheels = list(out.glob("pysym-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_pyodide(wheel: Path, golden: Path) -> None:
    """The built wheel inside Pyodide (npm pyodide in Node) on the pyodide engine adapter."""
    _need_packages()
    proc = subprocess.run([_node(), str(HERE / "pyodide.mjs"), "--wheel", str(wheel), "--golden", str(golden)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, out
    assert '"failed":0' in out, out
