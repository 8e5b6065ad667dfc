"""Objects are safe to share between threads (issue 5): 8 threads x 10,000 lookups on
shared objects give exactly the single-threaded answers, on every engine.

wasmtime: one instance per runtime, calls serialised by the runtime's lock (the GIL is
released inside wasm). wasmer: one instance per thread; each object loads itself into
every thread's instance on first use there.
"""

from __future__ import annotations

import json
import os
import random
import threading

import pysym

SEEDS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "wasm", "fuzz", "corpus")
THREADS = 8
LOOKUPS = 10_000


def make_map(lines=300, segs=60):
    rng = random.Random(5)
    out = []
    for _ in range(lines):
        parts = ["AAAA"] + ["CA%s%s" % (rng.choice("AC"), rng.choice("AC")) for _ in range(segs)]
        out.append(",".join(parts))
    return json.dumps(
        {"version": 3, "sources": ["a.js", "b.js"], "names": ["x"], "mappings": ";".join(out)}
    ).encode()


def test_threads_share_objects(engine):
    sm = pysym.SourceMap.from_bytes(make_map())
    sc = pysym.SymCache.from_object(os.path.join(SEEDS, "object", "o2"))
    rng = random.Random(1)
    queries = [[(rng.randrange(320), rng.randrange(80)) for _ in range(LOOKUPS)] for _ in range(THREADS)]
    addrs = [[rng.randrange(0x1000, 0x1300) for _ in range(200)] for _ in range(THREADS)]
    expected = [[sm.lookup(line, col) for line, col in q] for q in queries]
    expected_frames = [sc.lookup_many(a) for a in addrs]
    results = [None] * THREADS
    frames = [None] * THREADS
    errors = []
    barrier = threading.Barrier(THREADS)

    def work(i):
        try:
            barrier.wait()
            results[i] = [sm.lookup(line, col) for line, col in queries[i]]
            frames[i] = [sc.lookup(a) for a in addrs[i]]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(THREADS):
        assert results[i] == expected[i]
        assert frames[i] == expected_frames[i]
    assert sum(tok is not None for tok in expected[0]) > LOOKUPS // 2
