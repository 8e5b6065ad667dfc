"""A symcache cache in an S3 bucket, shared by replicas (``cache.shared`` of ``pysym serve``).

Stateless replicas behind a load balancer share one bucket: a symcache built by one is
found by the others, so a new replica starts warm. The bucket sits behind each
replica's own caches: memory, then the local disk cache (whose per-key lock makes one
process per machine ask the bucket), then the bucket, then a build in the sandbox, whose
result is uploaded.

Objects are ``<prefix>/symcaches/v<format version>/<debug id>-<sha256 of the debug
file>.symcache`` (a new format never reads an old one's entries), each framed as::

    b"PYSYMSC\\x01" | 32-byte tag | 8-byte little-endian length | symcache

where the tag is the SHA-256 of length and symcache, or their HMAC-SHA256 under
``integrity_key`` when one is configured (then a writer to the bucket without the key
cannot plant entries). What is read back is used only if the frame, the length and the
tag check out and the module loads it; anything else is counted as rejected and built
locally. The bucket's failures never fail a request: a lookup that fails is a miss, an
upload that fails is dropped (both counted), and after ``backoff_failures`` failures the
bucket is left alone for ``backoff_seconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
import time
from typing import Any, Mapping, Optional

from ._remote import RemotePolicy, check_endpoint_address, check_endpoint_url, s3_client

__all__ = ["SharedCache", "frame", "unframe"]

_MAGIC = b"PYSYMSC\x01"
_HEAD = len(_MAGIC) + 32 + 8


def _tag(payload: bytes, key: Optional[bytes]) -> bytes:
    length = struct.pack("<Q", len(payload))
    if key is not None:
        mac = hmac.new(key, length, hashlib.sha256)
        mac.update(payload)
        return mac.digest()
    h = hashlib.sha256(length)
    h.update(payload)
    return h.digest()


def frame(payload: bytes, key: Optional[bytes] = None) -> bytes:
    """A symcache framed for the bucket (see the module documentation)."""
    return b"".join((_MAGIC, _tag(payload, key), struct.pack("<Q", len(payload)), payload))


def unframe(data: bytes, key: Optional[bytes] = None) -> Optional[bytes]:
    """The symcache in a framed object, ``None`` unless frame, length and tag check out."""
    if len(data) < _HEAD or data[: len(_MAGIC)] != _MAGIC:
        return None
    tag = data[len(_MAGIC) : len(_MAGIC) + 32]
    (n,) = struct.unpack("<Q", data[len(_MAGIC) + 32 : _HEAD])
    payload = data[_HEAD:]
    if n != len(payload) or not hmac.compare_digest(tag, _tag(payload, key)):
        return None
    return payload


class SharedCache:
    """Built symcaches in ``bucket`` under ``prefix`` (see the module documentation).
    ``endpoint_url``: an S3-compatible server (its address is checked against the
    :class:`RemotePolicy` as a source's is); credentials as an S3 source takes them;
    ``integrity_key``: authenticates entries (HMAC) instead of checksumming them."""

    def __init__(self, bucket: str, prefix: str = "pysym", *, endpoint_url: Optional[str] = None,
                 region: Optional[str] = None, access_key: Optional[str] = None, secret_key: Optional[str] = None,
                 integrity_key: Optional[str] = None, policy: Optional[RemotePolicy] = None) -> None:
        if not bucket:
            raise ValueError("a shared cache needs a 'bucket'")
        check_endpoint_url(endpoint_url)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url, self.region = endpoint_url, region
        self._keys = (access_key, secret_key)
        self._mac = integrity_key.encode("utf-8") if integrity_key else None
        self.policy = policy or RemotePolicy()
        self._client: Any = None
        self._lock = threading.Lock()
        self._failures = 0
        self._until = 0.0
        #: hits, misses, rejected (failed the checks), puts, errors (the bucket failing)
        self.stats = {"hits": 0, "misses": 0, "rejected": 0, "puts": 0, "errors": 0}

    @classmethod
    def from_config(cls, c: Mapping[str, Any], *, policy: Optional[RemotePolicy] = None) -> "SharedCache":
        """``{"type": "s3", "bucket", "prefix", "endpoint_url", "region", "access_key",
        "secret_key", "integrity_key"}``."""
        c = dict(c)
        if c.pop("type", "s3") != "s3":
            raise ValueError("a shared cache is an S3 bucket: type must be 's3'")
        out = cls(c.pop("bucket", ""), c.pop("prefix", "pysym"), endpoint_url=c.pop("endpoint_url", None),
                  region=c.pop("region", None), access_key=c.pop("access_key", None),
                  secret_key=c.pop("secret_key", None), integrity_key=c.pop("integrity_key", None), policy=policy)
        if c:
            raise ValueError("unknown shared cache option(s): %s" % ", ".join(sorted(c)))
        return out

    def name(self, version: int, key: str) -> str:
        return "%ssymcaches/v%d/%s.symcache" % (self.prefix, version, key)

    def _count(self, what: str) -> None:
        with self._lock:
            self.stats[what] += 1

    def _usable(self) -> Any:
        """The client, or ``None`` while the bucket is backed off."""
        with self._lock:
            if time.monotonic() < self._until:
                return None
            if self._client is None:
                self._client = s3_client(self.policy, self.region, self.endpoint_url, self._keys)
        check_endpoint_address(self.policy, self.endpoint_url)
        return self._client

    def _failed(self) -> None:
        with self._lock:
            self.stats["errors"] += 1
            self._failures += 1
            if self._failures >= self.policy.backoff_failures:
                self._until = time.monotonic() + self.policy.backoff_seconds
                self._failures = 0

    def _ok(self) -> None:
        with self._lock:
            self._failures = 0

    def get(self, version: int, key: str) -> Optional[bytes]:
        """The checked symcache of ``key``, ``None`` when absent, bad or unreachable."""
        try:
            client = self._usable()
            if client is None:
                return None
            resp = client.get_object(Bucket=self.bucket, Key=self.name(version, key))
        except Exception as e:  # noqa: BLE001 - botocore's errors: a miss, or a failure
            code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                self._ok()
                self._count("misses")
            else:
                self._failed()
            return None
        try:
            cap = self.policy.max_download_bytes
            if int(resp.get("ContentLength") or 0) > cap + _HEAD:
                self._count("rejected")
                return None
            body = resp["Body"]
            try:
                data = body.read(cap + _HEAD + 1)
            finally:
                body.close()
        except Exception:  # noqa: BLE001 - a broken stream
            self._failed()
            return None
        self._ok()
        payload = unframe(data, self._mac) if len(data) <= cap + _HEAD else None
        if payload is None:
            self._count("rejected")
            return None
        self._count("hits")
        return payload

    def put(self, version: int, key: str, payload: bytes) -> None:
        """Uploads a symcache built here (best effort)."""
        try:
            client = self._usable()
            if client is None:
                return
            client.put_object(Bucket=self.bucket, Key=self.name(version, key), Body=frame(payload, self._mac))
        except Exception:  # noqa: BLE001 - the bucket failing never fails a request
            self._failed()
            return
        self._ok()
        self._count("puts")

    def rejected(self) -> None:
        """A payload that passed the checks but did not load in the module."""
        self._count("rejected")
