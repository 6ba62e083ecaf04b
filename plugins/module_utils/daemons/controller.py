# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller: the hub side of TMC, run continuously.

It watches ClusterRegistrations, heartbeat Leases, WorkloadPlacements, the
workloads of the placed kinds and SyncWorks, and runs the same steps as the
modules on every change: decide and render SyncWorks (``plan.plan_works`` /
``hub_writes.write_works``), aggregate status, keep cluster health and taints. With
``TMCFailover`` a cluster whose heartbeat is older than the eviction timeout is
tainted NoExecute, so placements that do not tolerate it move: the new copy is
written at once, and the old one goes when that cluster's syncer comes back
(the SyncWork finalizer), so nothing is lost and nothing stays duplicated.

Several replicas may run; one leads (a Lease in ``tmc-system``), the others keep
their caches warm and take over when its lease expires.

Run: ``python -m ansible_collections.tmc.multicluster.plugins.module_utils.daemons controller --help``
"""

from __future__ import annotations

import argparse
import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Union

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, render, status
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import (
    connection,
    flags,
    leader,
    observability,
    process,
    store,
    workqueue,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.cached_hub import CachedHub
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import log
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.reflector import (
    Reflector,
    ReflectorSet,
    object_key,
    spec_changed,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.trust import (
    INDEXERS,
    SOURCE_INDEX,
    TenantPolicyCache,
    report_untrusted,
    trusted_work,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import decision_inputs_changed
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import (
    aggregate,
    clusters,
    common,
    hub_writes,
    identity,
    leftovers,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning

LEASE_NAME = "tmc-controller"
HEALTH_INTERVAL = 2.0
SUMMARY_INTERVAL = 0.5  # at most two placement summaries per namespace and second, however busy
# Status changes wait this long before their pass, so that the clusters' near-simultaneous reports of
# one rollout become one write of the source's status instead of one per report.
AGGREGATE_WINDOW = 0.1
# Sources per pass (--sources-per-pass). A pass holds its sources, their rendered SyncWorks and their
# current ones (decoded from the caches); a namespace of 10,000 workloads on 3 clusters goes through in
# passes of this many sources, not in one pass holding 30,000 rendered SyncWorks (hundreds of MB).
# 100, not 250: a controller restarted on 10,000 workloads peaked at 94 MB resident with 100 (50: the
# same) against 104 MB with 250; the transients of a bigger pass leave pymalloc arenas partly used.
SOURCES_PER_PASS = 100
CACHE_SYNC_WAIT = 30.0  # a new leader waits this long, at most, for its caches' first lists
Cache = Union[Reflector, ReflectorSet]  # noqa: UP007 - ansible-test's pylint
DEPENDENCY_KINDS = frozenset({"ConfigMap", "Secret"})
PER_NAMESPACE = object()  # a watch scope: see Controller.__init__


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tmc-controller", description=__doc__.split("\n\n", 1)[0])
    flags.common_flags(p)
    p.add_argument("--leader-elect", type=flags.boolean, default=True, help="run leader election (true|false)")
    p.add_argument(
        "--leader-elect-namespace", default=None, help="hub namespace of the leader Lease (default: --namespace)"
    )
    p.add_argument(
        "--cluster-selector",
        default="",
        help="label selector of the ClusterRegistrations this controller places onto and keeps healthy (default all)",
    )
    p.add_argument(
        "--sources-per-pass",
        type=_at_least_one,
        default=SOURCES_PER_PASS,
        help="workloads planned and written per pass: bounds the memory a pass over a large namespace takes",
    )
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    p.add_argument("--id", default=None, help="this replica's identity in the leader Lease")
    return p


# What the caches keep: a SyncWork without its manifest (the controller renders manifests, it never
# reads them back).
TRANSFORMS = {(api.API_VERSION, api.KIND_SYNCWORK): planning.compact_work}


class Controller:
    """The hub-side loops. Its collaborators are given (``main`` builds them from the flags): the hub
    client (every write behind the elector's gate), the elector (None: it always leads), the watch
    caches (None: one Reflector per watched kind on ``hub``) and the work queue."""

    def __init__(
        self,
        hub: kube.Kube,
        args: argparse.Namespace,
        gates: api.FeatureGates,
        metrics: observability.Metrics,
        *,
        elector: leader.LeaderElector | None = None,
        reflectors: Mapping[tuple[str, str], Cache] | None = None,
        queue: workqueue.WorkQueue | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.hub, self.args, self.gates, self.metrics = hub, args, gates, metrics
        self.clock = clock
        # When each heartbeat Lease was last seen to change: heartbeats age by observed time.
        self.heartbeats = health.HeartbeatObserver()
        self.stop = threading.Event()
        self.queue = queue or workqueue.WorkQueue("controller", metrics, key_type=lambda key: key[0])
        self.threads: list[threading.Thread] = []
        # Sources waiting for a per-namespace pass: ("src"|"rsy"|"agg", namespace) -> {(apiVersion, kind, name)}.
        # "src": changed sources (urgent); "rsy": a resync's (looked at after them); "agg": their status.
        # One queue key per namespace batches a burst of changes into one pass.
        self._pending: dict[tuple[str, str], set] = {}
        self._pending_lock = threading.Lock()
        self._conflicts: dict[str, str] | None = None  # see _identity_conflicts
        # One SyncWork-writing pass per namespace at a time: a full pass ("ns") that planned from an older
        # source must not write over what a pass over changed sources ("src") wrote meanwhile.
        self._namespace_locks: dict[str, threading.Lock] = {}
        self.thresholds = health.Thresholds(args.heartbeat_threshold, args.eviction_timeout)
        self.tenant_policy = TenantPolicyCache(self.hub)
        self.evictions_held = False
        self.namespaces = set(flags.split_list(args.namespaces))
        # Source status writes. Spec first: while changed sources wait for their SyncWorks (pending "src",
        # or passes over them running, counted in _src_running), they wait for them.
        self._src_running = 0
        self.pacer = metrics.status_pacer("controller", args, busy=self._spec_waiting)
        # The placements' summaries, kept by the SyncWork watch: a summary pass reads counters, not SyncWorks.
        self.summaries = status.SummaryCounts()
        self._summaries_lock = threading.Lock()
        self.reflectors: dict[tuple[str, str], Cache] = dict(reflectors) if reflectors is not None else {}
        if reflectors is None:
            self._watch_caches()
        self.cached = CachedHub(hub, self.reflectors)
        self.elector = elector
        metrics.watch_fleet(self._fleet)

    def _watch_caches(self) -> None:
        """One cache per watched kind. Where each kind is watched: one namespace, every namespace
        (None), or PER_NAMESPACE (one watch per --namespaces entry, or every namespace when there are none)."""
        hub, args = self.hub, self.args
        kinds = [
            (api.API_VERSION, api.KIND_CLUSTER, self._on_cluster, args.cluster_selector or None, None),
            ("coordination.k8s.io/v1", "Lease", self._on_lease, None, api.SYSTEM_NAMESPACE),
            (api.API_VERSION, api.KIND_PLACEMENT, self._on_placement, None, PER_NAMESPACE),
            (api.API_VERSION, api.KIND_SYNCWORK, self._on_syncwork, self._syncwork_selector(), None),
            ("v1", "Namespace", self._on_namespace, None, None),
        ]
        for group, kind in self._source_kinds():
            kinds.append(
                (
                    planning.api_version_for(hub, group),
                    kind,
                    self._on_source,
                    args.label_selector or None,
                    PER_NAMESPACE,
                )
            )
        for api_version, kind, handler, selector, scope in kinds:

            def make_reflector(namespace, api_version=api_version, kind=kind, handler=handler, selector=selector):
                return Reflector(
                    hub,
                    api_version,
                    kind,
                    handler,
                    self.stop,
                    namespace=namespace,
                    label_selector=selector,
                    resync_period=args.resync_period,
                    metrics=self.metrics,
                    name=kind.lower() if namespace is None else f"{kind.lower()}/{namespace}",
                    indexers=INDEXERS.get((api_version, kind)),
                    transform=TRANSFORMS.get((api_version, kind)),
                )

            if scope is PER_NAMESPACE and self.namespaces:
                self.reflectors[(api_version, kind)] = ReflectorSet(
                    [make_reflector(ns) for ns in sorted(self.namespaces)]
                )
            else:
                self.reflectors[(api_version, kind)] = make_reflector(None if scope is PER_NAMESPACE else scope)

    def leading(self) -> bool:
        """Whether this replica may write now (always, without leader election)."""
        return self.elector is None or self.elector.leading()

    def _syncwork_selector(self) -> str | None:
        """With --namespaces, only the SyncWorks of those namespaces' workloads."""
        if not self.namespaces:
            return None
        values = ",".join(sorted(render.label_value(ns) for ns in self.namespaces))
        return f"{render.LABEL_SOURCE_NAMESPACE} in ({values})"

    def _source_kinds(self) -> list[tuple[str, str]]:
        listed = flags.split_list(self.args.resource_types)
        if not listed:
            return list(api.DEFAULT_RESOURCES)
        out = []
        for item in listed:
            group, _sep, kind = item.rpartition("/")
            out.append((group, kind))
        return out

    # -- which keys an event touches

    def _watched(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    def _placement_namespaces(self) -> set[str]:
        reflector = self.reflectors[(api.API_VERSION, api.KIND_PLACEMENT)]
        return {p["metadata"]["namespace"] for p in reflector.items() if self._watched(p["metadata"]["namespace"])}

    def _identity_conflicts(self) -> dict[str, str]:
        """Registrations of a member an older registration has (name -> the older one), computed once per
        change of the registrations, not once per cluster's health pass."""
        with self._pending_lock:
            if self._conflicts is None:
                registrations = self.reflectors[(api.API_VERSION, api.KIND_CLUSTER)].items()
                self._conflicts = identity.conflicts(list(registrations))
            return self._conflicts

    def _on_cluster(self, event: str, obj: dict, old) -> None:
        with self._pending_lock:
            self._conflicts = None
        self.queue.add(("health", obj["metadata"]["name"]))
        if (
            event == "SYNC"
            or spec_changed(old, obj)
            or decision_inputs_changed(old, obj)  # status capacity, allocatable, taints: re-plan
            or (old or {}).get("status", {}).get("sealing") != (obj.get("status") or {}).get("sealing")
            or event == "DELETED"
        ):
            for namespace in self._placement_namespaces():
                self.queue.add(("ns", namespace), urgent=True)

    def _on_namespace(self, event: str, obj: dict, old) -> None:
        """A namespace's labels feed the clusters' namespaceSelector: re-decide its placements."""
        name = obj["metadata"]["name"]
        before, after = ((old or {}).get("metadata") or {}).get("labels"), obj["metadata"].get("labels")
        if event == "MODIFIED" and before != after and name in self._placement_namespaces():
            self.queue.add(("ns", name))

    def _on_lease(self, event: str, obj: dict, _old) -> None:
        name = obj["metadata"]["name"]
        if name.startswith(api.HEARTBEAT_LEASE_PREFIX):
            cluster = name[len(api.HEARTBEAT_LEASE_PREFIX) :]
            if event == "DELETED":
                self.heartbeats.forget(cluster)
            else:
                self.heartbeats.observe(cluster, obj, self.clock())  # seen now, whoever leads
            self.queue.add(("health", cluster))

    def _on_placement(self, event: str, obj: dict, old) -> None:
        namespace = obj["metadata"]["namespace"]
        if self._watched(namespace) and (event in ("ADDED", "DELETED", "SYNC") or spec_changed(old, obj)):
            self.queue.add(("ns", namespace), urgent=True)
        if event == "DELETED":  # what an older version placed of cluster-scoped kinds goes with it
            self.queue.add(("leftovers", ""))

    def _on_source(self, event: str, obj: dict, old) -> None:
        namespace = obj["metadata"].get("namespace") or ""
        if not self._watched(namespace) or namespace not in self._placement_namespaces():
            return
        if event not in ("ADDED", "DELETED", "SYNC") and not spec_changed(old, obj):
            return  # status only: ours
        if obj["kind"] in DEPENDENCY_KINDS:
            self.queue.add(("ns", namespace))  # it may follow a workload (propagateDependencies)
        elif event == "SYNC":  # a resync's: looked at, but seldom a new desired state, so after the changed ones
            self._defer("rsy", namespace, (obj["apiVersion"], obj["kind"], obj["metadata"]["name"]))
        else:
            self._defer("src", namespace, (obj["apiVersion"], obj["kind"], obj["metadata"]["name"]))

    def _on_syncwork(self, event: str, obj: dict, old) -> None:
        labels = obj["metadata"].get("labels") or {}
        namespace = labels.get(render.LABEL_SOURCE_NAMESPACE)
        reason = render.untrusted_reason(obj)
        if reason is not None:
            # Not counted anywhere; out of the summaries if it ever was in them, and the source it
            # counted for before (a syncer's edit) looked at again.
            report_untrusted(self.metrics, event, obj, reason)
            with self._summaries_lock:
                self.summaries.update(store.shared(object_key(obj)), (None, None), None)
            before = (old or {}).get("metadata", {}).get("labels", {}).get(render.LABEL_SOURCE_NAMESPACE)
            if old is not None and trusted_work(old) and before is not None and self._watched(before):
                # Its source's status without it, and a pass that writes its SyncWork back as planned.
                self._defer("agg", before, common.source_of(old))
                self._defer("src", before, common.source_of(old))
            return
        with self._summaries_lock:
            self.summaries.update(
                store.shared(object_key(obj)),  # the cache's strings, not 30,000 copies of its own
                (namespace, (obj.get("spec") or {}).get("placement")),
                None if event == "DELETED" else obj,
            )
        if namespace is None or not self._watched(namespace):
            return
        if (
            old is not None
            and (old.get("status") or {}) == (obj.get("status") or {})
            and not obj["metadata"].get("deletionTimestamp")
        ):
            return
        self._defer("agg", namespace, common.source_of(obj))

    def _defer(self, purpose: str, namespace: str, source: tuple) -> None:
        source = store.shared(source)  # thousands wait at once: their names are the caches' strings
        with self._pending_lock:
            self._pending.setdefault((purpose, namespace), set()).add(source)
        if purpose == "src":
            self.queue.add((purpose, namespace), urgent=True)  # a new desired state goes first
        elif purpose == "rsy":
            self.queue.add((purpose, namespace))
        else:
            self.queue.add_after((purpose, namespace), AGGREGATE_WINDOW)

    @contextmanager
    def _taken(self, purpose: str, namespace: str, limit: int | None = None):
        """The sources pending for a pass (at most ``limit``: the rest wait for the key to come back);
        put back when the pass fails, so that its retry has them."""
        with self._pending_lock:
            taken = self._pending.pop((purpose, namespace), set())
            if limit is not None and len(taken) > limit:
                rest, taken = taken, set()
                while len(taken) < limit:
                    taken.add(rest.pop())
                self._pending[(purpose, namespace)] = rest
                self.queue.add((purpose, namespace))
        try:
            yield taken
        except BaseException:
            with self._pending_lock:
                self._pending.setdefault((purpose, namespace), set()).update(taken)
            raise

    def _spec_waiting(self) -> bool:
        """Whether changed sources wait for their SyncWorks (or a pass writes them now)."""
        with self._pending_lock:
            return self._src_running > 0 or any(s for (purpose, _ns), s in self._pending.items() if purpose == "src")

    @contextmanager
    def _src_pass(self):
        """A pass over changed sources is running (counted from before it takes them)."""
        with self._pending_lock:
            self._src_running += 1
        try:
            yield
        finally:
            with self._pending_lock:
                self._src_running -= 1

    def _release_held(self) -> None:
        """Once no changed source waits, the status writes held for them go (see ``StatusHold``)."""
        for namespace in {namespace for namespace, _source in self.pacer.release()}:
            self.queue.add(("agg", namespace))

    # -- handling keys

    def handle(self, key: tuple) -> None:
        if not self.leading():
            return  # a standby keeps its caches warm and writes nothing
        kind = key[0]
        with observability.span(f"controller.{kind}", key=str(key)):
            if kind == "health":
                self._health(key[1])
            elif kind == "ns":
                self._sync(key[1], None)
            elif kind == "src":
                with self._src_pass(), self._taken("src", key[1]) as sources:
                    if sources:
                        self._sync(key[1], sources)
                self._release_held()
            elif kind == "rsy":
                # One piece per key: the changed sources' passes (urgent) go between the pieces of a resync.
                with self._taken("rsy", key[1], limit=self.args.sources_per_pass) as sources:
                    if sources:
                        self._sync(key[1], sources)
            elif kind == "agg":
                with self._taken("agg", key[1]) as sources:
                    if sources:
                        for chunk in self._chunks(key[1], sources):
                            self._aggregate(key[1], chunk)
                        self.queue.add_after(("sum", key[1]), SUMMARY_INTERVAL)
            elif kind == "sum":
                self._summarize(key[1])
            elif kind == "leftovers":
                for namespace, name in leftovers.remove_abandoned(self.hub):
                    log(
                        logging.INFO, "leftover syncwork of a deleted placement removed", namespace=namespace, name=name
                    )

    def _health(self, cluster: str) -> None:
        registration = self.cached.get(api.API_VERSION, api.KIND_CLUSTER, cluster)
        if registration is None or clusters.deregistration_mode(registration):
            return  # being deregistered: this controller stands down for it
        lease = self.cached.get(
            "coordination.k8s.io/v1", "Lease", api.heartbeat_lease_name(cluster), api.SYSTEM_NAMESPACE
        )
        clusters.update_health(
            self.hub,
            registration,
            common.now_utc(),
            self.thresholds,
            lease=lease,
            failover=self.gates.is_enabled("TMCFailover") and not self.evictions_held,
            observer=self.heartbeats,
            observed_at=self.clock(),
            conflict_with=self._identity_conflicts().get(cluster),
        )

    def _namespace_lock(self, namespace: str) -> threading.Lock:
        with self._pending_lock:
            return self._namespace_locks.setdefault(namespace, threading.Lock())

    def _sync(self, namespace: str, only_sources: set | None) -> None:
        """Plan and write one namespace's SyncWorks (all, or those of ``only_sources``), in passes of at
        most --sources-per-pass sources. The passes of a namespace run one at a time: each plans from the caches
        as they are once the pass before it has written."""
        for chunk in self._chunks(namespace, only_sources):
            with self._namespace_lock(namespace):
                self._sync_locked(namespace, chunk)

    def _chunks(self, namespace: str, only_sources: set | None) -> list[set | None]:
        """``only_sources`` in pieces; for a full pass (None), every source it has to look at in pieces,
        or one whole pass when the sources cannot be taken apart (see ``_all_sources``)."""
        keys = self._all_sources(namespace) if only_sources is None else only_sources
        if keys is None:
            return [None]
        ordered = sorted(keys)
        # At least one pass, even with no source: it writes the placements' decisions.
        size = self.args.sources_per_pass
        return [set(ordered[i : i + size]) for i in range(0, len(ordered), size)] or [set()]

    def _all_sources(self, namespace: str) -> set | None:
        """What a full pass of a namespace looks at, as (apiVersion, kind, name) keys: the cached
        objects of every kind its placements select, and every source its SyncWorks name (a source
        that is gone has its SyncWorks deleted). Read from the caches' indexes, nothing decoded.

        None when a pass over some sources would not do what the full pass does: when a placement
        propagates dependencies (a ConfigMap follows the workload that mounts it, which may be in
        another piece), selects a kind this controller does not watch, or a SyncWork names no whole
        source. ``workqueue.CacheNotSynced`` while a cache it reads is still being filled.
        """
        placements = self.cached.list(api.API_VERSION, api.KIND_PLACEMENT, namespace=namespace)
        if any((p.get("spec") or {}).get("propagateDependencies") for p in placements):
            return None
        keys: set = set()
        for group, kind in {rk for p in placements for rk in planning.resources_of(p.get("spec") or {})}:
            api_version = planning.api_version_for(self.hub, group)
            reflector = self.cached.synced_reflector(api_version, kind)
            if reflector is None:
                return None
            keys.update((api_version, kind, name) for _ns, name in reflector.keys_by_index("namespace", namespace))
        label = render.label_value(namespace)
        syncworks = self.cached.synced_reflector(api.API_VERSION, api.KIND_SYNCWORK)
        for value in syncworks.index_values(SOURCE_INDEX):
            if value[0] == label:
                if not all(isinstance(part, str) for part in value[1:]):
                    return None  # a SyncWork without a whole source: only the full pass sees (and deletes) it
                keys.add(tuple(value[1:]))
        return keys

    def _sync_locked(self, namespace: str, only_sources: set | None) -> None:
        now = common.now_utc()
        started = time.monotonic()
        plan = planning.plan_works(
            self.cached,
            namespace,
            now,
            gates=self.gates,
            only_sources=only_sources,
            policy=self.tenant_policy.current(),
        )
        if self.metrics.enabled:
            self.metrics.decision_seconds.observe(time.monotonic() - started)
        counts = hub_writes.write_works(self.hub, plan, now)
        if counts.errors and not self.leading():
            raise kube.NotLeader(f"{len(counts.errors)} SyncWork writes in {namespace} held back: leadership lost")
        for error in plan.errors + counts.errors:
            log(logging.WARNING, "cannot place", namespace=namespace, **{k: str(v) for k, v in error.items()})
        if counts.transient:
            raise api.TMCError(f"{counts.transient} SyncWork writes in {namespace} failed transiently")
        if counts.created or counts.updated or counts.deleted:
            log(
                logging.INFO,
                "syncworks written",
                namespace=namespace,
                created=counts.created,
                updated=counts.updated,
                deleted=counts.deleted,
            )

    def _aggregate(self, namespace: str, only_sources: set) -> None:
        """The sources' status from their SyncWorks (read from the index, not by scanning).

        A source whose write has to wait for the status pacer stays pending, and the pass comes back
        when its slot does: it is then written with the status its SyncWorks have by that time.
        """
        waits = {}  # source -> seconds to its slot, or to the end of its hold
        for key in only_sources:
            wait = self.pacer.held((namespace, key))
            if wait > 0:
                waits[key] = wait
        due = only_sources - waits.keys()
        plan = planning.Plan(namespace)
        current = []
        for api_version, kind, name in due:
            source = self.cached.get(api_version, kind, name, namespace)
            if source is None:
                self.pacer.forget((namespace, (api_version, kind, name)))
            else:
                plan.sources[(api_version, kind, name)] = source
                current += self.cached.works_of(namespace, (api_version, kind, name))

        def defer(source: tuple) -> bool:
            wait = self.pacer.wait((namespace, source))
            if wait > 0:
                waits[source] = wait
            return wait > 0

        try:
            aggregate.aggregate_status(
                self.hub,
                plan,
                current,
                common.now_utc(),
                gates=self.gates,
                only_sources=due,
                placements=False,
                defer=defer,
            )
        finally:
            if waits:
                with self._pending_lock:
                    self._pending.setdefault(("agg", namespace), set()).update(waits)
                self.queue.add_after(("agg", namespace), max(AGGREGATE_WINDOW, min(waits.values())))

    def _summarize(self, namespace: str) -> None:
        """Each placement's summary and Synced/Available conditions: rate-limited, one pass per namespace,
        from the counters the SyncWork watch keeps (no SyncWork is read)."""
        now = common.now_utc()
        for placement in self.cached.list(api.API_VERSION, api.KIND_PLACEMENT, namespace=namespace):
            with self._summaries_lock:
                summary = self.summaries.summarize((render.label_value(namespace), placement["metadata"]["name"]))
            aggregate.write_placement_summary(self.hub, placement, summary, now)

    def _tick(self) -> None:
        """Time moves health (a heartbeat ages without any event), so look at every cluster often."""
        while not self.stop.wait(HEALTH_INTERVAL):
            registrations = self.reflectors[(api.API_VERSION, api.KIND_CLUSTER)].items()
            self._check_disruption(registrations)
            for registration in registrations:
                self.queue.add(("health", registration["metadata"]["name"]))
            self._check_policy()

    def _check_policy(self) -> None:
        """An edit of the tenant policy re-decides every namespace with placements (within its TTL)."""
        try:
            changed = self.tenant_policy.changed()
        except kube.KubeError as err:
            log(logging.WARNING, "cannot read the tenant policy", error=str(err))
            return
        if changed is not None:
            log(logging.INFO, "tenant policy changed", allowed=changed.describe())
            for namespace in self._placement_namespaces():
                self.queue.add(("ns", namespace), urgent=True)

    def _check_disruption(self, registrations: list[dict]) -> None:
        """Hold evictions while every cluster is past its eviction timeout (health.full_disruption)."""
        leases = self.reflectors[("coordination.k8s.io/v1", "Lease")]
        now = common.now_utc()
        verdicts = []
        for registration in registrations:
            name = registration["metadata"]["name"]
            lease = leases.get(api.SYSTEM_NAMESPACE, api.heartbeat_lease_name(name))
            age = self.heartbeats.age(name, lease, self.clock())
            verdicts.append(health.evaluate(registration, lease, now, self.thresholds, age=age))
        held = health.full_disruption(verdicts)
        if held != self.evictions_held:
            log(
                logging.WARNING if held else logging.INFO,
                "every cluster is past its eviction timeout: evictions held until one heartbeat returns"
                if held
                else "evictions resumed",
                clusters=len(verdicts),
            )
        self.evictions_held = held

    def _fleet(self) -> list[observability.ClusterRow]:
        """Each member cluster as this replica judges it now (the ``tmc_cluster_*`` metrics): the health
        passes' verdict (heartbeats aged by observed time), its taints and the spec's, its SyncWork counts."""
        registrations = self.reflectors.get((api.API_VERSION, api.KIND_CLUSTER))
        leases = self.reflectors.get(("coordination.k8s.io/v1", "Lease"))
        if registrations is None or leases is None:
            return []
        with self._summaries_lock:
            counts = self.summaries.per_cluster()
        now, rows = common.now_utc(), []
        for registration in registrations.items():
            name = registration["metadata"]["name"]
            lease = leases.get(api.SYSTEM_NAMESPACE, api.heartbeat_lease_name(name))
            age = self.heartbeats.age(name, lease, self.clock())  # observed time, as the health passes age it
            verdict = health.evaluate(registration, lease, now, self.thresholds, age=age)
            taints = [*((registration.get("spec") or {}).get("taints") or []), *verdict.taints]
            rows.append(
                observability.ClusterRow(
                    name,
                    verdict.ready == "True",
                    verdict.heartbeat_age,
                    collections.Counter(t.get("effect") for t in taints),
                    tuple(counts.get(name, (0, 0, 0, 0))),
                )
            )
        return rows

    # -- run

    def healthy(self) -> bool:
        return (
            not self.stop.is_set()
            and process.all_alive(self.threads)
            and all(r.alive for r in self.reflectors.values())
        )

    def ready(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors.values())

    def run(self, endpoints: observability.Endpoints | None = None) -> int:
        process.install_signal_handlers(self.stop)
        log(logging.INFO, "controller starting", hub=self.hub.host, gates=self.gates.as_flag())
        for reflector in self.reflectors.values():
            reflector.start()
        elector = []
        if self.elector is not None:
            elector = [
                threading.Thread(target=self.elector.run, args=(self.stop, self.metrics), name="leader", daemon=True)
            ]
            elector[0].start()
        threads = workqueue.run_workers(self.queue, self.handle, self.args.concurrency, self.metrics, "controller")
        tick = threading.Thread(target=self._tick, name="health-tick", daemon=True)
        tick.start()
        self.threads = [*threads, tick, *elector]
        was_leader = False
        while not self.stop.wait(0.2):
            leading = self.leading()
            if leading and not was_leader:
                self._resync_all()
            was_leader = leading
        workqueue.drain(self.queue, threads)
        if self.elector is not None:
            self.elector.release()
        if endpoints is not None:
            endpoints.close()
        log(logging.INFO, "controller stopped")
        return 0

    def _caches_synced(self, timeout: float) -> bool:
        """Wait until every cache has its first list, at most ``timeout`` seconds and never past a
        stop: a SIGTERM while the hub cannot be reached ends the daemon at once."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.stop.wait(0.1) or time.monotonic() >= deadline:
                return False
        return True

    def _resync_all(self) -> None:
        """On becoming leader: look at everything once (a predecessor may have died mid-way)."""
        if not self._caches_synced(CACHE_SYNC_WAIT) and self.stop.is_set():
            return
        # What changed while this replica stood by (its handlers kept it pending, its keys were dropped):
        # the changed sources first, then the rest. Left pending, the changed sources would also hold
        # every status write (StatusHold) for its full limit.
        with self._pending_lock:
            waiting = list(self._pending)
        for purpose, namespace in waiting:
            if purpose == "agg":
                self.queue.add_after((purpose, namespace), AGGREGATE_WINDOW)
            else:
                self.queue.add((purpose, namespace), urgent=purpose == "src")
        for namespace in self._placement_namespaces():
            self.queue.add(("ns", namespace))
        self.queue.add(("leftovers", ""))
        for registration in self.reflectors[(api.API_VERSION, api.KIND_CLUSTER)].items():
            self.queue.add(("health", registration["metadata"]["name"]))
        # Every source with SyncWorks, from the index: (source namespace label, apiVersion, kind, name).
        for namespace, *source in self.reflectors[(api.API_VERSION, api.KIND_SYNCWORK)].index_values(SOURCE_INDEX):
            if namespace and self._watched(namespace):
                self._defer("agg", namespace, tuple(source))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    observability.setup_logging(args.log_format, args.log_level)
    try:
        gates = api.FeatureGates.from_flag(args.feature_gates)
        gates.require(api.MASTER_GATE)
        metrics = observability.Metrics(enabled=gates.is_enabled("TMCObservability"))
        identity = args.id or leader.default_identity()
        agent = connection.user_agent("controller", identity)
        hub_cfg = connection.hub_config(args)
        hub = connection.daemon_client(hub_cfg, "hub", metrics, user_agent=agent)
        elector = None
        if args.leader_elect:
            elector = leader.LeaderElector(
                connection.elector_client(hub_cfg, agent),
                args.leader_elect_namespace or args.namespace,
                LEASE_NAME,
                identity,
                args.leader_elect_lease_duration,
                args.leader_elect_renew_deadline,
                args.leader_elect_retry_period,
            )
            hub.write_gate = elector.write_gate  # every hub write: workers, status, health, GC
        controller = Controller(hub, args, gates, metrics, elector=elector)
        endpoints = observability.Endpoints(metrics, controller.healthy, controller.ready)
        if args.metrics_port:
            endpoints.serve(args.bind_address, args.metrics_port)
        if args.health_port and args.health_port != args.metrics_port:
            endpoints.serve(args.bind_address, args.health_port)
    except api.TMCError as err:
        log(logging.ERROR, f"refusing to start: {err}")
        return 2
    return controller.run(endpoints)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
