"""Shared pytest setup: the ``engine`` fixture, hypothesis profiles, summary lines.

Every test that touches the wasm module runs once per installed WebAssembly engine
(``pysym._engine.available_engines()``, e.g. wasmtime and wasmer) through the ``engine``
fixture, which switches the process-wide runtime with ``pysym._host.use_engine``.
If no engine is installed, every such test FAILS (never skips): a suite that silently
tests nothing is worse than a red one.
"""

from __future__ import annotations

import os
from typing import Iterator, List

import pytest

try:
    from hypothesis import HealthCheck, Phase, settings
except ImportError:  # pragma: no cover - hypothesis is in tests/requirements.txt
    settings = None  # type: ignore[assignment]

# -- hypothesis profiles -------------------------------------------------------------
# "ci" (the default) keeps the whole suite within a few minutes on two cores with both
# engines: 40 derandomized examples per test and no shrinking (shrinking a failure through
# the sandbox can take minutes per test: a failing example is reported as found).
# "dev" explores more, at random, and shrinks failures to a minimal example;
# "thorough" is for a long local run. Pick one with HYPOTHESIS_PROFILE=ci|dev|thorough.
if settings is not None:
    _common = dict(
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    _no_shrink = [Phase.explicit, Phase.reuse, Phase.generate]
    settings.register_profile("ci", max_examples=40, derandomize=True, phases=_no_shrink, **_common)
    settings.register_profile("dev", max_examples=150, **_common)
    settings.register_profile("thorough", max_examples=2000, **_common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")


# -- engines ---------------------------------------------------------------------------

_NO_ENGINE = "<no engine installed>"


def _engines() -> List[str]:
    from pysym._engine import available_engines

    names = list(available_engines())
    wanted = os.environ.get("PYSYM_TEST_ENGINES")  # e.g. "wasmer" to run one engine only
    if wanted:
        names = [n for n in names if n in wanted.split(",")]
    return names or [_NO_ENGINE]


ENGINES = _engines()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Name of the engine the process-wide runtime uses for this test.

    Session-scoped (pytest runs all tests of one engine, then the next), so hypothesis
    tests and module-scoped fixtures may depend on it; a module-scoped fixture that
    holds a SourceMap must depend on ``engine`` so it is rebuilt per engine.
    """
    name = request.param
    if name == _NO_ENGINE:
        pytest.fail(
            "no WebAssembly engine is installed for pysym: pip install wasmtime "
            "(and wasmer==1.1.0 wasmer-compiler-cranelift==1.1.0 on CPython <= 3.10)",
            pytrace=False,
        )
    from pysym import _host

    _host.use_engine(name)
    yield name


@pytest.fixture(autouse=True)
def _engine_in_use(request: pytest.FixtureRequest) -> None:
    """Guards the fixture ordering: a test that asked for ``engine`` runs on that engine."""
    if "engine" in request.fixturenames and request.getfixturevalue("engine") != _NO_ENGINE:
        from pysym import _host

        name = request.getfixturevalue("engine")
        if not isinstance(name, str):  # tests/engine's own `engine` fixture (an Engine)
            return
        in_use = _host.get_runtime().engine.name
        assert in_use == name, "test runs on %s, expected %s" % (in_use, name)


# -- lines printed at the end of the run (conformance score, differential agreement) --

SUMMARY: List[str] = []


@pytest.fixture(scope="session")
def summary() -> List[str]:
    """Append a line here to have it printed in pytest's terminal summary."""
    return SUMMARY


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if SUMMARY:
        terminalreporter.section("pysym summary")
        for line in SUMMARY:
            terminalreporter.write_line(line)
