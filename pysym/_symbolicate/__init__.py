"""Crash symbolication: requests, symbol stores and symcache caches (see ``_symbolicator``)."""

from ._cache import DiskCache, MemoryCache, symcache_version
from ._remote import DownloadCache, GcsStore, HttpStore, RemoteError, RemotePolicy, S3Store
from ._request import MODULE_TYPES, Module, StackFrame, caller_address, parse_address
from ._shared import SharedCache
from ._store_config import store_from_config
from ._stores import LAYOUTS, FilesystemStore, Location, Store, SystemStore
from ._symbolicator import MAX_FRAMES, MAX_MODULES, Symbolicator, symbolicate_frames

__all__ = [
    "Symbolicator", "symbolicate_frames", "Module", "StackFrame", "Store", "FilesystemStore", "SystemStore",
    "Location", "LAYOUTS", "MODULE_TYPES", "MAX_FRAMES", "MAX_MODULES", "symcache_version", "DiskCache",
    "MemoryCache", "HttpStore", "S3Store", "GcsStore", "RemotePolicy", "RemoteError", "DownloadCache", "caller_address",
    "parse_address", "store_from_config", "SharedCache",
]
