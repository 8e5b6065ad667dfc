"""The browser tests need Node, npm packages (tests/browser/package.json) and Chromium;
``make browser-test`` installs them and runs this directory with ``PYSYM_BROWSER_TESTS=1``.

Without that variable the directory is not collected, so the plain ``pytest tests`` run of
``make test-python`` does not run (or fail on) them a second time.
"""

import os

if os.environ.get("PYSYM_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]
