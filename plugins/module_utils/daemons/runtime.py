# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What both daemons stand on: flags, logs, metrics, endpoints, watches, a work queue, leader election.

Private to this collection. The pieces, each small:

- ``Reflector``: list, then watch from the list's resourceVersion; re-list on 410
  Gone or on a broken stream (after backoff); keeps a cache and calls a handler
  for every change (kopf's watching.py and client-go's reflector do the same).
- ``WorkQueue``: keys, not objects. A key is handled by one worker at a time, in
  order; a key added while it is handled is handled again afterwards; failed keys
  come back after an exponential backoff with jitter (client-go's workqueue).
- ``StatusPacer``: hub status writes at a bounded rate, each waiting object in a
  slot of its own and written once, with its latest status, when the slot comes.
- ``LeaderElector``: a coordination.k8s.io Lease, acquired when free or expired,
  renewed every retry period; timings validated as the kubernetes client does
  (lease duration > renew deadline > jitter x retry period).
- ``Endpoints``: ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus text).
- ``json_logging``: one JSON object per line (or plain text).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import heapq
import json
import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import store

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    HAS_PROMETHEUS = True
except ImportError:  # pragma: no cover - metrics are then off
    HAS_PROMETHEUS = False

try:  # OpenTelemetry is optional: spans are a no-op without it.
    from opentelemetry import trace as _otel_trace

    _TRACER = _otel_trace.get_tracer("tmc.multicluster")
except ImportError:  # pragma: no cover
    _TRACER = None

LOG = logging.getLogger("tmc")


# ------------------------------------------------------------------ flags

# Hub status writes (SyncWork status from a syncer, source status from the controller): a quiet
# daemon writes each change at once; during a burst (a thousand workloads rolling out) the writes
# queue behind the rate, and an object is written once with whatever its status has become.
STATUS_QPS = 20.0
STATUS_BURST = 50
# While a daemon has new desired states waiting, its status writes wait for them, each up to this
# many seconds (StatusHold): spec first, then one write with the status as it has become.
STATUS_HOLD = 30.0


def _bool(text: str) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes", "on")


def common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig of the hub (default: in-cluster or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context of the hub")
    parser.add_argument("--server", help="hub API server URL (with --token-file)")
    parser.add_argument("--token-file", help="file holding a bearer token for the hub")
    parser.add_argument("--certificate-authority", help="CA bundle of the hub API server")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true", help="do not verify the hub's certificate")
    parser.add_argument("--namespace", default=api.SYSTEM_NAMESPACE, help="TMC's system namespace on the hub")
    parser.add_argument("--concurrency", type=int, default=4, help="workers handling keys in parallel")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds one API request (not a watch) may take; a slower one fails, is retried with backoff "
        "and counts against the circuit breaker",
    )
    parser.add_argument("--resync-period", type=float, default=300.0, help="seconds between full resyncs")
    parser.add_argument(
        "--resource-types",
        default="",
        help="kinds to place (comma list of Kind or group/Kind); default: the placements' lists",
    )
    parser.add_argument("--namespaces", default="", help="only these hub namespaces (comma list); default all")
    parser.add_argument("--label-selector", default="", help="only workloads with these labels")
    parser.add_argument("--metrics-port", type=int, default=0, help="port of /metrics (0: off)")
    parser.add_argument("--health-port", type=int, default=0, help="port of /healthz and /readyz (0: off)")
    parser.add_argument("--bind-address", default="127.0.0.1", help="address of the HTTP endpoints")
    parser.add_argument("--feature-gates", default="", help="for example TMC=true,TMCFailover=false")
    parser.add_argument("--log-format", choices=["json", "text"], default="json")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--heartbeat-threshold",
        type=float,
        default=40.0,
        help="seconds without heartbeat before a cluster is not Ready",
    )
    parser.add_argument(
        "--eviction-timeout",
        type=float,
        default=300.0,
        help="seconds without heartbeat before a cluster's workloads fail over",
    )
    parser.add_argument(
        "--status-qps",
        type=float,
        default=STATUS_QPS,
        help="status writes to the hub per second, on average (0: no limit); an object whose status changes "
        "again while its write waits is written once, with its latest status",
    )
    parser.add_argument(
        "--status-burst", type=int, default=STATUS_BURST, help="status writes to the hub allowed at once"
    )
    parser.add_argument(
        "--status-hold",
        type=float,
        default=STATUS_HOLD,
        help="while new desired states wait, status writes wait for them, each up to this many seconds (0: never held)",
    )


def hub_config(args: argparse.Namespace) -> kube.ClientConfig:
    """The hub connection the flags describe. A --token-file is re-read at most once a minute."""
    if not args.kubeconfig and not args.server and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster_config(args.request_timeout)
    return kube.ClientConfig(
        request_timeout=args.request_timeout,
        kubeconfig=args.kubeconfig,
        context=args.context,
        host=args.server,
        token_file=args.token_file or None,
        ca_cert=args.certificate_authority,
        validate_certs=not args.insecure_skip_tls_verify,
    )


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def in_cluster_config(request_timeout: float = 30.0, base: str = SERVICE_ACCOUNT_DIR) -> kube.ClientConfig:
    """The pod's ServiceAccount: its token is re-read at most once a minute (the kubelet rotates it)."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    if ":" in host:  # IPv6
        host = f"[{host}]"
    server = f"https://{host}:{os.environ.get('KUBERNETES_SERVICE_PORT', '443')}"
    return kube.ClientConfig(
        host=server, token_file=f"{base}/token", ca_cert=f"{base}/ca.crt", request_timeout=request_timeout
    )


def split_list(text: str) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


# ------------------------------------------------------------------ logging


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


@contextmanager
def span(name: str, **attributes):
    """An OpenTelemetry span when the library is installed, else nothing."""
    if _TRACER is None:
        yield None
        return
    with _TRACER.start_as_current_span(name, attributes=attributes) as current:
        yield current


# ------------------------------------------------------------------ metrics


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The daemons' Prometheus metrics (names from DESIGN.md section 4), in their own registry."""

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
        self.errors = Counter("syncer_errors_total", "Errors by kind.", ["sync_target", "error_type"], registry=r)
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
        self.circuit_trips = Gauge(
            "tmc_circuit_breaker_trips", "Times the circuit to a server opened.", ["server"], registry=r
        )
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
            self.circuit_trips.labels(server).set_function(lambda: float(breaker.trips))

    def render(self) -> bytes:
        return prometheus_client.generate_latest(self.registry) if self.enabled else b""


# A daemon holds a connection per watch (one per kind, and per namespace with --namespaces) besides
# its workers' parallel writes (the controller writes 8 SyncWorks at once in each of --concurrency
# passes). A pool that keeps fewer drops the rest after each use and opens them again, with a
# TLS handshake each time ("Connection pool is full" in the log, 30-45 times in a 10,000 run).
# The pool opens no more connections than are in use at once; this only lets it keep them.
DAEMON_POOL_MAXSIZE = 256


def daemon_client(cfg: kube.ClientConfig, server: str, metrics: Metrics) -> kube.Kube:
    """A client of its own (not the modules' pool) with a circuit breaker and request metrics."""
    breaker = kube.CircuitBreaker(threshold=5, cooldown=5.0)
    metrics.watch_breaker(server, breaker)
    return kube.Kube(
        kube.make_transport(cfg, DAEMON_POOL_MAXSIZE),
        cfg,
        retry=kube.RetryPolicy(attempts=4, base_delay=0.2, max_delay=2.0),
        breaker=breaker,
        observer=metrics.observer(server),
    )


# ------------------------------------------------------------------ endpoints


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
        """Serve on ``port`` (0 picks a free one); returns the port."""
        server = ThreadingHTTPServer((address, port), self._handler())
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"http-{port}", daemon=True).start()
        self.servers.append(server)
        return server.server_address[1]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


# ------------------------------------------------------------------ work queue


class WorkQueue:
    """A de-duplicating, per-key-ordered queue with delayed and rate-limited adds.

    Urgent keys (a spec change) go before ordinary ones (a status change), so that a stream of
    status updates does not hold back the next desired state.
    """

    def __init__(
        self,
        name: str,
        metrics: Metrics | None = None,
        base_delay: float = 0.1,
        max_delay: float = 30.0,
        key_type: Callable[[object], str] = lambda _key: "object",
    ):
        """``key_type``: a key's type, the ``key_type`` label of the queue and reconcile metrics."""
        self.name = name
        self.key_type = key_type
        self.metrics = metrics
        self.base_delay, self.max_delay = base_delay, max_delay
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()
        self._urgent: collections.deque = collections.deque()
        self._urgent_keys: set = set()  # dirty keys that go to the urgent lane
        self._dirty: set = set()
        self._processing: set = set()
        self._delayed: list = []  # heap of (when, seq, key); at most one live entry per key
        self._due: dict = {}  # key -> seq of its live delayed entry
        self._seq = 0
        self._failures: dict = {}
        self._added: dict = {}  # dirty key -> when it was first added (tmc_workqueue_queue_duration_seconds)
        self._shutdown = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._urgent)

    def _depth(self) -> None:
        if self.metrics is not None and self.metrics.enabled:
            self.metrics.queue_depth.labels(self.name).set(len(self._queue) + len(self._urgent))

    def add(self, key, urgent: bool = False) -> None:
        with self._cond:
            if self._shutdown:
                return
            if key in self._dirty:
                if urgent and key not in self._urgent_keys:
                    self._urgent_keys.add(key)
                    if key not in self._processing and key in self._queue:
                        self._queue.remove(key)
                        self._urgent.append(key)
                return
            self._dirty.add(key)
            self._added.setdefault(key, time.monotonic())
            if urgent:
                self._urgent_keys.add(key)
            if key not in self._processing:
                (self._urgent if urgent else self._queue).append(key)
                self._depth()
                self._cond.notify()

    def add_after(self, key, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds; a key keeps one pending delayed add, the earliest."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            when = time.monotonic() + delay
            live = self._due.get(key)
            if live is not None and live[0] <= when:
                return
            self._seq += 1
            self._due[key] = (when, self._seq)
            heapq.heappush(self._delayed, (when, self._seq, key))
            self._cond.notify()

    def backoff(self, failures: int) -> float:
        """The delay after ``failures`` earlier failures: exponential with full jitter, capped."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(failures, 32))
        return random.uniform(self.base_delay, max(self.base_delay, ceiling))

    def retry(self, key) -> float:
        """Add ``key`` back after its next backoff; returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = self.backoff(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _promote_due(self) -> float | None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _when, seq, key = heapq.heappop(self._delayed)
            if self._due.get(key, (None, None))[1] != seq:
                continue  # superseded by an earlier add_after of the same key
            del self._due[key]
            if key not in self._dirty:
                self._dirty.add(key)
                self._added.setdefault(key, now)
                if key not in self._processing:
                    self._queue.append(key)
        self._depth()
        return self._delayed[0][0] - now if self._delayed else None

    def get(self, timeout: float | None = None):
        """The next key (marked processing), or None on shutdown/timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                wait = self._promote_due()
                if self._urgent or self._queue:
                    key = (self._urgent or self._queue).popleft()
                    self._dirty.discard(key)
                    self._urgent_keys.discard(key)
                    self._processing.add(key)
                    self._depth()
                    self._waited(key)
                    return key
                if self._shutdown:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                waits = [w for w in (wait, remaining) if w is not None]
                self._cond.wait(min(waits) if waits else None)

    def _waited(self, key) -> None:
        added = self._added.pop(key, None)
        if added is not None and self.metrics is not None and self.metrics.enabled:
            self.metrics.queue_seconds.labels(self.name, self.key_type(key)).observe(time.monotonic() - added)

    def done(self, key) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                (self._urgent if key in self._urgent_keys else self._queue).append(key)
                self._depth()
                self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._urgent and not self._processing

    def has_urgent(self) -> bool:
        """Whether urgent keys (new desired states) wait to be taken."""
        return bool(self._urgent)

    @property
    def is_shut_down(self) -> bool:
        return self._shutdown

    def shutdown(self, drop_pending: bool = True) -> None:
        """Stop handing out keys (pending ones are dropped: the next start re-lists anyway)."""
        with self._cond:
            self._shutdown = True
            if drop_pending:
                self._queue.clear()
                self._urgent.clear()
                self._urgent_keys.clear()
                self._dirty.clear()
                self._added.clear()
                self._delayed.clear()
                self._due.clear()
            self._cond.notify_all()


CACHE_RETRY = 1.0  # seconds before a key that waits for a cache comes back


class CacheNotSynced(api.TMCError):
    """A key needs a watch cache whose first list has not finished. It waits for it: the worker
    puts the key back after ``CACHE_RETRY`` seconds, with no failure counted, rather than work from
    a part of the kind or list the whole kind from the API server in the cache's place (per key:
    at 10,000 workloads, a restarted controller that did so held 850 MB)."""

    def __init__(self, kind: str):
        super().__init__(f"the {kind} cache has not finished its first list")
        self.kind = kind


def filled(cache, what: str):
    """``cache`` (a Reflector or ReflectorSet) once it has its first list; ``CacheNotSynced``, naming
    ``what``, before."""
    if not cache.synced.is_set():
        raise CacheNotSynced(what)
    return cache


def run_workers(
    queue: WorkQueue, handle: Callable[[object], None], count: int, metrics: Metrics | None = None, kind: str = "key"
) -> list[threading.Thread]:
    """Start ``count`` threads that take keys and call ``handle``; failures are retried with backoff,
    and a key that waits for a cache (``CacheNotSynced``) comes back after ``CACHE_RETRY`` seconds.

    The threads end when the queue is shut down, each after finishing the key it holds.
    """

    waited_for: set = set()  # caches already said to be waited for: one line each, not one per key

    def work_on(key) -> None:
        started = time.monotonic()
        try:
            handle(key)
            queue.forget(key)
        except CacheNotSynced as err:
            queue.add_after(key, CACHE_RETRY)
            if err.kind not in waited_for:
                waited_for.add(err.kind)
                log(logging.INFO, "waiting for a cache", key=str(key), cache=err.kind, retry_in_s=CACHE_RETRY)
        except Exception as err:  # noqa: BLE001 - one key's failure must not kill the worker
            delay = queue.retry(key)
            log(
                logging.WARNING if isinstance(err, api.TMCError) else logging.ERROR,
                "reconcile failed; will retry",
                key=str(key),
                error=str(err),
                retry_in_s=round(delay, 2),
            )
        finally:
            queue.done(key)
            if metrics is not None and metrics.enabled:
                metrics.reconcile_seconds.labels(f"{kind}/{queue.key_type(key)}").observe(time.monotonic() - started)

    def worker():
        while True:
            key = queue.get(timeout=0.5)
            if key is None:
                if queue.is_shut_down:
                    return
                continue
            try:
                work_on(key)
            except Exception as err:  # noqa: BLE001 - a failure around the handler (logging, metrics) neither
                log(logging.ERROR, "worker error", key=str(key), error=str(err))  # kills the worker

    threads = [threading.Thread(target=worker, name=f"{queue.name}-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


# ------------------------------------------------------------------ status pacing


class StatusPacer:
    """At most ``rate`` writes per second on average and ``burst`` at once (a token bucket), with
    a slot per waiting key: a write over the rate is given the next free slot (a reservation, as
    in golang.org/x/time/rate), and asking again for the same key returns the time left to its
    slot, so a key waits once, however often it is asked for meanwhile, and is then written once.

    ``rate`` 0 or less: no limit. ``on_slot`` is called for every slot given (a metric);
    ``clock`` is injectable for tests. ``hold``: a ``StatusHold`` asked first (spec first); a held
    write waits for it, not for a slot.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        on_slot: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        hold: StatusHold | None = None,
    ):
        self.rate, self.burst = rate, max(1, int(burst))
        self.hold = hold if hold is not None else StatusHold(0.0, lambda: False)  # limit 0: never holds
        self._on_slot = on_slot
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()
        self._slots: dict = {}
        self._lock = threading.Lock()

    def wait(self, key) -> float:
        """Seconds ``key``'s write must wait (for its hold, or for its slot); 0.0: write it now (its
        token is taken)."""
        held = self.hold.wait(key)
        if held > 0 or self.rate <= 0:
            return held
        with self._lock:
            now = self._clock()
            slot = self._slots.get(key)
            if slot is not None:
                if slot > now:
                    return slot - now
                del self._slots[key]
                return 0.0
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            if self._tokens >= 0.0:
                return 0.0
            delay = -self._tokens / self.rate
            self._slots[key] = now + delay
        if self._on_slot is not None:
            self._on_slot()
        return delay

    def held(self, key) -> float:
        """Seconds left to ``key``'s slot or of its hold (0.0: neither, or their time has come); takes
        nothing."""
        with self._lock:
            slot = self._slots.get(key)
            left = 0.0 if slot is None else max(0.0, slot - self._clock())
        return max(left, self.hold.remaining(key))

    def release(self) -> list:
        """The keys held for new desired states, once there are none (``StatusHold.release``)."""
        return self.hold.release()

    def forget(self, key) -> None:
        """``key`` will not be written (its object is gone): drop its slot and its hold."""
        with self._lock:
            self._slots.pop(key, None)
        self.hold.forget(key)

    def waiting(self) -> int:
        """How many keys hold a slot."""
        with self._lock:
            return len(self._slots)


class StatusHold:
    """Spec first: while a daemon has new desired states waiting (``busy()``), its status writes wait
    for them, each at most ``limit`` seconds from the first time it was asked for.

    At 10,000 workloads the hub spends most of its time on status writes (a SyncWork's status changes
    when it is applied and again when the member's controllers have seen it, a source's with each of
    its clusters), and every one of them delays the creates that put workloads on the members. A
    held write is made once, with the status as it is by then. A quiet daemon is never busy, so its
    writes are not held (the status latency of a single change is unchanged).

    ``wait(key)`` says how long a write must still wait; ``release()`` hands back the held keys once
    the daemon is no longer busy, to be written at once: a released key's next ``wait`` is 0.0 even
    if the daemon is busy again by then (a daemon whose bursts come and go would otherwise hold a
    write again and again, past the limit). ``clock`` is injectable for tests.
    """

    def __init__(self, limit: float, busy: Callable[[], bool], clock: Callable[[], float] = time.monotonic):
        self.limit, self.busy, self._clock = limit, busy, clock
        self._since: dict = {}  # held key -> when it was first held
        self._released: set = set()  # keys let go by release(), not yet asked for again
        self._lock = threading.Lock()

    def wait(self, key) -> float:
        """Seconds ``key``'s status write must wait; 0.0: write it now (it is no longer held)."""
        if self.limit <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            if key in self._released:
                self._released.discard(key)
                return 0.0
            since = self._since.get(key)
            if not self.busy() or (since is not None and now - since >= self.limit):
                self._since.pop(key, None)
                return 0.0
            if since is None:
                self._since[key] = since = now
            return since + self.limit - now

    def remaining(self, key) -> float:
        """Seconds left of ``key``'s hold (0.0: not held, or no longer); starts none."""
        with self._lock:
            since = self._since.get(key)
            if since is None or not self.busy():
                return 0.0
            return max(0.0, since + self.limit - self._clock())

    def release(self) -> list:
        """The held keys, once the daemon is not busy (none while it is); they are no longer held."""
        with self._lock:
            if not self._since or self.busy():
                return []
            keys, self._since = list(self._since), {}
            self._released.update(keys)
            return keys

    def forget(self, key) -> None:
        """``key`` will not be written (its object is gone)."""
        with self._lock:
            self._since.pop(key, None)
            self._released.discard(key)

    def held(self) -> int:
        """How many keys are held."""
        with self._lock:
            return len(self._since)


# ------------------------------------------------------------------ reflector


def spec_changed(old: Mapping | None, new: Mapping) -> bool:
    """False for an event that changes only status (such as the ones the daemons write themselves)."""
    if old is None:
        return True
    strip = ("status", "metadata")
    before = {k: v for k, v in old.items() if k not in strip}
    after = {k: v for k, v in new.items() if k not in strip}
    meta_old, meta_new = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        before != after
        or meta_old.get("labels") != meta_new.get("labels")
        or meta_old.get("deletionTimestamp") != meta_new.get("deletionTimestamp")
    )


def all_alive(threads) -> bool:
    """True when every thread (workers, watches) still runs: /healthz fails once one has died."""
    return all(thread.is_alive() for thread in threads)


def _slim(obj: dict) -> dict:
    """The object as the caches keep it: without managedFields, which nothing reads and which are
    often the larger half of an object."""
    (obj.get("metadata") or {}).pop("managedFields", None)
    return obj


def object_key(obj: Mapping) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class Reflector:
    """A watched cache of one kind: ``handler(event, obj, old)`` runs for every change."""

    def __init__(
        self,
        client: kube.Kube,
        api_version: str,
        kind: str,
        handler: Callable,
        stop: threading.Event,
        namespace: str | None = None,
        label_selector: str | None = None,
        resync_period: float = 300.0,
        metrics: Metrics | None = None,
        name: str | None = None,
        indexers: Mapping[str, Callable[[dict], Iterable]] | None = None,
        transform: Callable[[dict], dict] | None = None,
    ):
        """``transform``: what the cache keeps of each object (a smaller copy); handlers see that copy,
        as ``obj`` and as ``old``, so that they compare like with like."""
        self.client, self.api_version, self.kind = client, api_version, kind
        self.transform = transform
        self.handler, self.stop = handler, stop
        self.namespace, self.label_selector = namespace, label_selector
        self.resync_period = resync_period
        self.metrics = metrics
        self.name = name or kind
        # The cache, encoded (see store.py), with secondary indexes. "namespace" is always there,
        # so a namespaced read never scans the whole kind.
        self.indexers = {"namespace": lambda o: [o["metadata"].get("namespace") or ""], **(indexers or {})}
        self.store = store.ObjectStore(self.indexers)
        self.synced = threading.Event()
        self.resource_version = ""
        self.last_contact = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> Reflector:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """False once the watch thread has died (it never ends on its own before stop)."""
        return self._thread is None or self._thread.is_alive() or self.stop.is_set()

    def __len__(self) -> int:
        return len(self.store)

    def items(self) -> list[dict]:
        """Every cached object (copies: changing one changes nothing cached)."""
        return self.store.items()

    def iter_items(self) -> Iterator[dict]:
        """``items``, decoded one at a time as the caller goes."""
        return self.store.iter_items()

    def get(self, namespace: str | None, name: str) -> dict | None:
        return self.store.get((namespace or "", name))

    def by_index(self, index: str, value) -> list[dict]:
        """The cached objects whose ``index`` function yields ``value``."""
        return self.store.by_index(index, value)

    def iter_by_index(self, index: str, value) -> Iterator[dict]:
        return self.store.iter_by_index(index, value)

    def keys_by_index(self, index: str, value) -> list[tuple[str, str]]:
        """The (namespace, name) keys of the objects ``by_index`` would return, decoding none."""
        return self.store.keys_by_index(index, value)

    def index_values(self, index: str) -> list:
        return self.store.index_values(index)

    def _kept(self, obj: dict) -> dict:
        kept = _slim(obj)
        return self.transform(kept) if self.transform is not None else kept

    def _entry(self, obj: dict) -> tuple[tuple[str, str], bytes]:
        """A listed object as the store takes it, encoded page by page as the list arrives."""
        kept = self._kept(obj)
        return object_key(kept), self.store.encode(kept)

    def _emit(self, event: str, obj: dict, old: dict | None) -> None:
        try:
            self.handler(event, obj, old)
        except Exception as err:  # noqa: BLE001 - a handler bug must not stop the watch
            log(logging.ERROR, "event handler failed", resource=self.name, error=str(err))

    def _relist(self) -> None:
        entries, version = self.client.list_with_version(
            self.api_version, self.kind, self.namespace, self.label_selector, keep=self._entry
        )
        for event, raw, old in self.store.replace(entries):
            obj = self.store.decode(raw)
            self._emit(event, obj, obj if event == "DELETED" else None if old is None else self.store.decode(old))
        self.resource_version = version
        self.last_contact = time.monotonic()
        self.synced.set()

    def _restart(self, reason: str) -> None:
        if self.metrics is not None and self.metrics.enabled:
            self.metrics.watch_restarts.labels(self.name, reason).inc()

    def _run(self) -> None:
        backoff = 0.2
        next_resync = time.monotonic() + self.resync_period
        need_list = True
        while not self.stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                    backoff = 0.2
                timeout = int(max(5, min(60, next_resync - time.monotonic())))
                for event, obj in self.client.watch(
                    self.api_version, self.kind, self.namespace, self.resource_version, self.label_selector, timeout
                ):
                    self.last_contact = time.monotonic()
                    version = obj.get("metadata", {}).get("resourceVersion")
                    if version:
                        self.resource_version = version
                    if event == "BOOKMARK":
                        continue
                    kept = self._kept(obj)
                    key = object_key(kept)
                    old = self.store.delete(key) if event == "DELETED" else self.store.put(key, kept)
                    self._emit(event, kept, old)
                    if self.stop.is_set():
                        return
                self.last_contact = time.monotonic()
                if time.monotonic() >= next_resync:
                    next_resync = time.monotonic() + self.resync_period
                    for obj in self.iter_items():  # one decoded at a time: a resync of 10,000 holds one
                        self._emit("SYNC", obj, obj)
            except kube.KubeError as err:
                need_list = True
                self._restart("gone" if err.status == 410 else "error")
                if err.status != 410:
                    log(
                        logging.WARNING,
                        "watch failed; re-listing after backoff",
                        resource=self.name,
                        error=str(err),
                        backoff_s=round(backoff, 2),
                    )
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)


class _AllSet:
    """The ``synced`` of a ReflectorSet: set when every member's is."""

    def __init__(self, events: list[threading.Event]):
        self.events = events

    def is_set(self) -> bool:
        return all(e.is_set() for e in self.events)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for event in self.events:
            if not event.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
                return False
        return True


class ReflectorSet:
    """One kind watched in several namespaces (one Reflector each), read as one cache.

    With ``--namespaces`` the controller watches only those namespaces, so that namespaced
    RBAC is enough and other namespaces' churn costs it nothing.
    """

    def __init__(self, reflectors: list[Reflector]):
        self.members = {r.namespace or "": r for r in reflectors}
        self.indexers = reflectors[0].indexers
        self.synced = _AllSet([r.synced for r in reflectors])

    def start(self) -> ReflectorSet:
        for reflector in self.members.values():
            reflector.start()
        return self

    @property
    def alive(self) -> bool:
        return all(r.alive for r in self.members.values())

    def items(self) -> list[dict]:
        return [o for r in self.members.values() for o in r.items()]

    def iter_items(self) -> Iterator[dict]:
        return (o for r in self.members.values() for o in r.iter_items())

    def iter_by_index(self, index: str, value) -> Iterator[dict]:
        if index == "namespace":
            reflector = self.members.get(value)
            return iter(()) if reflector is None else reflector.iter_items()
        return (o for r in self.members.values() for o in r.iter_by_index(index, value))

    def get(self, namespace: str | None, name: str) -> dict | None:
        reflector = self.members.get(namespace or "")
        return None if reflector is None else reflector.get(namespace, name)

    def by_index(self, index: str, value) -> list[dict]:
        if index == "namespace":
            reflector = self.members.get(value)
            return [] if reflector is None else reflector.items()
        return [o for r in self.members.values() for o in r.by_index(index, value)]

    def keys_by_index(self, index: str, value) -> list[tuple[str, str]]:
        if index == "namespace":
            reflector = self.members.get(value)
            return [] if reflector is None else reflector.keys_by_index(index, value)
        return [k for r in self.members.values() for k in r.keys_by_index(index, value)]

    def index_values(self, index: str) -> list:
        return list({v for r in self.members.values() for v in r.index_values(index)})


# ------------------------------------------------------------------ leader election


class LeaderElector:
    """Leader election on a Lease (coordination.k8s.io/v1)."""

    JITTER = 1.2

    def __init__(
        self,
        client: kube.Kube,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ):
        if lease_duration <= renew_deadline:
            raise api.SpecError("leader-elect-lease-duration", "must be greater than the renew deadline")
        if renew_deadline <= self.JITTER * retry_period:
            raise api.SpecError("leader-elect-renew-deadline", f"must be greater than {self.JITTER} x the retry period")
        if retry_period <= 0:
            raise api.SpecError("leader-elect-retry-period", "must be more than 0")
        self.client, self.namespace, self.name, self.identity = client, namespace, name, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.is_leader = threading.Event()

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _expired(self, spec: Mapping) -> bool:
        if not spec.get("holderIdentity"):
            return True  # released by a replica that stopped gracefully: free at once
        renew = spec.get("renewTime") or spec.get("acquireTime")
        if not renew:
            return True
        when = dt.datetime.fromisoformat(renew.replace("Z", "+00:00"))
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return (dt.datetime.now(dt.UTC) - when).total_seconds() > duration

    def try_acquire_or_renew(self) -> bool:
        lease = self.client.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
        now = self._now()
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration), "renewTime": now}
        if lease is None:
            try:
                self.client.create(
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": {**spec, "acquireTime": now, "leaseTransitions": 0},
                    }
                )
                return True
            except kube.KubeError as err:
                if err.status == 409:
                    return False
                raise
        current = lease.get("spec") or {}
        mine = current.get("holderIdentity") == self.identity
        if not mine and not self._expired(current):
            return False
        new_spec = {**current, **spec}
        if not mine:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            self.client.request(
                "PUT",
                self.client.resource("coordination.k8s.io/v1", "Lease").path(self.namespace, self.name),
                body=lease,
                retry=kube.NO_RETRY,
            )
            return True
        except kube.KubeError as err:
            if err.status == 409:  # someone else wrote first
                return False
            raise

    def run(self, stop: threading.Event, metrics: Metrics | None = None) -> None:
        """Acquire, then renew. When renewals fail for longer than the renew deadline, step down
        (``is_leader`` cleared) and campaign again: the caches stay warm and the
        process is not restarted, so a long hub outage (its etcd restarting) costs no restart."""
        last_renew = None
        while not stop.is_set():
            try:
                ok = self.try_acquire_or_renew()
            except api.TMCError as err:
                log(logging.WARNING, "leader election call failed", error=str(err))
                ok = False
            now = time.monotonic()
            if ok:
                if not self.is_leader.is_set():
                    log(logging.INFO, "became leader", lease=f"{self.namespace}/{self.name}", identity=self.identity)
                self.is_leader.set()
                last_renew = now
            elif self.is_leader.is_set() and (last_renew is None or now - last_renew > self.renew_deadline):
                log(logging.ERROR, "lost leadership; standing by", lease=f"{self.namespace}/{self.name}")
                self.is_leader.clear()
                last_renew = None
            if metrics is not None and metrics.enabled:
                metrics.leader.set(1 if self.is_leader.is_set() else 0)
            stop.wait(self.retry_period * (1 + random.random() * 0.2))

    def release(self) -> None:
        """Give the lease up on a graceful stop so that a standby takes over at once."""
        if not self.is_leader.is_set():
            return
        try:
            lease = self.client.get("coordination.k8s.io/v1", "Lease", self.name, self.namespace)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                lease["spec"]["renewTime"] = None
                self.client.request(
                    "PUT",
                    self.client.resource("coordination.k8s.io/v1", "Lease").path(self.namespace, self.name),
                    body=lease,
                    retry=kube.NO_RETRY,
                )
        except api.TMCError as err:
            log(logging.WARNING, "could not release the lease", error=str(err))


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask for a graceful stop: in-flight keys finish first."""

    def handler(signum, _frame):
        log(logging.INFO, "stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def drain(queue: WorkQueue, threads: list[threading.Thread], timeout: float = 20.0) -> None:
    """Stop taking keys; let the keys in flight finish (up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    queue.shutdown()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
