"""Counters and latency histograms in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

import bisect
import threading
from typing import Dict, List, Mapping, Tuple

__all__ = ["Metrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_Labels = Tuple[Tuple[str, str], ...]

# What the workers count (pool stats) -> (metric, help).
WORKER_COUNTERS = {
    "symcache_builds": ("pysym_symcache_builds_total", "Symcaches built in the sandbox"),
    "symcache_disk_hits": ("pysym_symcache_disk_hits_total", "Symcaches loaded from the disk cache"),
    "symcache_memory_hits": ("pysym_symcache_memory_hits_total", "Symcaches reused from a worker's memory"),
    "cache_hits": ("pysym_download_cache_hits_total", "Remote files or remembered misses in the download cache"),
    "cache_misses": ("pysym_download_cache_misses_total", "Remote files not in the download cache"),
    "downloads": ("pysym_downloads_total", "Files downloaded from remote sources"),
    "downloaded_bytes": ("pysym_downloaded_bytes_total", "Bytes downloaded from remote sources"),
    "download_errors": ("pysym_download_errors_total", "Failed downloads"),
    "refused_addresses": ("pysym_refused_addresses_total", "Connections refused by the address policy"),
    "backoffs": ("pysym_source_backoffs_total", "Times a host was put in back-off"),
    "decompressed": ("pysym_decompressed_downloads_total", "Downloads decompressed in the sandbox"),
    "decompress_errors": ("pysym_decompress_errors_total", "Compressed downloads refused (damaged, or past the cap)"),
    "symcache_shared_hits": ("pysym_symcache_shared_hits_total", "Symcaches loaded from the shared (S3) cache"),
    "shared_cache_hits": ("pysym_shared_cache_hits_total", "Shared cache objects read back and checked"),
    "shared_cache_misses": ("pysym_shared_cache_misses_total", "Shared cache lookups that found nothing"),
    "shared_cache_rejected": ("pysym_shared_cache_rejected_total", "Shared cache objects that failed the checks"),
    "shared_cache_puts": ("pysym_shared_cache_puts_total", "Symcaches uploaded to the shared cache"),
    "shared_cache_errors": ("pysym_shared_cache_errors_total", "Shared cache requests that failed"),
    "uncached_downloads": ("pysym_uncached_downloads_total", "Downloads kept in memory (the cache refused writes)"),
    "symcache_build_runtimes_dropped": ("pysym_build_runtimes_dropped_total",
                                        "Build runtimes dropped after a build grew them past cache.build_memory_bytes"),
}


def _fmt_labels(labels: _Labels) -> str:
    if not labels:
        return ""
    esc = [(k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in labels]
    return "{" + ",".join('%s="%s"' % kv for kv in esc) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: Dict[str, Dict[_Labels, float]] = {}
        self.help: Dict[str, str] = {}
        self.hist: Dict[_Labels, List[float]] = {}  # bucket counts + [sum, count]

    def inc(self, name: str, help: str, n: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self.help.setdefault(name, help)
            series = self.counters.setdefault(name, {})
            series[key] = series.get(key, 0) + n

    def observe(self, seconds: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            h = self.hist.setdefault(key, [0.0] * (len(_BUCKETS) + 2))
            i = bisect.bisect_left(_BUCKETS, seconds)
            if i < len(_BUCKETS):  # past the last bound: only in +Inf (the count)
                h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def render(self, gauges: Mapping[str, Tuple[str, float]], worker_stats: Mapping[str, int]) -> str:
        lines: List[str] = []
        with self._lock:
            for name in sorted(self.counters):
                lines.append("# HELP %s %s" % (name, self.help[name]))
                lines.append("# TYPE %s counter" % name)
                for labels, v in sorted(self.counters[name].items()):
                    lines.append("%s%s %s" % (name, _fmt_labels(labels), _num(v)))
            name = "pysym_request_duration_seconds"
            lines.append("# HELP %s Time from a request's arrival to its answer" % name)
            lines.append("# TYPE %s histogram" % name)
            for labels, h in sorted(self.hist.items()):
                acc = 0.0
                for bound, n in zip(_BUCKETS, h):
                    acc += n
                    lines.append("%s_bucket%s %s" % (name, _fmt_labels(labels + (("le", repr(bound)),)), _num(acc)))
                lines.append("%s_bucket%s %s" % (name, _fmt_labels(labels + (("le", "+Inf"),)), _num(h[-1])))
                lines.append("%s_sum%s %s" % (name, _fmt_labels(labels), repr(h[-2])))
                lines.append("%s_count%s %s" % (name, _fmt_labels(labels), _num(h[-1])))
        for key, (name, help) in WORKER_COUNTERS.items():
            lines.append("# HELP %s %s" % (name, help))
            lines.append("# TYPE %s counter" % name)
            lines.append("%s %d" % (name, int(worker_stats.get(key, 0))))
        for name, (help, value) in sorted(gauges.items()):
            kind = "counter" if name.endswith("_total") else "gauge"
            lines.append("# HELP %s %s" % (name, help))
            lines.append("# TYPE %s %s" % (name, kind))
            lines.append("%s %s" % (name, _num(value)))
        return "\n".join(lines) + "\n"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
