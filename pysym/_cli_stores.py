"""The symbol-store options of the commands that symbolicate whole crashes
(``symbolicate native``, ``minidump stackwalk``)."""

from __future__ import annotations

import argparse
from typing import Any, List


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    """``--store DIR[:LAYOUT]`` (repeatable) and ``--no-system``."""
    p.add_argument("--store", metavar="DIR[:LAYOUT]", action="append", default=[],
                   help="a symbol store directory and its layout (native (default), symstore, "
                   "symstore_index2, ssqp, unified, debuginfod); repeatable, searched in order")
    p.add_argument("--no-system", action="store_true",
                   help="do not search the system (/usr/lib/debug/.build-id, the paths the modules name)")


def stores_of(args: argparse.Namespace) -> List[Any]:
    """The stores the options name, then the system's unless ``--no-system``."""
    from ._symbolicate import SystemStore

    stores: List[Any] = list(args.store)
    if not args.no_system:
        stores.append(SystemStore())
    return stores
