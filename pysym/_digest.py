"""A 32-byte digest for the host's own checks (compile-cache entries, what the module read).

BLAKE2b from CPython's built-in ``_blake2``, not ``hashlib``: ``import hashlib`` loads
OpenSSL (~3.6 MB resident, measured) in every process that builds or reads a symcache,
and BLAKE2b runs about as fast as OpenSSL's SHA-256.
"""

from typing import Any

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # an interpreter without the built-in module
    from hashlib import blake2b as _blake2b

DIGEST_SIZE = 32


def new(data: bytes = b"") -> Any:
    """A BLAKE2b-256 hasher, fed ``data``."""
    return _blake2b(data, digest_size=DIGEST_SIZE)
