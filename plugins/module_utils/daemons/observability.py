# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a daemon shows of itself: structured logs, optional traces, Prometheus metrics and the
``/healthz``, ``/readyz`` and ``/metrics`` endpoints."""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube, tracing
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.pacing import StatusHold, StatusPacer

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    HAS_PROMETHEUS = True
except ImportError:  # pragma: no cover - metrics are then off
    HAS_PROMETHEUS = False

LOG = logging.getLogger("tmc")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in (getattr(record, "fields", {}) or {}).items())
        return f"{self.formatTime(record)} {record.levelname:<7} {record.getMessage()} {fields}".rstrip()


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def log(level: int, msg: str, **fields) -> None:
    LOG.log(level, msg, extra={"fields": fields})


def span(name: str, **attributes):
    """An OpenTelemetry span when the library is installed, else nothing (see ``tracing.span``)."""
    return tracing.span(name, **attributes)


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Hub change -> member applied, and member change -> hub status: the SLIs' buckets, with the SLO
# thresholds (1 s sync, 5 s status; docs/operations/slo.md) as bucket bounds so their ratios are exact.
SLI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class ClusterRow:
    """One member cluster as the controller judges it now (``Metrics.watch_fleet``)."""

    cluster: str
    ready: bool
    heartbeat_age: float | None  # seconds since the controller saw the heartbeat Lease change; None: never
    taints: Mapping[str, int]  # effect -> how many
    works: Sequence[int] = (0, 0, 0, 0)  # SyncWorks: total, applied, available, degraded


class _FleetCollector:
    """``tmc_cluster_*`` from the controller's caches at scrape time: one series per member cluster
    (bounded by the fleet's size), nothing per workload."""

    def __init__(self, rows: Callable[[], Iterable[ClusterRow]]):
        self.rows = rows

    @staticmethod
    def _families() -> dict:
        return {
            "ready": GaugeMetricFamily(
                "tmc_cluster_ready", "1 while the cluster is Ready (the controller's judgement).", labels=["cluster"]
            ),
            "age": GaugeMetricFamily(
                "tmc_cluster_heartbeat_age_seconds",
                "Seconds since the controller saw the cluster's heartbeat Lease renewed (absent: never).",
                labels=["cluster"],
            ),
            "taints": GaugeMetricFamily(
                "tmc_cluster_taints", "Taints on the cluster, by effect.", labels=["cluster", "effect"]
            ),
            "works": GaugeMetricFamily(
                "tmc_cluster_syncworks",
                "SyncWorks for the cluster, by state (total, applied, available, degraded).",
                labels=["cluster", "state"],
            ),
        }

    def describe(self):
        return list(self._families().values())

    def collect(self):
        families = self._families()
        for row in self.rows():
            families["ready"].add_metric([row.cluster], 1.0 if row.ready else 0.0)
            if row.heartbeat_age is not None:
                families["age"].add_metric([row.cluster], row.heartbeat_age)
            for effect in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                families["taints"].add_metric([row.cluster, effect], float(row.taints.get(effect, 0)))
            for state, value in zip(("total", "applied", "available", "degraded"), row.works, strict=True):
                families["works"].add_metric([row.cluster, state], float(value))
        return list(families.values())


class _BreakerTrips:
    """``tmc_circuit_breaker_trips_total``: the breakers' own trip counts, exposed as the counter they are."""

    def __init__(self):
        self.breakers: dict[str, kube.CircuitBreaker] = {}

    def describe(self):
        return [self._family()]

    @staticmethod
    def _family():
        return CounterMetricFamily(
            "tmc_circuit_breaker_trips", "Times the circuit to a server opened.", labels=["server"]
        )

    def collect(self):
        family = self._family()
        for server, breaker in sorted(self.breakers.items()):
            family.add_metric([server], float(breaker.trips))
        return [family]


class _WatchCaches:
    """``tmc_watch_cache_objects``: objects in the daemon's watch caches, by kind (the per-namespace
    caches of one kind add up)."""

    def __init__(self):
        self.caches: dict[str, list] = {}
        self._lock = threading.Lock()

    def add(self, resource: str, cache) -> None:
        with self._lock:
            self.caches.setdefault(resource, []).append(cache)

    @staticmethod
    def _family():
        return GaugeMetricFamily(
            "tmc_watch_cache_objects", "Objects held in the daemon's watch caches, by kind.", labels=["resource"]
        )

    def describe(self):
        return [self._family()]

    def collect(self):
        family = self._family()
        with self._lock:
            caches = {resource: list(found) for resource, found in self.caches.items()}
        for resource, found in sorted(caches.items()):
            family.add_metric([resource], float(sum(len(cache) for cache in found)))
        return [family]


class Metrics:
    """The daemons' Prometheus metrics, in their own registry. One naming scheme: the seed's
    ``syncer_*`` names (DESIGN.md section 4) and ``tmc_*`` for everything else; counters end in
    ``_total``, units are in the names (``_seconds``, ``_bytes``), and no label names an object
    (labels are clusters, kinds, verbs, codes, queues: bounded). ``docs/operations/metrics.md`` is
    generated from this class (``python -m hack.docs metrics``)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and HAS_PROMETHEUS
        if not self.enabled:
            return
        self.registry = CollectorRegistry()
        r = self.registry

        def latency(name: str, doc: str, labels: list[str]) -> Histogram:
            return Histogram(name, doc, labels, registry=r, buckets=LATENCY_BUCKETS)

        self.operations = Counter(
            "syncer_operations_total",
            "Sync operations.",
            ["sync_target", "resource_type", "operation", "result"],
            registry=r,
        )
        self.operation_seconds = Histogram(
            "syncer_operation_duration_seconds",
            "Duration of sync operations.",
            ["sync_target", "operation"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.resources = Gauge("syncer_resources_total", "Objects synced to a target.", ["sync_target"], registry=r)
        self.target_health = Gauge(
            "syncer_target_health", "1 when the sync target is healthy.", ["sync_target"], registry=r
        )
        self.errors = Counter(
            "syncer_errors_total",
            "Syncer errors by type (apply: the member refused an object).",
            ["sync_target", "error_type"],
            registry=r,
        )
        self.decision_seconds = Histogram(
            "tmc_placement_decision_duration_seconds",
            "Placement decisions.",
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
        )
        self.queue_depth = Gauge("tmc_workqueue_depth", "Keys waiting in the work queue.", ["queue"], registry=r)
        self.queue_seconds = latency(
            "tmc_workqueue_queue_duration_seconds",
            "How long a key waited in the work queue before a worker took it.",
            ["queue", "key_type"],
        )
        self.request_seconds = latency(
            "tmc_api_request_duration_seconds",
            "API calls by server role and verb (one attempt each).",
            ["server", "verb"],
        )
        self.requests = Counter(
            "tmc_api_requests_total", "API calls by server role and answer.", ["server", "code"], registry=r
        )
        self.circuit_open = Gauge(
            "tmc_circuit_breaker_open", "1 while the circuit to a server is open.", ["server"], registry=r
        )
        self.breaker_trips = _BreakerTrips()
        r.register(self.breaker_trips)
        self.watch_caches = _WatchCaches()
        r.register(self.watch_caches)
        self.watch_restarts = Counter(
            "tmc_watch_restarts_total", "Watches restarted, by reason.", ["resource", "reason"], registry=r
        )
        self.leader = Gauge("tmc_leader", "1 while this process is the leader.", registry=r)
        self.status_paced = Counter(
            "tmc_status_writes_paced_total",
            "Hub status writes that waited for a slot of --status-qps (then written once, with the latest status).",
            ["daemon"],
            registry=r,
        )
        self.status_writes = Counter(
            "tmc_status_writes_total", "Status writes sent to the hub (one object each).", ["daemon"], registry=r
        )
        self.status_waiting = Gauge(
            "tmc_status_writes_waiting", "Objects whose hub status write waits for its slot.", ["daemon"], registry=r
        )
        self.status_held = Gauge(
            "tmc_status_writes_held",
            "Objects whose hub status write waits for the desired states queued (--status-hold).",
            ["daemon"],
            registry=r,
        )
        self.reconcile_seconds = latency("tmc_reconcile_duration_seconds", "One reconcile of one key.", ["kind"])
        self.sync_latency = Histogram(
            "tmc_sync_latency_seconds",
            "From the controller writing a SyncWork's new desired state on the hub to the syncer having "
            "applied it on the member (the sync SLI; hub and daemon clocks are assumed in sync).",
            ["cluster"],
            registry=r,
            buckets=SLI_BUCKETS,
        )
        self.upsync_seconds = Histogram(
            "tmc_status_upsync_duration_seconds",
            "From the syncer computing a SyncWork's new status to the hub having it (pacing and holds "
            "included; the status upsync SLI).",
            ["cluster"],
            registry=r,
            buckets=SLI_BUCKETS,
        )
        # CPU, memory, open files and Python's GC of this process (the daemons dashboard).
        prometheus_client.ProcessCollector(registry=r)
        prometheus_client.PlatformCollector(registry=r)
        prometheus_client.GCCollector(registry=r)
        self.untrusted = Counter(
            "tmc_untrusted_objects_total",
            "Objects the controller ignored because they are not where (or what) they must be: a SyncWork outside"
            " its cluster namespace, or one whose name, cluster or labels disagree with its spec.",
            ["kind"],
            registry=r,
        )

    def observer(self, server: str) -> Callable[[str, str, int, float], None] | None:
        if not self.enabled:
            return None

        def observe(method: str, _path: str, status: int, seconds: float) -> None:
            self.requests.labels(server, str(status)).inc()
            self.request_seconds.labels(server, method).observe(seconds)

        return observe

    def status_pacer(self, daemon: str, args: argparse.Namespace, busy: Callable[[], bool]) -> StatusPacer:
        """The daemon's pacer of hub status writes (``--status-qps``/``--status-burst``), holding them
        while ``busy()`` (``--status-hold``), measured."""
        hold = StatusHold(args.status_hold, busy)
        on_slot = self.status_paced.labels(daemon).inc if self.enabled else None
        pacer = StatusPacer(args.status_qps, args.status_burst, on_slot=on_slot, hold=hold)
        if self.enabled:
            self.status_waiting.labels(daemon).set_function(pacer.waiting)
            self.status_held.labels(daemon).set_function(hold.held)
        return pacer

    def watch_breaker(self, server: str, breaker: kube.CircuitBreaker) -> None:
        if self.enabled:
            self.circuit_open.labels(server).set_function(lambda: 1.0 if breaker.is_open else 0.0)
            self.breaker_trips.breakers[server] = breaker

    def watch_cache(self, resource: str, cache) -> None:
        """Count ``len(cache)`` into ``tmc_watch_cache_objects{resource}`` at each scrape."""
        if self.enabled:
            self.watch_caches.add(resource, cache)

    def watch_fleet(self, rows: Callable[[], Iterable[ClusterRow]]) -> None:
        """Export ``tmc_cluster_*`` from ``rows()`` at each scrape (the controller's view of its members)."""
        if self.enabled:
            self.registry.register(_FleetCollector(rows))

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry) if self.enabled else b""


class Endpoints:
    """/healthz (process alive and loops turning), /readyz (caches synced), /metrics."""

    def __init__(self, metrics: Metrics, healthy: Callable[[], bool], ready: Callable[[], bool]):
        self.metrics, self.healthy, self.ready = metrics, healthy, ready
        self.servers: list[ThreadingHTTPServer] = []

    def _handler(self):
        endpoints = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path.startswith("/metrics"):
                    body, code, ctype = endpoints.metrics.render(), 200, "text/plain; version=0.0.4"
                elif self.path.startswith("/healthz"):
                    ok = endpoints.healthy()
                    body, code, ctype = (b"ok" if ok else b"unhealthy"), (200 if ok else 503), "text/plain"
                elif self.path.startswith("/readyz"):
                    ok = endpoints.ready()
                    body, code, ctype = (b"ok" if ok else b"not ready"), (200 if ok else 503), "text/plain"
                else:
                    body, code, ctype = b"not found", 404, "text/plain"
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                return

        return Handler

    def serve(self, address: str, port: int) -> int:
        """Serve on ``port`` (0 picks a free one); returns the port. A port that cannot be had is a
        configuration error (api.TMCError) that names it."""
        try:
            server = ThreadingHTTPServer((address, port), self._handler())
        except OSError as err:
            reason = "already in use by another process" if err.errno == errno.EADDRINUSE else err.strerror or err
            raise api.TMCError(
                f"cannot serve /metrics, /healthz and /readyz on {address}:{port}: {reason}; "
                "choose another --metrics-port/--health-port"
            ) from None
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
        self.servers.append(server)
        return server.server_address[1]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
