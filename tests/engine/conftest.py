import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from pysym._engine import available_engines, load_engine  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def wat_to_wasm(text):
    """Compile WAT with whichever engine package is installed (test-only helper)."""
    try:
        import wasmtime

        return wasmtime.wat2wasm(text)
    except ImportError:
        pass
    import wasmer

    return wasmer.wat2wasm(text)


@pytest.fixture(scope="session")
def test_wasm():
    with open(os.path.join(HERE, "testmod.wat")) as f:
        return bytes(wat_to_wasm(f.read()))


ENGINES = available_engines()


@pytest.fixture(params=ENGINES or [pytest.param(None, marks=pytest.mark.skip("no engine installed"))])
def engine(request):
    return load_engine(request.param)
