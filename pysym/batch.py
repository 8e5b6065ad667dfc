"""``pysym.batch``: symbolicate a dataset of crash events, in one process or on Ray.

An event is a ``/symbolicate`` request (``modules`` + ``stacktraces``, see
:class:`pysym.Symbolicator`), optionally with an ``event_id``. Datasets are JSONL (one
event a line) or Parquet (a string column ``event`` holding each event's JSON, or one
column per top-level key), from a local path or ``s3://bucket/key`` (boto3: credentials
and ``AWS_ENDPOINT_URL`` from the environment). Results are written in input order, one
row per event: the response with ``index`` (the event's position) and its ``event_id``;
a bad event gives ``{"status": "failed", "error": {"type", "message"}}`` and the batch
goes on. Parquet output has the columns ``index``, ``event_id`` and ``response`` (JSON).

Modes (``pip install pysym[ray]`` for the last two):

* ``local``: one :class:`pysym.Symbolicator` in this process, event after event;
* ``naive``: one Ray task per event; each worker process keeps a symbolicator of its
  own, so every worker finds and loads every module it meets;
* ``grouped`` (the default on Ray): chunks of events go to Ray tasks, which plan them
  (every frame placed in its module, no file read), explode the lookups to (module,
  address) and group them by debug id, each debug id routed to one of ``actors``
  long-lived actors (a stable hash), which finds and builds its symcaches once, keeps
  them warm and answers all of a chunk's addresses of a module in one lookup; the task
  joins the frames back per event and lays the responses out.

With ``cache_dir`` on storage all nodes share (or a shared S3 cache, see the README),
a symcache built by one actor is loaded, not built, by the others.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from ._errors import PysymError
from ._limits import Limits

__all__ = ["symbolicate_events", "read_events", "write_results", "run", "BatchStats", "main"]

MODES = ("local", "naive", "grouped")
#: events planned and sent to the actors at a time
DEFAULT_CHUNK = 500


@dataclass
class BatchStats:
    """What a run did: ``events``, ``frames`` (input frames), ``failed`` events, the
    wall time in ``seconds``, and the actors' (or the local symbolicator's) symcache
    counters summed (``builds``, ``disk_hits``, ``memory_hits``)."""

    events: int = 0
    frames: int = 0
    failed: int = 0
    seconds: float = 0.0
    symcache: Dict[str, int] = field(default_factory=dict)


# -- datasets ----------------------------------------------------------------------


def _imp(name: str) -> Any:
    """An optional dependency (``ray``, ``pyarrow``, ``boto3``), imported when used."""
    return importlib.import_module(name)


def _is_s3(path: str) -> bool:
    return path.startswith("s3://")


def _s3_split(path: str) -> Tuple[str, str]:
    bucket, _, key = path[5:].partition("/")
    if not bucket or not key:
        raise ValueError("an S3 path is s3://BUCKET/KEY, not %r" % path)
    return bucket, key


def _is_parquet(path: str, fmt: Optional[str]) -> bool:
    if fmt is not None:
        if fmt not in ("jsonl", "parquet"):
            raise ValueError("format must be 'jsonl' or 'parquet'")
        return fmt == "parquet"
    return path.endswith((".parquet", ".pq"))


def _open_input(path: str) -> Any:
    if _is_s3(path):
        boto3 = _imp("boto3")

        bucket, key = _s3_split(path)
        f = tempfile.TemporaryFile()
        try:
            boto3.client("s3").download_fileobj(bucket, key, f)
        except Exception as e:
            f.close()
            code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NoSuchBucket"):
                raise FileNotFoundError("%s: no such object (%s)" % (path, code)) from None
            raise
        f.seek(0)
        return f
    return open(path, "rb")


def _drop_nulls(value: Any) -> Any:
    """A Parquet row as the event it stands for: a struct field a row lacks is null in
    Parquet (every row of a column has every field), so null fields are left out."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def read_events(path: str, fmt: Optional[str] = None) -> Iterator[Any]:
    """The events of a dataset, in order (JSONL, or Parquet by the name's extension or
    ``fmt``). A JSONL line that is not JSON is yielded as an :class:`ValueError`
    instance, so that the batch reports it as that event's failure."""
    with _open_input(path) as f:
        if _is_parquet(path, fmt):
            pq = _imp("pyarrow.parquet")
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=1024):
                rows = batch.to_pylist()
                for row in rows:
                    if set(row) == {"event"} and isinstance(row["event"], (str, bytes)):
                        try:
                            yield json.loads(row["event"])
                        except ValueError as e:
                            yield ValueError("event is not JSON: %s" % e)
                    else:
                        yield _drop_nulls(row)
            return
        for line in io.TextIOWrapper(f, encoding="utf-8"):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as e:
                yield ValueError("line is not JSON: %s" % e)


def write_results(path: str, rows: Iterable[Dict[str, Any]], fmt: Optional[str] = None) -> int:
    """Writes result rows (JSONL, or Parquet: ``index``, ``event_id``, ``response``);
    returns how many. An S3 path is written to a temporary file, then uploaded."""
    n = 0
    parquet = _is_parquet(path, fmt)
    target = path
    tmp: Optional[str] = None
    if _is_s3(path):
        fd, tmp = tempfile.mkstemp(suffix=".parquet" if parquet else ".jsonl")
        os.close(fd)
        target = tmp
    try:
        if parquet:
            pa, pq = _imp("pyarrow"), _imp("pyarrow.parquet")

            schema = pa.schema([("index", pa.int64()), ("event_id", pa.string()), ("response", pa.string())])
            with pq.ParquetWriter(target, schema) as w:
                cols: Dict[str, List[Any]] = {"index": [], "event_id": [], "response": []}

                def flush() -> None:
                    if cols["index"]:
                        w.write_table(pa.table(cols, schema=schema))
                        for v in cols.values():
                            v.clear()

                for row in rows:
                    eid = row.get("event_id")
                    cols["index"].append(row["index"])
                    cols["event_id"].append(None if eid is None else str(eid))
                    cols["response"].append(json.dumps(row, separators=(",", ":")))
                    n += 1
                    if len(cols["index"]) >= 1024:
                        flush()
                flush()
        else:
            with open(target, "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row, separators=(",", ":")))
                    out.write("\n")
                    n += 1
        if tmp is not None:
            boto3 = _imp("boto3")

            bucket, key = _s3_split(path)
            boto3.client("s3").upload_file(tmp, bucket, key)
    finally:
        if tmp is not None:
            os.unlink(tmp)
    return n


# -- symbolication -----------------------------------------------------------------


def _failed(exc: BaseException) -> Dict[str, Any]:
    return {"status": "failed", "error": {"type": type(exc).__name__, "message": str(exc)}}


def _frame_count(event: Any) -> int:
    if not isinstance(event, Mapping):
        return 0
    traces = event.get("stacktraces", event.get("threads"))
    if not isinstance(traces, list):
        return 0
    return sum(len(t["frames"]) for t in traces if isinstance(t, Mapping) and isinstance(t.get("frames"), list))


def _row(index: int, event: Any, response: Dict[str, Any]) -> Dict[str, Any]:
    row: Dict[str, Any] = {"index": index}
    if isinstance(event, Mapping) and event.get("event_id") is not None:
        row["event_id"] = event["event_id"]
    row.update(response)
    return row


def _symbolicator(stores: Sequence[Any], cache_dir: Optional[str], limits: Optional[Limits],
                  shared: Optional[Mapping[str, Any]] = None) -> Any:
    from ._symbolicate import RemotePolicy, SharedCache, Symbolicator

    sc = None
    if shared:
        c = dict(shared)
        policy = RemotePolicy(allowed_networks=list(c.pop("allowed_networks", None) or []))
        sc = SharedCache.from_config(c, policy=policy)
    # One build thread, no build processes: on Ray the parallelism is the actors' (and a
    # Ray worker's own threads are no place to fork from).
    return Symbolicator(stores, cache_dir=cache_dir, limits=limits, build_workers=1, build_processes=0,
                        shared_cache=sc)


def _local(events: Iterable[Any], stores: Sequence[Any], cache_dir: Optional[str], limits: Optional[Limits],
           shared: Optional[Mapping[str, Any]], stats: BatchStats) -> Iterator[Dict[str, Any]]:
    sym = _symbolicator(stores, cache_dir, limits, shared)
    for i, event in enumerate(events):
        yield _row(i, event, _one(sym, event))
    stats.symcache = dict(sym.stats)


def _one(sym: Any, event: Any) -> Dict[str, Any]:
    if isinstance(event, BaseException):
        return _failed(event)
    try:
        return dict(sym.symbolicate(event))
    except (PysymError, ValueError, TypeError) as e:
        return _failed(e)


# Worker-process state of the naive mode: one symbolicator per configuration.
_WORKER_SYMS: Dict[str, Any] = {}


def _naive_task(event: Any, config: str) -> Tuple[Dict[str, Any], Dict[str, int]]:
    sym = _WORKER_SYMS.get(config)
    if sym is None:
        stores, cache_dir, limits, shared = json.loads(config)
        sym = _WORKER_SYMS[config] = _symbolicator(stores, cache_dir, Limits(**limits) if limits else None, shared)
    before = dict(sym.stats)
    out = _one(sym, event)
    return out, {k: v - before.get(k, 0) for k, v in sym.stats.items()}


class _Resolver:
    """A Ray actor: the symcaches of the debug ids routed to it, kept warm."""

    def __init__(self, stores: Sequence[Any], cache_dir: Optional[str], limits: Optional[Dict[str, Any]],
                 shared: Optional[Mapping[str, Any]]) -> None:
        self.sym = _symbolicator(stores, cache_dir, Limits(**limits) if limits else None, shared)

    def lookup(self, groups: List[Tuple[Any, List[Tuple[int, List[Tuple[int, bool]]]]]]) -> List[Any]:
        """Per group (a module, then per use of it: its image address and its
        (address, adjust) pairs): the module's resolution (status, arch, features,
        error, candidates) and, per use, each address's frames (one lookup per group)."""
        from ._symbolicate._symbolicator import lookup_items

        out: List[Any] = []
        for module, uses in groups:
            res = self.sym.resolve(module)
            summary = (res.status, res.arch, res.features, res.error, res.candidates)
            if res.symcache is None:
                out.append((summary, None))
                continue
            items: List[Tuple[int, int, int, bool]] = []
            lengths = []
            for image_addr, pairs in uses:
                delta = image_addr - module.image_addr  # the same module loaded elsewhere
                items.extend((0, 0, a - delta, adj) for a, adj in pairs)
                lengths.append(len(pairs))
            looked = list(lookup_items(res.symcache, module, res.arch, items))
            per_use, start = [], 0
            for n in lengths:
                per_use.append(looked[start : start + n])
                start += n
            out.append((summary, per_use))
        return out

    def stats(self) -> Dict[str, int]:
        return dict(self.sym.stats)


def _route(module: Any, actors: int) -> int:
    ident = module.debug_id or module.code_id or repr(module.memo_key())
    return zlib.crc32(str(ident).encode("utf-8")) % actors


_PLANNER: List[Any] = []  # a store-less symbolicator of this process: plans only


def _grouped_chunk(base: int, batch: List[Any], pool: List[Any]) -> List[Dict[str, Any]]:
    """One chunk of events (a Ray task): planned here, its lookups routed to the actors
    by debug id, the frames joined back and laid out per event; the rows."""
    ray = _imp("ray")
    from ._symbolicate._symbolicator import _Resolved, layout, templates

    if not _PLANNER:
        _PLANNER.append(_symbolicator([], None, None))
    planner = _PLANNER[0]
    plans: List[Any] = []
    # per actor: module memo key -> its group index; the groups sent
    keys: List[Dict[Any, int]] = [{} for _ in pool]
    groups: List[List[Any]] = [[] for _ in pool]
    where: List[List[Tuple[int, int, int, int]]] = [[] for _ in pool]  # (event, module index, group, use)
    for ei, event in enumerate(batch):
        if isinstance(event, BaseException):
            plans.append(event)
            continue
        try:
            p = planner.plan(event)
        except (PysymError, ValueError, TypeError) as e:
            plans.append(e)
            continue
        plans.append(p)
        for mi, items in p.wanted.items():
            m = p.modules[mi]
            a = _route(m, len(pool))
            gi = keys[a].get(m.memo_key())
            if gi is None:
                gi = keys[a][m.memo_key()] = len(groups[a])
                groups[a].append((m, []))
            uses = groups[a][gi][1]
            where[a].append((ei, mi, gi, len(uses)))
            uses.append((m.image_addr, [(addr, adj) for _t, _f, addr, adj in items]))
    refs = [pool[a].lookup.remote(groups[a]) if groups[a] else None for a in range(len(pool))]
    answers = [ray.get(r) if r is not None else [] for r in refs]
    resolved: List[Dict[int, Any]] = [{} for _ in batch]
    results: List[Dict[Tuple[int, int], Any]] = [{} for _ in batch]
    made: Dict[Tuple[int, int], Any] = {}
    for a, places in enumerate(where):
        for ei, mi, gi, ui in places:
            summary, per_use = answers[a][gi]
            res = made.get((a, gi))
            if res is None:
                status, arch, features, error, candidates = summary
                res = made[a, gi] = _Resolved(status=status, arch=arch, features=features, error=error,
                                              candidates=candidates)
            resolved[ei][mi] = res
            if per_use is not None:
                p = plans[ei]
                m = p.modules[mi]
                found = results[ei]
                # Templates once per chain: its innermost frame names it (one Frame object
                # per location row, kept shared by the answer's pickle).
                chains: Dict[int, Tuple[Any, List[Dict[str, Any]]]] = {}
                for (ti, fi, _addr, _adj), frames in zip(p.wanted[mi], per_use[ui]):
                    if not frames:
                        found[ti, fi] = []
                        continue
                    hit = chains.get(id(frames[0]))
                    if hit is None or hit[0] is not frames[0]:
                        hit = chains[id(frames[0])] = (frames[0], templates(frames, m, p.want_context))
                    found[ti, fi] = hit[1]
    rows = []
    for ei, p in enumerate(plans):
        if isinstance(p, BaseException):
            rows.append(_row(base + ei, batch[ei], _failed(p)))
        else:
            rows.append(_row(base + ei, batch[ei], layout(p, resolved[ei], results[ei])))
    return rows


def _grouped(events: Iterable[Any], stores: Sequence[Any], cache_dir: Optional[str], limits: Optional[Limits],
             shared: Optional[Mapping[str, Any]], actors: int, chunk: int,
             stats: BatchStats) -> Iterator[Dict[str, Any]]:
    """Chunks of events go to Ray tasks (planning and laying out run in parallel), whose
    lookups go to the actors that hold each debug id's symcache warm."""
    ray = _imp("ray")

    lim = _limits_dict(limits)
    Actor = ray.remote(max_restarts=1, max_task_retries=1)(_Resolver)  # a dead actor is replaced, its call retried
    pool = [Actor.remote(list(stores), cache_dir, lim, shared) for _ in range(actors)]
    task = ray.remote(max_retries=1)(_grouped_chunk)
    window: List[Any] = []
    it = iter(events)
    base = 0
    try:
        while True:
            batch = _take(it, chunk)
            if batch:
                window.append(task.remote(base, batch, pool))
                base += len(batch)
            while window and (len(window) > max(2, actors) or not batch):
                yield from ray.get(window.pop(0))
            if not batch:
                break
        totals: Dict[str, int] = {}
        for s in ray.get([a.stats.remote() for a in pool]):
            for k, v in s.items():
                totals[k] = totals.get(k, 0) + v
        stats.symcache = totals
    finally:
        for a in pool:
            ray.kill(a)


def _take(it: Iterator[Any], n: int) -> List[Any]:
    out = []
    for x in it:
        out.append(x)
        if len(out) >= n:
            break
    return out


def _naive(events: Iterable[Any], stores: Sequence[Any], cache_dir: Optional[str], limits: Optional[Limits],
           shared: Optional[Mapping[str, Any]], inflight: int, stats: BatchStats) -> Iterator[Dict[str, Any]]:
    ray = _imp("ray")

    task = ray.remote(max_retries=1)(_naive_task)
    config = json.dumps([list(stores), cache_dir, _limits_dict(limits), shared])
    window: List[Tuple[int, Any, Any]] = []
    totals: Dict[str, int] = {}

    def drain(keep: int) -> Iterator[Dict[str, Any]]:
        while len(window) > keep:
            i, event, ref = window.pop(0)
            out, delta = ray.get(ref)
            for k, v in delta.items():
                totals[k] = totals.get(k, 0) + v
            yield _row(i, event, out)

    for i, event in enumerate(events):
        if isinstance(event, BaseException):
            window.append((i, event, ray.put((_failed(event), {}))))
        else:
            window.append((i, event, task.remote(event, config)))
        yield from drain(inflight)
    yield from drain(0)
    stats.symcache = totals


def _limits_dict(limits: Optional[Limits]) -> Optional[Dict[str, Any]]:
    if limits is None:
        return None
    return limits.as_dict()


def symbolicate_events(events: Iterable[Any], *, stores: Sequence[Any],
                       cache_dir: "Optional[str | os.PathLike[str]]" = None,
                       limits: Optional[Limits] = None, mode: str = "grouped", actors: int = 2,
                       chunk: int = DEFAULT_CHUNK, stats: Optional[BatchStats] = None,
                       shared_cache: Optional[Mapping[str, Any]] = None) -> Iterator[Dict[str, Any]]:
    """Result rows for ``events`` (an iterable of requests), in order; see the module
    documentation. ``stores``: store configurations as :class:`pysym.Symbolicator`
    takes them (paths or mappings: they travel to the Ray workers). ``shared_cache``: an
    S3 symcache cache shared by all workers and jobs, as ``[cache] shared`` of ``pysym
    serve`` configures it, plus ``allowed_networks`` for a private endpoint. The Ray modes need
    ``ray.init()`` done by the caller (or :func:`run`). ``stats`` is filled as rows go."""
    if mode not in MODES:
        raise ValueError("mode must be one of %s" % ", ".join(MODES))
    for s in stores:
        if not isinstance(s, (str, Mapping)):
            raise TypeError("batch stores are configurations (a path or a mapping), not %r" % type(s).__name__)
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    st = stats if stats is not None else BatchStats()
    t0 = time.monotonic()

    def counted(rows: Iterator[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
        for row in rows:
            st.events += 1
            if row.get("status") == "failed":
                st.failed += 1
            st.seconds = time.monotonic() - t0
            yield row

    def frames(it: Iterable[Any]) -> Iterator[Any]:
        for e in it:
            st.frames += _frame_count(e)
            yield e

    src = frames(events)
    if mode == "local":
        return counted(_local(src, stores, cache, limits, shared_cache, st))
    if mode == "naive":
        return counted(_naive(src, stores, cache, limits, shared_cache, max(2, 4 * actors), st))
    return counted(_grouped(src, stores, cache, limits, shared_cache, max(1, int(actors)), max(1, int(chunk)), st))


def run(source: str, dest: str, *, stores: Sequence[Any], cache_dir: Optional[str] = None,
        limits: Optional[Limits] = None, mode: str = "grouped", actors: int = 2, chunk: int = DEFAULT_CHUNK,
        ray_address: Optional[str] = None, num_cpus: Optional[int] = None, fmt_in: Optional[str] = None,
        fmt_out: Optional[str] = None, shared_cache: Optional[Mapping[str, Any]] = None) -> BatchStats:
    """Reads ``source``, symbolicates, writes ``dest``; returns the :class:`BatchStats`.
    On Ray: joins the cluster at ``ray_address`` (``"auto"``: the one started with ``ray
    start``), or starts a local one with ``num_cpus`` that is stopped at the end."""
    stats = BatchStats()
    started = False
    if mode != "local":
        try:
            ray = _imp("ray")
        except ImportError:
            raise ImportError("the Ray modes need Ray: pip install pysym[ray]") from None
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            if ray_address:
                ray.init(address=ray_address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            started = True
    try:
        rows = symbolicate_events(read_events(source, fmt_in), stores=stores, cache_dir=cache_dir, limits=limits,
                                  mode=mode, actors=actors, chunk=chunk, stats=stats, shared_cache=shared_cache)
        write_results(dest, rows, fmt_out)
    finally:
        if started:
            ray = _imp("ray")

            ray.shutdown()
    return stats


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pysym.batch", description=__doc__.split("\n\n")[0] if __doc__ else "")
    ap.add_argument("input", help="JSONL or Parquet events (a path or s3://BUCKET/KEY)")
    ap.add_argument("output", help="JSONL or Parquet results (by extension; a path or s3://BUCKET/KEY)")
    ap.add_argument("--store", action="append", default=[], metavar="DIR[:layout]",
                    help="a debug-file store (repeatable), or --stores-json")
    ap.add_argument("--stores-json", help="a JSON list of store configurations (http, s3 sources...)")
    ap.add_argument("--cache-dir", help="symcache cache directory (shared by the workers of one node)")
    ap.add_argument("--shared-cache-json", help='an S3 symcache cache shared by all nodes: {"bucket", "prefix", '
                    '"endpoint_url", "integrity_key", "allowed_networks", ...}')
    ap.add_argument("--mode", choices=MODES, default="grouped")
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="events per round of lookups")
    ap.add_argument("--ray-address", help="join this Ray cluster (default: start a local one)")
    ap.add_argument("--num-cpus", type=int, help="CPUs of the local Ray cluster")
    ap.add_argument("--input-format", choices=("jsonl", "parquet"))
    ap.add_argument("--output-format", choices=("jsonl", "parquet"))
    args = ap.parse_args(argv)
    stores: List[Any] = list(args.store)
    if args.stores_json:
        stores += json.loads(args.stores_json)
    if not stores:
        ap.error("give at least one --store or --stores-json")
    st = run(args.input, args.output, stores=stores, cache_dir=args.cache_dir, mode=args.mode, actors=args.actors,
             chunk=args.chunk, ray_address=args.ray_address, num_cpus=args.num_cpus, fmt_in=args.input_format,
             fmt_out=args.output_format,
             shared_cache=json.loads(args.shared_cache_json) if args.shared_cache_json else None)
    print(json.dumps({"events": st.events, "frames": st.frames, "failed": st.failed, "seconds": round(st.seconds, 3),
                      "frames_per_second": round(st.frames / st.seconds) if st.seconds else None,
                      "symcache": st.symcache}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
