# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The syncer: one per member cluster, pulling its work from the hub.

It watches the SyncWorks in ``tmc-cluster-<name>`` on the hub and the objects it
manages on the member. Each change of either queues that SyncWork; a worker runs
the same ``apply_works`` step as ``workload_sync`` for it (server-side apply,
drift reverted, deletion by the finalizer protocol). Its status goes back to the
hub in a pass of its own (key ``("status", key)``), after the applies waiting:
a burst of member updates becomes one write, and a slow hub does not hold back
the next apply.
It renews the cluster's heartbeat Lease and reports the member's capacity.

During a hub partition it keeps the member exactly as it is — it acts only on
SyncWorks it can read, never on lost contact — and catches up with a re-list.

A SyncWork it cannot apply gets conditions that say why (``apply.classify``, the same
words as ``workload_sync``): the syncer logs it once, when it changes, and tries again
after a backoff (a refusal), when the kind is served again (a kind whose CRD the member
lacks: its watch asks with backoff), or when the SyncWork changes (a manifest without a
name). A member object that disappears is applied again; one whose kind stops being
served turns its SyncWork Degraded.

Run: ``python -m ansible_collections.tmc.multicluster.plugins.module_utils.daemons syncer --help``
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import threading
import time

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, tracing
from ansible_collections.tmc.multicluster.plugins.module_utils import status as status_mod
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import (
    connection,
    flags,
    observability,
    process,
    store,
    workqueue,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import log
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.reflector import (
    EMPTY,
    Reflector,
    object_key,
    spec_changed,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.standdown import DELETE, GONE, ORPHAN, StandDown
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import (
    apply,
    clusters,
    common,
    deregistration,
    hub_writes,
    release,
    sealing_keys,
)

# A SyncWork's status write waits this long after the pass that computed it, so that a burst of
# member updates (one rollout) becomes one write.
STATUS_WINDOW = 0.1
STATUS = "status"  # the key of a SyncWork's status write: (STATUS, (namespace, name))
# The longest wait before an object the member refused is tried again (a quota may free up, a webhook
# come back); the backoff starts at the queue's base delay.
REFUSED_RETRY_MAX = 300.0


def manifest_kind(work: dict) -> list[tuple[str, str]]:
    """Index of the SyncWork cache: the (apiVersion, kind) its manifest makes on the member."""
    manifest = (work.get("spec") or {}).get("manifest") or {}
    if manifest.get("apiVersion") and manifest.get("kind"):
        return [(manifest["apiVersion"], manifest["kind"])]
    return []


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tmc-syncer", description=__doc__.split("\n\n", 1)[0])
    flags.common_flags(p)
    p.add_argument(
        "--cluster-name",
        "--sync-target-name",
        dest="cluster_name",
        required=True,
        help="the member cluster's registered name",
    )
    p.add_argument("--downstream-kubeconfig", help="kubeconfig of the member (default: in-cluster)")
    p.add_argument("--downstream-context", help="kubeconfig context of the member")
    p.add_argument("--heartbeat-interval", type=float, default=10.0, help="seconds between heartbeat renewals")
    p.add_argument("--capacity-interval", type=float, default=60.0, help="seconds between capacity reports")
    p.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        help="for tests only: seconds added to this syncer's clock in the times it writes (its heartbeat's "
        "renewTime), as on a member whose clock is off; the hub must judge the heartbeat the same",
    )
    p.add_argument(
        "--sealing-key-file",
        help="file (mode 0600) holding this syncer's sealing keys, created when missing; default: "
        "<cluster>-sealing.key beside --kubeconfig",
    )
    p.add_argument(
        "--sealing-key-secret",
        help="NAMESPACE/NAME of a Secret on the member holding this syncer's sealing keys (kubernetes runtime)",
    )
    return p


def key_store(args: argparse.Namespace, member: kube.Kube) -> sealing_keys.KeyStore:
    """Where this syncer keeps its sealing keys (docs/concepts/security.md, "How Secrets travel")."""
    if args.sealing_key_secret:
        return sealing_keys.KeyStore(member=member, secret=args.sealing_key_secret)
    path = args.sealing_key_file
    if not path and args.kubeconfig:
        path = os.path.join(os.path.dirname(os.path.abspath(args.kubeconfig)), f"{args.cluster_name}-sealing.key")
    return sealing_keys.KeyStore(path=path)


class Syncer:
    def __init__(
        self,
        hub: kube.Kube,
        member: kube.Kube,
        cluster: str,
        args: argparse.Namespace,
        gates: api.FeatureGates,
        metrics: observability.Metrics,
    ):
        self.hub, self.member, self.cluster, self.args = hub, member, cluster, args
        self.gates, self.metrics = gates, metrics
        self.stop = threading.Event()
        self.queue = workqueue.WorkQueue(
            "syncworks", metrics, key_type=lambda key: STATUS if key[0] == STATUS else "object"
        )
        self.threads: list[threading.Thread] = []
        self.namespace = api.cluster_namespace(cluster)
        self.works = Reflector(
            hub,
            api.API_VERSION,
            api.KIND_SYNCWORK,
            self._on_work,
            self.stop,
            namespace=self.namespace,
            resync_period=args.resync_period,
            metrics=metrics,
            name="syncworks",
            indexers={"kind": manifest_kind},
        )
        self.downstream: dict[tuple[str, str], Reflector] = {}
        self.owner: dict[tuple, tuple[str, str]] = {}  # manifest key -> SyncWork key
        self._lock = threading.Lock()
        self.namespaces: set = set()  # member namespaces known to exist
        # Statuses kept encoded (store.encode, about 500 bytes instead of 4 KB of dicts): while new SyncWorks
        # wait, thousands of statuses can wait for their write.
        self._statuses: dict = {}  # SyncWork key -> status computed by its last pass, not yet on the hub
        self._written: dict = {}  # SyncWork key -> status this syncer wrote, until its watch shows it
        self._status_since: dict = {}  # SyncWork key -> monotonic time its unwritten status was first computed
        # Spec first: while new SyncWorks (or spec changes) wait in the queue, status writes wait for them.
        self.pacer = metrics.status_pacer("syncer", args, busy=self.queue.has_urgent)
        if metrics.enabled:  # a series from the start, so "no apply errors" reads 0, not "no data"
            metrics.errors.labels(cluster, "apply")
        self.last_heartbeat = 0.0
        # Deregistration and identity: when this syncer stops acting for its cluster (see standdown.py).
        self.standdown = StandDown(hub, cluster)
        self._namespaces_swept = False
        self._leaving: str | None = None  # the deregistration mode once seen (the registration goes after)
        self.key_store = key_store(args, member)
        self.keys: list = []  # newest first; they open the sealed Secrets of this cluster's SyncWorks
        self.identity_confirmed = False  # the member is the registered cluster (standdown.check_identity)

    # -- events

    def _on_work(self, event: str, work: dict, old) -> None:
        self._seen_status(event, work)
        if event == "DELETED" or work["metadata"].get("deletionTimestamp"):
            self.standdown.deletion_seen()
        if event == "MODIFIED" and not spec_changed(old, work):
            return  # status or finalizers only: this syncer wrote them
        manifest = (work.get("spec") or {}).get("manifest")
        if apply.manifest_problem(manifest) is None:  # else: the key's pass says what is wrong
            with self._lock:
                self.owner[common.manifest_key(manifest)] = object_key(work)
            self._watch_kind(manifest["apiVersion"], manifest["kind"])
        # A new desired state goes before the status updates queued meanwhile.
        self.queue.add(object_key(work), urgent=spec_changed(old, work))

    def _seen_status(self, event: str, work: dict) -> None:
        """Forget a status this syncer wrote once its watch shows it (or the SyncWork is gone):
        from then on the cache has it."""
        key = object_key(work)
        with self._lock:
            written = self._written.get(key)
            if written is None:
                return
            if event == "DELETED" or not common.status_differs(work.get("status") or {}, store.decode(written)):
                del self._written[key]

    def _watch_kind(self, api_version: str, kind: str) -> None:
        with self._lock:
            if (api_version, kind) in self.downstream:
                return
            reflector = Reflector(
                self.member,
                api_version,
                kind,
                self._on_downstream,
                self.stop,
                label_selector=f"{api.LABEL_MANAGED}=true,{api.LABEL_CLUSTER}={self.cluster}",
                resync_period=self.args.resync_period,
                metrics=self.metrics,
                name=f"member-{kind.lower()}",
                unserved=EMPTY,  # a kind the member stops serving: its objects are gone, its SyncWorks say so
                on_served=lambda served: self._kind_served(api_version, kind, served),
            )
            self.downstream[(api_version, kind)] = reflector
        reflector.start()

    def _kind_served(self, api_version: str, kind: str, served: bool) -> None:
        """The member started or stopped serving a kind: each of its SyncWorks is applied again (and
        says so), including those whose object the cache never held."""
        for key in self.works.keys_by_index("kind", (api_version, kind)):
            self.queue.add(key, urgent=served)

    def _on_downstream(self, _event: str, obj: dict, _old) -> None:
        meta = obj.get("metadata") or {}
        key = (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace") or "", meta.get("name"))
        with self._lock:
            owner = self.owner.get(key)
        if owner is not None:
            self.queue.add(owner)

    # -- one key

    def _live(self, work: dict) -> dict | None:
        manifest = work["spec"].get("manifest")
        if apply.manifest_problem(manifest) is not None:
            return {}  # nothing to look up: apply_works says what is wrong with it
        reflector = self.downstream.get((manifest["apiVersion"], manifest["kind"]))
        if reflector is None:
            return None  # not watched: apply_works lists it
        # While it fills, the key waits: not a list of every managed object of the kind per SyncWork in
        # its place (at 10,000 objects, 10,000 decoded objects for each worker, for each key).
        key = common.manifest_key(manifest)
        found = workqueue.filled(reflector, f"member {manifest['kind']}").get(key[2], key[3])
        return {key: found} if found is not None else {}

    def handle(self, key: tuple) -> None:
        self._release_held()
        if key[0] == STATUS:
            self._write_status(key[1])
            return
        work = self.works.get(*key)
        if work is None:
            return
        with self._lock:
            unwritten = self._statuses.get(key, self._written.get(key))
        if unwritten is not None:  # what this syncer last computed or wrote, even before the hub has it
            work = {**work, "status": store.decode(unwritten)}
        if work["metadata"].get("deletionTimestamp"):
            if self._deletion_stood_down(work):
                return
        elif self.standdown.standing_down or self._gone_meanwhile(work):
            return  # the cluster is being deregistered (or is not this member): nothing new is applied
        started = time.monotonic()
        # The SyncWork carries the context of the controller's write: this apply continues that trace.
        with tracing.span("syncer.apply", parent=tracing.parent_of(work), cluster=self.cluster, work=key[1]):
            report = apply.apply_works(
                self.member,
                self.cluster,
                [work],
                common.now_utc(),
                live=self._live(work),
                namespaces=self.namespaces,
                keys=self.keys,
            )
            hub_writes.release_finished(self.hub, report)
        self._count(work, report, time.monotonic() - started)
        new = report.statuses.get(key)
        self._sync_latency(work, new)
        if new is not None and not work["metadata"].get("deletionTimestamp"):
            self._say_change(key, work.get("status") or {}, new)
            raw = store.encode(new)
            with self._lock:
                self._statuses[key] = raw
                self._status_since.setdefault(key, time.monotonic())
            self.queue.add_after((STATUS, key), STATUS_WINDOW)
        self._retry(apply.failure_of(report))

    @staticmethod
    def _retry(failure: dict | None) -> None:
        """When the key comes back after a failure its status reports: a member that did not answer
        soon (the queue's backoff, logged); a refusal after a longer backoff, quietly. A kind not served
        comes back when its watch sees it served (``_kind_served``); a manifest without a name, or one every
        cluster makes for itself, when the SyncWork changes."""
        if failure is None:
            return
        reason = failure.get("reason") or apply.APPLY_FAILED
        if reason == apply.MEMBER_UNAVAILABLE:
            raise kube.KubeError(failure["message"], failure.get("status") or 0)
        if reason in (apply.REFUSED_BY_MEMBER, apply.APPLY_FAILED):
            raise workqueue.Backoff(failure["message"], REFUSED_RETRY_MAX)

    def _say_change(self, key: tuple, before: dict, after: dict) -> None:
        """One log line when a SyncWork's Degraded condition changes (not one per retry)."""
        old = status_mod.get_condition(before.get("conditions"), "Degraded") or {}
        new = status_mod.get_condition(after.get("conditions"), "Degraded") or {}
        if (old.get("status"), old.get("reason"), old.get("message")) == (
            new.get("status"),
            new.get("reason"),
            new.get("message"),
        ):
            return
        if new.get("status") == "True":
            log(
                logging.WARNING,
                "SyncWork cannot be applied",
                cluster=self.cluster,
                work=f"{key[0]}/{key[1]}",
                reason=new.get("reason"),
                message=new.get("message"),
            )
        elif old.get("status") == "True":
            log(logging.INFO, "SyncWork applied again", cluster=self.cluster, work=f"{key[0]}/{key[1]}")

    def _deletion_stood_down(self, work: dict) -> bool:
        """A SyncWork being deleted while the cluster is deregistered: True when handled here.

        What the registration says now (read after this deletion was seen) decides: being drained or
        not deregistered, the usual finalizer protocol deletes the object; ``Orphan`` releases it
        (it stays, no longer TMC's); no registration at all leaves it as it is."""
        mode = self.standdown.confirm()
        if mode is None or mode == DELETE:
            return False
        ref = deregistration.downstream_ref(work)
        if mode == ORPHAN and ref is not None:
            release.release_object(self.member, *ref)
            log(logging.INFO, "released", cluster=self.cluster, kind=ref[1], name=ref[2], namespace=ref[3] or "")
        if mode in (ORPHAN, GONE):
            deregistration.drop_finalizer(self.hub, work)
        return True

    def _gone_meanwhile(self, work: dict) -> bool:
        """An object this syncer applied is missing: before it is created again, the SyncWork is read from
        the hub (deregistration deletes the SyncWork before it deletes or releases the object, and this
        syncer's cache of SyncWorks may not have that yet)."""
        if not (work.get("status") or {}).get("downstreamUID"):
            return False
        live = self._live(work)
        if live is None or live:
            return False
        meta = work["metadata"]
        fresh = self.hub.get(api.API_VERSION, api.KIND_SYNCWORK, meta["name"], meta["namespace"])
        return fresh is None or bool(fresh["metadata"].get("deletionTimestamp"))

    def _write_status(self, key: tuple[str, str]) -> None:
        """The last computed status of one SyncWork to the hub (kept for the retry when the write fails).

        A write over the status rate waits for its slot (the key comes back then) and writes what
        the status has become by that time.
        """
        work = self.works.get(*key)
        with self._lock:
            raw, written = self._statuses.get(key), self._written.get(key)
        new = None if raw is None else store.decode(raw)
        hub_has = store.decode(written) if written is not None else (work or {}).get("status") or {}
        if work is None or (new is not None and not common.status_differs(hub_has, new)):
            with self._lock:
                if raw is not None and self._statuses.get(key) is raw:
                    del self._statuses[key]
                    self._status_since.pop(key, None)
            new = None
        if new is None:
            self.pacer.forget(key)
            return
        wait = self.pacer.wait(key)
        if wait > 0:
            self.queue.add_after((STATUS, key), wait)
            return
        with self._lock:
            self._written[key] = raw  # before the write: its watch echo may come before the answer
        wrote = 0
        try:
            wrote = hub_writes.write_work_statuses(
                self.hub, [work], apply.MemberReport(self.cluster, statuses={key: new})
            )
            if wrote and self.metrics.enabled:
                self.metrics.status_writes.labels("syncer").inc(wrote)
            with self._lock:
                if self._statuses.get(key) is raw:
                    del self._statuses[key]
                    since = self._status_since.pop(key, None)
                    if wrote and since is not None and self.metrics.enabled:
                        self.metrics.upsync_seconds.labels(self.cluster).observe(time.monotonic() - since)
        finally:
            with self._lock:
                if not wrote and self._written.get(key) is raw:
                    del self._written[key]  # nothing written (or it failed): no echo to wait for

    def _release_held(self) -> None:
        """Once no new desired state waits, the status writes held for them go (see ``StatusHold``)."""
        for key in self.pacer.release():
            self.queue.add((STATUS, key))

    def _sync_latency(self, work: dict, new: dict | None) -> None:
        """The sync SLI: a new desired state applied (its manifest hash differs from the one applied
        before) counts the time since the controller wrote it (``api.ANNOTATION_WRITTEN_AT``).
        Drift reverted or statuses refreshed are not syncs of a hub change and do not count."""
        if not self.metrics.enabled or not new or not new.get("appliedManifestHash"):
            return
        if new["appliedManifestHash"] == (work.get("status") or {}).get("appliedManifestHash"):
            return
        written = health.parse_time((work["metadata"].get("annotations") or {}).get(api.ANNOTATION_WRITTEN_AT))
        if written is not None:
            seconds = (common.now_utc() - written).total_seconds()
            self.metrics.sync_latency.labels(self.cluster).observe(max(seconds, 0.0))

    def _count(self, work: dict, report: apply.MemberReport, seconds: float) -> None:
        if not self.metrics.enabled:
            return
        kind = str((work["spec"].get("manifest") or {}).get("kind") or "")
        for operation in ("created", "updated", "deleted", "unchanged"):
            if getattr(report, operation):
                self.metrics.operations.labels(self.cluster, kind, operation, "success").inc(getattr(report, operation))
        if report.errors:
            self.metrics.operations.labels(self.cluster, kind, "apply", "error").inc(len(report.errors))
            self.metrics.errors.labels(self.cluster, "apply").inc(len(report.errors))
        self.metrics.operation_seconds.labels(self.cluster, "apply").observe(seconds)
        self.metrics.resources.labels(self.cluster).set(len(self.works))

    # -- heartbeat and capacity

    def _now(self) -> dt.datetime:
        """This syncer's clock (``--clock-offset`` moves it, for tests)."""
        return common.now_utc() + dt.timedelta(seconds=getattr(self.args, "clock_offset", 0.0) or 0.0)

    def _beat_loop(self) -> None:
        next_capacity = 0.0
        while not self.stop.is_set():
            if self._registration_says_stand_down(check_identity=time.monotonic() >= next_capacity):
                self.stop.wait(self.args.heartbeat_interval)
                continue
            try:
                # The heartbeat says "this cluster is being synced": no renewal while the member is away.
                self.member.version()
                clusters.renew_heartbeat(self.hub, self.cluster, self._now(), check_mode=False)
                self.last_heartbeat = time.monotonic()
                if self.metrics.enabled:
                    self.metrics.target_health.labels(self.cluster).set(1)
            except api.TMCError as err:
                if self.metrics.enabled:
                    self.metrics.target_health.labels(self.cluster).set(0)
                log(logging.WARNING, "heartbeat not renewed", cluster=self.cluster, error=str(err))
            if time.monotonic() >= next_capacity:
                next_capacity = time.monotonic() + self.args.capacity_interval
                self._report_capacity()
                self._keep_sealing_key()
            self.stop.wait(self.args.heartbeat_interval)

    def _registration_says_stand_down(self, check_identity: bool) -> bool:
        """Read the registration: True while this syncer stands down (no heartbeat: the cluster is going,
        or this member is not it). Once a deregistered cluster's last SyncWork is gone, the namespaces TMC
        created on it are settled (the registration may be unreadable by then: its RBAC goes first)."""
        before = self.standdown.mode
        try:
            found = self.standdown.refresh()
            if check_identity or self.standdown.mismatch:
                known = self.standdown.check_identity(self.member, found)
                self.identity_confirmed = known is not None and self.standdown.mismatch is None
        except api.TMCError as err:
            log(logging.WARNING, "cannot read the cluster's registration", cluster=self.cluster, error=str(err))
        if self.standdown.mode != before and self.standdown.mismatch:
            log(logging.ERROR, self.standdown.mismatch, cluster=self.cluster)
        elif self.standdown.mode != before:
            log(logging.INFO, "standing down: the cluster is being deregistered", mode=self.standdown.mode)
        if self.standdown.mode in (DELETE, ORPHAN):
            self._leaving = self.standdown.mode
        if self._leaving and not self._namespaces_swept and self.works.synced.is_set() and not len(self.works):
            self._settle_namespaces(drain=self._leaving == DELETE)
        return self.standdown.standing_down

    def _settle_namespaces(self, drain: bool) -> None:
        """Once the cluster's last SyncWork is gone: the namespaces TMC created go when empty (drained) or
        stay, released (orphaned)."""
        try:
            deleted, kept = release.settle_namespaces(self.member, drain)
            log(logging.INFO, "namespaces settled", cluster=self.cluster, removed=deleted, kept=kept)
            self._namespaces_swept = True
        except api.TMCError as err:
            log(logging.WARNING, "cannot remove the empty namespaces TMC created", cluster=self.cluster, error=str(err))

    def _report_capacity(self) -> None:
        try:
            info = clusters.probe_member(self.member)
        except api.TMCError as err:
            if self.metrics.enabled:
                self.metrics.target_health.labels(self.cluster).set(0)
            log(logging.WARNING, "member does not answer", cluster=self.cluster, error=str(err))
            return
        patch = {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND_CLUSTER,
            "metadata": {"name": self.cluster},
            "status": {"kubernetesVersion": info.version, "capacity": info.capacity, "allocatable": info.allocatable},
        }
        try:
            self.hub.apply(patch, f"{self.cluster}-syncer", subresource="status")
        except api.TMCError as err:
            log(logging.WARNING, "capacity report failed", cluster=self.cluster, error=str(err))

    def _keep_sealing_key(self) -> None:
        """Load (or make) the key ring once, then keep its newest public key on the registration, rotating
        when the registration asks for it. Only once the member is known to be the registered cluster:
        a syncer pointed at another member makes and publishes nothing (its key would seal that
        cluster's Secrets to the wrong member)."""
        if not self.key_store.configured or not self.identity_confirmed or self.standdown.standing_down:
            return
        try:
            if not self.keys:
                self.keys = self.key_store.load_or_create()
            self.keys = sealing_keys.keep_published(
                self.hub, self.cluster, self.key_store, self.keys, f"{self.cluster}-syncer-sealing"
            )
        except (api.TMCError, OSError) as err:
            log(logging.WARNING, "sealing key not published", cluster=self.cluster, error=str(err))

    # -- run

    def healthy(self) -> bool:
        return not self.stop.is_set() and process.all_alive(self.threads) and self.works.alive

    def ready(self) -> bool:
        return self.works.synced.is_set()

    def run(self, endpoints: observability.Endpoints | None = None) -> int:
        process.install_signal_handlers(self.stop)
        log(logging.INFO, "syncer starting", cluster=self.cluster, hub=self.hub.host, member=self.member.host)
        self._registration_says_stand_down(check_identity=True)  # before the first apply, and before the key
        self._keep_sealing_key()  # before the first SyncWork: a sealed Secret opens with it
        self.works.start()
        threads = workqueue.run_workers(self.queue, self.handle, self.args.concurrency, self.metrics, "syncwork")
        beat = threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True)
        beat.start()
        self.threads = [*threads, beat]
        self.stop.wait()
        workqueue.drain(self.queue, threads)
        if endpoints is not None:
            endpoints.close()
        log(logging.INFO, "syncer stopped", cluster=self.cluster)
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    observability.setup_logging(args.log_format, args.log_level)
    try:  # a configuration error is one line and exit code 2, never a traceback
        gates = api.FeatureGates.from_flag(args.feature_gates)
        gates.require(api.MASTER_GATE)
        health.Thresholds(args.heartbeat_threshold, args.eviction_timeout)
        metrics = observability.Metrics(enabled=gates.is_enabled("TMCObservability"))
        agent = connection.user_agent("syncer", args.cluster_name)
        hub = connection.daemon_client(connection.hub_config(args), "hub", metrics, user_agent=agent)
        member = connection.daemon_client(_member_config(args), "member", metrics, user_agent=agent)
        syncer = Syncer(hub, member, args.cluster_name, args, gates, metrics)
        endpoints = observability.Endpoints(metrics, syncer.healthy, syncer.ready)
        if args.metrics_port:
            endpoints.serve(args.bind_address, args.metrics_port)
        if args.health_port and args.health_port != args.metrics_port:
            endpoints.serve(args.bind_address, args.health_port)
    except api.TMCError as err:
        log(logging.ERROR, f"refusing to start: {err}")
        return 2
    return syncer.run(endpoints)


def _member_config(args: argparse.Namespace) -> kube.ClientConfig:
    if args.downstream_kubeconfig:
        return kube.ClientConfig(
            kubeconfig=args.downstream_kubeconfig, context=args.downstream_context, request_timeout=args.request_timeout
        )
    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise api.TMCError("no --downstream-kubeconfig given, and not running in a pod: say how to reach the member")
    return connection.in_cluster_config(args.request_timeout)
