"""Stores from plain configuration: the one place that knows every store kind (local in
``_stores``, remote in ``_remote``), so neither of those imports the other."""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from ._remote import REMOTE_STORES
from ._stores import LAYOUTS, FilesystemStore, Store, SystemStore

__all__ = ["store_from_config"]


def store_from_config(config: Any) -> Store:
    """A store from its configuration: a :class:`Store`, a directory path (``DIR`` or
    ``DIR:layout``), or a mapping ``{"type": "filesystem"|"system", "path", "layout",
    "casing", "filters", "id", "negative_ttl"}`` (``negative_ttl``: seconds a module the
    store does not have is remembered as missing, default :data:`DEFAULT_NEGATIVE_TTL`;
    0 asks again on every request)."""
    if isinstance(config, Store):
        return config
    if isinstance(config, (str, os.PathLike)):
        text = os.fspath(config)
        head, sep, tail = text.rpartition(":")
        if sep and tail in LAYOUTS:
            return FilesystemStore(head, tail)
        return FilesystemStore(text)
    if isinstance(config, Mapping):
        c: Dict[str, Any] = dict(config)
        kind = c.pop("type", "filesystem")
        if kind == "filesystem":
            if "path" not in c:
                raise ValueError("a filesystem store needs a 'path'")
            return FilesystemStore(c.pop("path"), c.pop("layout", "native"), casing=c.pop("casing", "default"),
                                   id=c.pop("id", None), filters=c.pop("filters", None),
                                   negative_ttl=c.pop("negative_ttl", None))
        if kind == "system":
            return SystemStore(c.pop("debug_dirs", ("/usr/lib/debug",)), module_files=c.pop("module_files", True),
                               id=c.pop("id", "system"), filters=c.pop("filters", None),
                               negative_ttl=c.pop("negative_ttl", None))
        if kind in REMOTE_STORES:
            return REMOTE_STORES[kind].from_config(c)  # type: ignore[no-any-return]
        raise ValueError("unknown store type %r (this version knows 'filesystem', 'system', 'http', 's3' and "
                         "'gcs')" % (kind,))
    raise TypeError("a store is a pysym store object, a directory path or a mapping, not %s" % type(config).__name__)
