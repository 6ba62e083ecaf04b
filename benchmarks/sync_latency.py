#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Latency of the running daemons: one controller and one syncer per member, as real processes.

    python benchmarks/sync_latency.py --workloads 1000 --clusters 3 --json
    python benchmarks/sync_latency.py --workloads 100 --clusters 3 --attach .testbed/dev --json
    python benchmarks/sync_latency.py --workloads 10000 --clusters 3 --replicas 0 --updates 0 \
        --upsync-samples 0 --no-floor --json

Run it with the project venv's python (``make bench-latency`` / ``make bench-latency-short`` /
``make bench-memory`` do).

Set-up (not timed): a testbed (``hack.testbed``, state ``.testbed/bench-latency``, torn down at
the end) unless ``--attach DIR`` names a running one. Attached, only that testbed's members are
used (unique namespaces; they are checked, never started or changed) and the run brings up a
private hub of its own (``.testbed/bench-latency-hub``, torn down at the end): nothing on the
shared hub is read or written. ``--shared-hub`` uses the attached hub as well (see below). The hub
role is installed (on a shared hub only when its CRDs are missing). The members are registered in
pull mode under names of their own, ``lat-<member>`` (for example ``lat-member1``, same API server
as ``member1``), with the ``cluster_registration`` module, which writes each syncer's hub
kubeconfig. The registrations carry the label ``tmc.bench/latency=<run id>``, the taint
``tmc.bench/latency:NoSchedule`` and a namespaceSelector that only admits hub namespaces labelled
``tmc.bench/latency``. The controller runs with ``--leader-elect=false --namespaces <bench
namespace>``, syncers with ``--heartbeat-interval 2``; thresholds are the defaults.

With ``--shared-hub`` those precautions keep others' placements off the bench clusters and the
bench syncers off others' SyncWorks; the registrations are left in place at the end (the next run
reuses them) and a run refuses to start while another run's syncers heartbeat. The controller runs
under a ServiceAccount whose RBAC only lets it write SyncWorks in the ``tmc-cluster-lat-*``
namespaces, status in the bench namespace and the health of the ``lat-*`` registrations: a
controller computes the health of every registered cluster and would otherwise rewrite (and, after
the eviction timeout, taint) other people's clusters. Its refused health writes are retried: in
this version of the daemons a key that keeps failing eventually kills its worker thread (see the
report of ``WorkQueue.retry``), so keep shared-hub runs short.

Measured (every time from ``time.monotonic()`` in this process; member and hub changes are seen
through watches, one per cluster on the namespace, never by polling):

- ``raw_floor_s``: the same N Deployments created directly on the members (namespace
  ``lat-raw-<id>``) by one thread per cluster, until every member's watch has seen all N. The
  namespace is then deleted and waited for (so at most N x R of this run's pods per member exist
  at any time; members have 1500 pods of capacity and the run checks the headroom first: N x R
  pods, plus one per upsync sample, plus 100 left for others; nothing is checked when the run
  makes no pods). ``--no-floor`` skips this phase (``raw_floor_s`` and ``convergence_ratio``
  null).
- ``convergence_s``: N Deployments (``--replicas`` R, default 1) created on the hub (namespace
  ``lat-<id>``, one thread per cluster as for the floor) under one ``Duplicated`` WorkloadPlacement
  decided beforehand, until every member's watch has seen all N. ``status_convergence_s``: until
  every hub Deployment's aggregated status is complete: with R > 0, ``availableReplicas`` = R x
  clusters (as always); with R = 0 (a member Deployment then reports no replica counts at all,
  only ``observedGeneration`` and the conditions ``Available``/``Progressing`` True), the
  aggregated status has ``observedGeneration`` = the hub Deployment's ``metadata.generation`` and
  the condition ``Available`` True, which the controller's merge only gives when every placed
  cluster's SyncWork reports it True (a cluster not reported yet makes it Unknown).
- ``sync_p50/p95/p99_ms``: after convergence, M (``--updates``, default 200, at most N; 0 skips
  the phase and its numbers are null) Deployments get a new image on the hub, one at a time,
  ``--update-interval`` apart; for each update and cluster, from just before the hub PATCH to the
  member watch's event that shows the image (M x clusters samples; one not seen within the wait
  counts with the time waited, a lower bound: ``sync_censored``).
- ``upsync_p95_ms``: ``--upsync-samples`` (default 50; 0 skips the phase, numbers null) other
  Deployments are scaled R -> R+1 on the hub (with R = 0 too: 0 -> 1, one pod per sample and
  member); for each, from the moment the last member's watch shows ``availableReplicas`` R+1 to
  the hub watch's event whose aggregated status shows (R+1) x clusters.
- ``controller_peak_rss_mb`` / ``syncer_peak_rss_mb``: VmHWM of each daemon process (max over
  syncers), read after the measurements.

Memory: a thread reads each daemon's VmRSS every ``--rss-interval`` seconds (default 1) for the
whole run. ``details.rss_mb`` gives, for the controller and the largest syncer, the RSS when
status convergence was reached (``converged``), in steady state (``steady``: the median of the
samples over ``--steady-seconds``, default 10, taken once the queues are empty after
convergence, before any update) and the largest sample (``sampled_max``); ``details.memory_mb``
has the same per daemon, with the largest sample of each phase. The memory-at-scale run of issue
6 (``make bench-memory``) is 10,000 Deployments of replicas 0 on 3 clusters without floor,
updates or upsync: 30,000 SyncWorks and 30,000 member objects, no pods. Every wait that grows
with the work grows with N (hub creates run at 50-150/s on a 2-core machine).

``details`` says where the time went: a watch on the bench SyncWorks splits each sync sample into
hub change -> SyncWork rewritten (controller) and SyncWork -> member object (syncer), and each
upsync sample into member -> SyncWork status (syncer) and SyncWork -> hub status (controller);
``daemon_cpu_s`` is each daemon's (and each testbed component's, ``<cluster>/<component>``) CPU
time per phase and ``hub_requests`` the hub API server's
request counts per phase (``apiserver_request_total``: on a shared hub, others' requests too);
``cpu_demand_cores`` that CPU time over the phase's duration (above ``cpus``, the machine was
saturated and every process queued for it); ``daemon_latency_metrics`` the daemons' own
histograms over the whole run (queue wait and reconcile time per key type, API call time per
server and verb); ``bench_hub_patch_*`` is how long this process's own hub PATCHes took (the API
server's answer time, a yardstick for a loaded machine). ``--controller-args``/``--syncer-args`` pass more flags
and ``--daemon-collections DIR`` runs the daemons from another copy of the collection, for A/B runs
of a change.

Before each measured phase the daemons' work queues must be empty (their ``/metrics``). Clean-up,
always: every process started is stopped; the member namespaces are deleted; a private hub is
torn down; on a shared hub this run's SyncWorks are removed (finalizers first), and its hub
namespace and the controller's RBAC deleted. ``--profile
DIR`` also samples each daemon with py-spy (``--py-spy PATH`` or on PATH) during the measurements
and writes collapsed stacks ``DIR/<daemon>.txt`` and a summary of the hottest functions. Only
127.0.0.1 is contacted; every wait has a time limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: the benchlib package is found from the repository

from benchmarks.benchlib import common
from benchmarks.benchlib.common import (
    API,
    COLLECTIONS,
    BenchError,
    hub_requests,
    import_engine,
    log,
    median,
    ms,
    percentile,
    testbed_cpu_seconds,
    wait_until,
)
from benchmarks.benchlib.daemons import Daemon, RssSampler, wait_quiet
from benchmarks.benchlib.objects import (
    cluster_ready,
    create_all,
    delete_namespace,
    free_pods,
    namespace_gone,
    placement,
    remove_works,
    workload,
)
from benchmarks.benchlib.profile import summarize_profile
from benchmarks.benchlib.rbac import BENCH_LABEL, controller_kubeconfig, delete_rbac, write_binding
from benchmarks.benchlib.testbeds import (
    install_hub,
    patient_testbed,
    register_clusters,
    start_private_hub,
    stop_private_hub,
)
from benchmarks.benchlib.watches import Recorder, start_watchers

common.PROGRAM[0] = "bench-latency"
DEFAULT_STATE = REPO / ".testbed" / "bench-latency"
DEFAULT_HUB_STATE = REPO / ".testbed" / "bench-latency-hub"
CLUSTER_PREFIX = "lat-"
PODS_RESERVE = 100  # pods left free on each member for whoever else uses the testbed
TARGETS = {
    "sync_p95_ms": 200,
    "sync_p99_ms": 500,
    "upsync_p95_ms": 500,
    "convergence_ratio": 3.0,
    "controller_peak_rss_mb": 100,
    "syncer_peak_rss_mb": 100,
}


# ------------------------------------------------------------------ run


def run(args: argparse.Namespace) -> dict:
    kube = import_engine()
    from hack.testbed import HUB, Testbed

    n, cluster_count, replicas = args.workloads, args.clusters, args.replicas
    started_bed = args.attach is None
    bed = Testbed(args.attach) if args.attach else patient_testbed(args.state, cluster_count)
    # The hub: the testbed's own (a started testbed, or --shared-hub), else a private one next to the members.
    shared_hub = args.attach is not None and args.shared_hub
    private_hub = args.attach is not None and not args.shared_hub
    hub_bed = patient_testbed(args.hub_state, 0) if private_hub else bed
    run_id = uuid.uuid4().hex[:6]
    ns, raw_ns = f"lat-{run_id}", f"lat-raw-{run_id}"
    work = Path(tempfile.mkdtemp(prefix=f"tmc-bench-latency-{run_id}-"))
    logs = Path(args.logs).resolve() if args.logs else work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    daemons: list[Daemon] = []
    daemon_collections = Path(args.daemon_collections).resolve() if args.daemon_collections else COLLECTIONS
    cpu_marks: list[tuple[str, dict]] = []
    phase_marks: list[float] = []
    request_marks: list[Counter] = []

    def cpu_mark(phase: str) -> None:
        testbeds = {bed.dir: bed, hub_bed.dir: hub_bed}.values()
        cpu_marks.append((phase, {d.name: d.cpu_seconds() for d in daemons} | testbed_cpu_seconds(testbeds)))
        phase_marks.append(time.monotonic())
        request_marks.append(hub_requests(hub_bed))

    hub = members = None
    cluster_names: list[str] = []
    owns_clusters = rbac_made = hub_ns_made = False
    failed = True
    try:
        if started_bed:
            log(f"testbed: starting hub + {cluster_count} members in {bed.dir}")
            bed.down()
            bed.up()
        else:
            log(f"testbed: attaching to {bed.dir}")
            if not bed.status()["running"]:
                raise BenchError(f"the testbed in {bed.dir} is not (fully) running")
        if len(bed.members) < cluster_count:
            raise BenchError(f"the testbed in {bed.dir} has {len(bed.members)} members, not {cluster_count}")
        if private_hub:
            log(f"hub: starting a private hub in {hub_bed.dir} (the attached testbed's hub is not touched)")
            start_private_hub(hub_bed)
        member_names = bed.members[:cluster_count]
        names = {m: f"{CLUSTER_PREFIX}{m}" for m in member_names}
        cluster_names = list(names.values())
        hub = kube.client_for(kube.ClientConfig(kubeconfig=str(hub_bed.kubeconfig(HUB, direct=True))))
        members = {
            m: kube.client_for(kube.ClientConfig(kubeconfig=str(bed.kubeconfig(m, direct=True)))) for m in member_names
        }

        # -- room for the pods, and nobody else running this benchmark on this hub
        upsync_n = min(args.upsync_samples, n)
        pods_needed = n * replicas + upsync_n  # per member at most: the workloads, then one more per scale-up
        for m, client in members.items() if pods_needed else ():
            free = free_pods(client)
            if free < pods_needed + PODS_RESERVE:
                raise BenchError(
                    f"{m} has room for {free} more pods; this run needs {pods_needed} plus {PODS_RESERVE} "
                    "left for others: use fewer --workloads or --replicas"
                )
        install_hub(hub_bed, hub, work, attached=shared_hub)
        for name in cluster_names if shared_hub else ():
            lease = hub.get("coordination.k8s.io/v1", "Lease", f"cluster-{name}", "tmc-system")
            renewed = ((lease or {}).get("spec") or {}).get("renewTime")
            if renewed:
                when = dt.datetime.fromisoformat(renewed.replace("Z", "+00:00"))
                age = (dt.datetime.now(dt.UTC) - when).total_seconds()
                if age < 15:
                    raise BenchError(f"{name} heartbeated {age:.0f}s ago: another bench-latency run is using this hub")
        owns_clusters = True

        syncer_configs = register_clusters(hub_bed, bed, names, run_id, work, BENCH_LABEL)
        stale = remove_works(hub, cluster_names, keep_namespace=None)
        for old in sorted(stale):
            if re.fullmatch(r"lat-(raw-)?[0-9a-f]{6}", old or ""):
                log(f"removing leftovers of an earlier run: {old}")
                for client in members.values():
                    delete_namespace(client, old)
                delete_namespace(hub, old)
        if shared_hub:
            # Someone else's hub: the controller may read everything but write only what is this run's.
            controller_config = controller_kubeconfig(hub_bed, hub, cluster_names, work)
            rbac_made = True
        else:
            controller_config = hub_bed.kubeconfig(HUB, direct=True)

        # -- daemons
        for m, name in names.items():
            daemons.append(
                Daemon(
                    f"syncer-{name}",
                    [
                        "syncer",
                        "--cluster-name",
                        name,
                        "--kubeconfig",
                        str(syncer_configs[m]),
                        "--downstream-kubeconfig",
                        str(bed.kubeconfig(m, direct=True)),
                        "--heartbeat-interval",
                        "2",
                        *shlex.split(args.syncer_args),
                    ],
                    logs,
                    daemon_collections,
                )
            )
        controller_argv = [
            "controller",
            "--kubeconfig",
            str(controller_config),
            "--leader-elect=false",
            "--namespaces",
            ns,
        ]
        if args.resource_types:
            controller_argv += ["--resource-types", args.resource_types]
        controller_argv += shlex.split(args.controller_args)
        controller = Daemon("controller", controller_argv, logs, daemon_collections)
        daemons.append(controller)
        syncers = daemons[:-1]
        log(f"starting 1 controller and {len(syncers)} syncers (logs in {logs})")
        for daemon in daemons:
            daemon.start()
        rss = RssSampler(daemons, args.rss_interval, stop).start()
        for daemon in daemons:
            daemon.wait_ready()
        wait_until(
            "the bench clusters Ready and untainted",
            lambda: all(cluster_ready(hub.get(API, "ClusterRegistration", c)) for c in cluster_names),
            timeout=90,
        )

        # -- raw floor: the same objects straight onto the members, one thread per cluster
        objects = [workload(i, replicas) for i in range(n)]
        raw_floor_s = None
        if args.no_floor:
            log("raw floor: skipped (--no-floor)")
        else:
            raw = Recorder(member_names, replicas=replicas)
            raw.expected_names = {o["metadata"]["name"] for o in objects}
            for client in members.values():
                client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": raw_ns}})
            raw_stop = threading.Event()
            start_watchers(kube, members, raw_ns, raw, raw_stop)
            log(f"raw floor: {n} Deployments onto each of {cluster_count} members")
            t0 = time.monotonic()
            errors: list = []

            def raw_create(member):
                try:
                    create_all(members[member], raw_ns, objects, 1)
                except Exception as err:  # noqa: BLE001 - reported below
                    errors.append(f"{member}: {err}")

            threads = [threading.Thread(target=raw_create, args=(m,), daemon=True) for m in member_names]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600 + n)
            if errors:
                raise BenchError(f"raw creates failed: {errors[:3]}")
            raw.wait(
                "every member to hold the raw objects",
                lambda: all(len(s) >= n for s in raw.first_seen.values()),
                timeout=300 + n * 0.5,
            )
            raw_floor_s = max(max(seen.values()) for seen in raw.first_seen.values()) - t0
            log(f"  raw floor {raw_floor_s:.2f}s; deleting {raw_ns} on the members and waiting for it to go")
            raw_stop.set()  # the raw watches end within their 15 s watch timeout
            for client in members.values():
                delete_namespace(client, raw_ns)
            for m, client in members.items():
                wait_until(f"{raw_ns} gone from {m}", lambda c=client: namespace_gone(c, raw_ns), 300 + n * 0.3, 2.0)

        # On a loaded machine everything is slower: the limits grow with the measured floor.
        patience = max(120 + n * 1.5, 12 * (raw_floor_s or 0))

        # -- the hub namespace and placement (decided before the clock starts)
        rec = Recorder(member_names, {name: m for m, name in names.items()}, replicas)
        rec.expected_names = {o["metadata"]["name"] for o in objects}
        hub.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {BENCH_LABEL: "true"}}})
        hub_ns_made = True
        if shared_hub:
            hub.create(write_binding(ns))
        hub.create(placement(ns, run_id, BENCH_LABEL))

        def decided():
            wp = hub.get(API, "WorkloadPlacement", "latency", ns) or {}
            chosen = sorted(d.get("cluster") for d in (wp.get("status") or {}).get("decisions") or [])
            return chosen == sorted(cluster_names)

        wait_until("the placement to choose the bench clusters", decided, timeout=60)
        watchers = start_watchers(kube, members, ns, rec, stop, hub=hub)
        wait_quiet(daemons, 60)

        # -- convergence
        log(
            f"convergence: {n} Deployments (replicas {replicas}) on the hub, Duplicated onto {', '.join(cluster_names)}"
        )
        profiling = bool(args.profile)
        if profiling:
            py_spy = args.py_spy or shutil.which("py-spy")
            if not py_spy:
                raise BenchError("--profile needs py-spy (--py-spy PATH or on PATH)")
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            for daemon in daemons:
                daemon.start_profiler(py_spy, Path(args.profile), args.profile_rate, args.profile_idle)
        cpu_mark("start")
        t0 = time.monotonic()
        hub_create_s = create_all(hub, ns, objects, cluster_count)
        rec.wait(
            "every member to hold every workload",
            lambda: all(len(s) >= n for s in rec.first_seen.values()),
            timeout=patience,
        )
        convergence_s = max(max(seen.values()) for seen in rec.first_seen.values()) - t0
        log(f"  converged in {convergence_s:.2f}s (hub creates {hub_create_s:.2f}s); waiting for status")
        rec.wait(
            "the aggregated status of every workload",
            lambda: rec.hub_all_available_at is not None,
            timeout=patience,
        )
        status_convergence_s = rec.hub_all_available_at - t0
        rss_converged = rss.sample()
        log(f"  status aggregated on the hub after {status_convergence_s:.2f}s; RSS MB {rss_converged}")
        quiet_s = wait_quiet(daemons, 120 + n * 0.5)
        cpu_mark("convergence")

        # -- steady state: the queues are empty; memory over a short idle window
        steady_start = time.monotonic()
        stop.wait(args.steady_seconds)
        rss.sample()
        rss_steady = {d.name: median(rss.window(d.name, steady_start)) for d in daemons}
        log(f"  queues empty {quiet_s:.1f}s after status convergence; steady RSS MB {rss_steady}")
        cpu_mark("steady")

        # -- hub change -> member applied
        m_updates = min(args.updates, n)
        quiet_limit = 120 + n * 0.1  # the daemons' queues after a phase: their work grows with N
        patch_seconds: list[float] = []  # this process's own hub PATCHes: the API server's answer time
        chosen: list[str] = []
        sync, sync_censored, sync_all, sync_controller, sync_syncer = [], [], [], [], []
        if not m_updates:
            log("sync latency: skipped (--updates 0)")
        else:
            step = max(1, n // m_updates)
            chosen = [objects[(i * step) % n]["metadata"]["name"] for i in range(m_updates)]
            log(f"sync latency: {m_updates} image updates, {args.update_interval}s apart")
            for name in chosen:
                image = f"registry.example/latency/{name}:2"
                started = time.monotonic()
                with rec.cond:
                    rec.expect_image[name] = (image, started)
                hub.patch(
                    "apps/v1",
                    "Deployment",
                    name,
                    {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}},
                    namespace=ns,
                    content_type="application/strategic-merge-patch+json",
                )
                patch_seconds.append(time.monotonic() - started)
                time.sleep(max(0.0, started + args.update_interval - time.monotonic()))
            rec.wait(
                "the image updates on every member",
                lambda: len(rec.image_seen) >= m_updates * cluster_count,
                timeout=max(120.0 + n * 0.02, 2.0 * m_updates),
                required=False,
            )
            gave_up = time.monotonic()
            sync = [rec.image_seen[(c, name)] - rec.expect_image[name][1] for (c, name) in rec.image_seen]
            # an update not seen in time counts with the time waited (a lower bound), so percentiles are not flattered
            sync_censored = [
                gave_up - rec.expect_image[name][1]
                for name in chosen
                for c in member_names
                if (c, name) not in rec.image_seen
            ]
            sync += sync_censored
            sync_all = [
                max(rec.image_seen[(c, name)] for c in member_names) - rec.expect_image[name][1]
                for name in chosen
                if all((c, name) in rec.image_seen for c in member_names)
            ]
            # where it went: hub change -> SyncWork rewritten (controller), SyncWork -> member object (syncer)
            sync_controller = [t - rec.expect_image[name][1] for (_c, name), t in rec.work_image_seen.items()]
            sync_syncer = [
                t - rec.work_image_seen[key] for key, t in rec.image_seen.items() if key in rec.work_image_seen
            ]
            log(f"  p50 {ms(percentile(sync, 50))} ms, p95 {ms(percentile(sync, 95))} ms over {len(sync)} samples")
            wait_quiet(daemons, quiet_limit)
            cpu_mark("sync")

        # -- member status -> hub aggregated: R -> R+1 replicas
        updated = set(chosen)
        chosen_up = [o["metadata"]["name"] for o in objects if o["metadata"]["name"] not in updated][:upsync_n] or [
            objects[i]["metadata"]["name"] for i in range(upsync_n)
        ]
        upsync, upsync_e2e, upsync_controller, upsync_syncer = [], [], [], []
        upsync_censored = 0
        if not chosen_up:
            log("upsync latency: skipped (--upsync-samples 0)")
        else:
            log(
                f"upsync latency: {len(chosen_up)} Deployments scaled {replicas} -> {replicas + 1}, "
                f"{args.upsync_interval}s apart"
            )
            upsync_started: dict[str, float] = {}
            for name in chosen_up:
                started = time.monotonic()
                with rec.cond:
                    rec.expect_replicas[name] = replicas + 1
                    upsync_started[name] = started
                hub.patch("apps/v1", "Deployment", name, {"spec": {"replicas": replicas + 1}}, namespace=ns)
                patch_seconds.append(time.monotonic() - started)
                time.sleep(max(0.0, started + args.upsync_interval - time.monotonic()))

            def upsync_done():
                return all(name in rec.hub_target_seen for name in chosen_up)

            rec.wait(
                "the aggregated scale-ups on the hub",
                upsync_done,
                timeout=max(180.0 + n * 0.02, 4.0 * len(chosen_up)),
                required=False,
            )
            gave_up = time.monotonic()
            for name in chosen_up:
                member_times = [rec.available_seen.get((c, name)) for c in member_names]
                hub_time = rec.hub_target_seen.get(name)
                if None in member_times:
                    continue  # a member never reported it: no sample (counted in upsync_missing)
                if hub_time is None:
                    upsync.append(gave_up - max(member_times))  # censored: a lower bound
                    upsync_censored += 1
                    continue
                upsync.append(hub_time - max(member_times))
                upsync_e2e.append(hub_time - upsync_started[name])
                work_times = [rec.work_available_seen.get((c, name)) for c in member_names]
                if None not in work_times:
                    upsync_controller.append(hub_time - max(work_times))
                    upsync_syncer += [w - m for w, m in zip(work_times, member_times, strict=True)]
            log(f"  p95 {ms(percentile(upsync, 95))} ms over {len(upsync)} samples")
            wait_quiet(daemons, quiet_limit)
            cpu_mark("upsync")

        # -- CPU per phase, memory, then the profiles
        cpu_s = {
            phase: {
                name: round(after[name] - before[name], 2)
                for name in after
                if after[name] is not None and before.get(name) is not None
            }
            for (_p, before), (phase, after) in zip(cpu_marks, cpu_marks[1:], strict=False)
        }
        # CPU all these processes wanted per second of the phase: above the machine's cores, they queued.
        demand = {
            phase: round(sum(cpu_s[phase].values()) / (end - start), 2)
            for (phase, _c), start, end in zip(cpu_marks[1:], phase_marks, phase_marks[1:], strict=False)
        }
        requests = {
            phase: dict((after - before).most_common(10)) | {"total": sum((after - before).values())}
            for (phase, _c), before, after in zip(cpu_marks[1:], request_marks, request_marks[1:], strict=False)
        }
        memory = {d.name: d.memory() for d in daemons}
        phase_windows = list(zip([p for p, _c in cpu_marks[1:]], phase_marks, phase_marks[1:], strict=False))
        for d in daemons:
            memory[d.name] |= {
                "rss_converged_mb": rss_converged.get(d.name),
                "rss_steady_mb": rss_steady.get(d.name),
                "rss_sampled_max_mb": max(rss.window(d.name, 0.0), default=None),
                "rss_phase_max_mb": {
                    phase: max(rss.window(d.name, start, end), default=None) for phase, start, end in phase_windows
                },
                "rss_samples": len(rss.window(d.name, 0.0)),
            }
        latency_metrics = {d.name: d.latency_metrics() for d in daemons}
        for daemon in daemons:
            daemon.check_alive()
        profiles = {}
        if profiling:
            for daemon in daemons:
                daemon.stop_profiler()
                profiles[daemon.name] = summarize_profile(daemon.profile_path)
            (Path(args.profile) / "summary.json").write_text(json.dumps(profiles, indent=2))
        syncer_peaks = {d.name: memory[d.name]["peak_mb"] for d in syncers}

        def rss_summary(key: str) -> dict:
            return {
                "controller": memory["controller"][key],
                "syncer_max": max((memory[d.name][key] or 0 for d in syncers), default=None) or None,
            }

        result = {
            "workloads": n,
            "clusters": cluster_count,
            "replicas": replicas,
            "convergence_s": round(convergence_s, 3),
            "raw_floor_s": None if raw_floor_s is None else round(raw_floor_s, 3),
            "convergence_ratio": round(convergence_s / raw_floor_s, 2) if raw_floor_s else None,
            "sync_p50_ms": ms(percentile(sync, 50)),
            "sync_p95_ms": ms(percentile(sync, 95)),
            "sync_p99_ms": ms(percentile(sync, 99)),
            "upsync_p95_ms": ms(percentile(upsync, 95)),
            "controller_peak_rss_mb": memory["controller"]["peak_mb"],
            "syncer_peak_rss_mb": max((v for v in syncer_peaks.values() if v is not None), default=None),
            "details": {
                "hub_create_s": round(hub_create_s, 3),
                "status_convergence_s": round(status_convergence_s, 3),
                "status_convergence_rule": (
                    f"availableReplicas = {replicas} x clusters"
                    if replicas
                    else "observedGeneration = generation and condition Available True"
                ),
                "queues_empty_after_status_s": round(quiet_s, 3),
                "rss_mb": {
                    "converged": rss_summary("rss_converged_mb"),
                    "steady": rss_summary("rss_steady_mb"),
                    "sampled_max": rss_summary("rss_sampled_max_mb"),
                    "steady_seconds": args.steady_seconds,
                    "interval_s": args.rss_interval,
                },
                "sync_samples": len(sync),
                "sync_censored": len(sync_censored),
                "sync_max_ms": ms(max(sync) if sync else None),
                "sync_all_clusters_p50_ms": ms(percentile(sync_all, 50)),
                "sync_all_clusters_p95_ms": ms(percentile(sync_all, 95)),
                "updates": len(chosen),
                "update_interval_s": args.update_interval,
                "bench_hub_patch_p50_ms": ms(percentile(patch_seconds, 50)),
                "bench_hub_patch_p95_ms": ms(percentile(patch_seconds, 95)),
                "upsync_samples": len(upsync),
                "upsync_missing": len(chosen_up) - len(upsync),
                "upsync_censored": upsync_censored,
                "upsync_p50_ms": ms(percentile(upsync, 50)),
                "upsync_max_ms": ms(max(upsync) if upsync else None),
                "scale_to_hub_status_p50_ms": ms(percentile(upsync_e2e, 50)),
                "scale_to_hub_status_p95_ms": ms(percentile(upsync_e2e, 95)),
                "breakdown_ms": {
                    "sync_hub_to_syncwork_p50": ms(percentile(sync_controller, 50)),
                    "sync_hub_to_syncwork_p95": ms(percentile(sync_controller, 95)),
                    "sync_syncwork_to_member_p50": ms(percentile(sync_syncer, 50)),
                    "sync_syncwork_to_member_p95": ms(percentile(sync_syncer, 95)),
                    "upsync_member_to_syncwork_p50": ms(percentile(upsync_syncer, 50)),
                    "upsync_member_to_syncwork_p95": ms(percentile(upsync_syncer, 95)),
                    "upsync_syncwork_to_hub_p50": ms(percentile(upsync_controller, 50)),
                    "upsync_syncwork_to_hub_p95": ms(percentile(upsync_controller, 95)),
                },
                "daemon_cpu_s": cpu_s,
                "cpu_demand_cores": demand,
                "daemon_latency_metrics": latency_metrics,
                "hub_requests": requests,
                "memory_mb": memory,
                "syncer_peak_rss_mb_each": syncer_peaks,
                "watch_restarts": {w.name: w.errors for w in watchers},
                "controller_resource_types": args.resource_types or "(controller default)",
                "controller_args": args.controller_args,
                "syncer_args": args.syncer_args,
                "namespaces": {"hub": ns, "raw": None if args.no_floor else raw_ns},
                "clusters": cluster_names,
                "testbed": {
                    "state": str(bed.dir),
                    "attached": not started_bed,
                    "hub": "shared" if shared_hub else "private" if private_hub else "own",
                    "hub_state": str(hub_bed.dir),
                },
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
            },
            "targets": TARGETS,
        }
        if profiles:
            result["details"]["profile_dir"] = str(Path(args.profile).resolve())
        failed = False
        return result
    finally:
        stop.set()
        for daemon in daemons:
            try:
                daemon.stop()
            except Exception as err:  # noqa: BLE001 - stop the others anyway
                log(f"stopping {daemon.name}: {err}")
        if started_bed and not args.keep:
            log(f"testbed: stopping {bed.dir}")
            bed.down()
        elif not args.keep:
            if hub is not None and shared_hub:
                _cleanup(hub, members or {}, cluster_names, ns, raw_ns, owns_clusters, rbac_made, hub_ns_made)
            else:
                log(f"cleaning up {ns} and {raw_ns} on the members")
                for client in (members or {}).values():
                    delete_namespace(client, ns)
                    delete_namespace(client, raw_ns)
            if private_hub:
                log(f"hub: stopping the private hub {hub_bed.dir}")
                stop_private_hub(hub_bed)
        if failed:
            forget_credentials(work)
            log(f"daemon logs kept in {logs}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def forget_credentials(work: Path) -> None:
    """What a failed run keeps for a look (logs, playbooks), without the kubeconfigs it wrote: their
    tokens are the syncers' and the controller's."""
    for path in work.glob("*.kubeconfig"):
        path.unlink(missing_ok=True)


def _stop_on_sigterm(_signum, _frame) -> None:
    raise SystemExit(143)  # unwinds through run()'s clean-up: daemons stopped, testbed down, credentials gone


def _cleanup(hub, members, cluster_names, ns, raw_ns, owns_clusters, rbac_made, hub_ns_made) -> None:
    """On an attached testbed: remove what this run made (never the registrations)."""
    log(f"cleaning up {ns} and {raw_ns}")
    try:
        if owns_clusters:
            remove_works(hub, cluster_names, only=ns)
        if hub_ns_made:
            delete_namespace(hub, ns)
        for client in members.values():
            delete_namespace(client, ns)
            delete_namespace(client, raw_ns)
        if rbac_made:
            delete_rbac(hub, cluster_names)
    except Exception as err:  # noqa: BLE001 - say what is left
        log(f"cleanup incomplete ({type(err).__name__}: {str(err)[:300]}); {ns}, {raw_ns} may remain")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=1000, help="Deployments placed on every cluster")
    parser.add_argument("--clusters", type=int, default=3, help="member clusters")
    parser.add_argument(
        "--replicas", type=int, default=1, help="replicas of each Deployment (0: no pods, for memory at scale)"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the raw floor (raw_floor_s null)")
    parser.add_argument("--updates", type=int, default=200, help="image updates timed (at most --workloads; 0: none)")
    parser.add_argument("--update-interval", type=float, default=0.2, help="seconds between two image updates")
    parser.add_argument(
        "--upsync-samples", type=int, default=50, help="scale-ups R -> R+1 timed (at most --workloads; 0: none)"
    )
    parser.add_argument("--upsync-interval", type=float, default=0.5, help="seconds between two scale-ups")
    parser.add_argument(
        "--resource-types",
        default="",
        help="the controller's --resource-types, for example apps/Deployment (default: its own, every kind)",
    )
    parser.add_argument("--attach", metavar="STATE_DIR", help="use this running testbed (left running)")
    parser.add_argument("--state", default=str(DEFAULT_STATE), help="state dir of the testbed it starts")
    parser.add_argument(
        "--shared-hub",
        action="store_true",
        help="with --attach: use the attached testbed's hub too (default: a private hub, its members only)",
    )
    parser.add_argument(
        "--hub-state", default=str(DEFAULT_HUB_STATE), help="state dir of the private hub (with --attach)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the testbed / namespaces in place")
    parser.add_argument("--logs", metavar="DIR", help="write the daemons' logs here and keep them")
    parser.add_argument("--controller-args", default="", help="more controller flags, e.g. '--concurrency 16'")
    parser.add_argument("--syncer-args", default="", help="more syncer flags")
    parser.add_argument(
        "--daemon-collections",
        metavar="DIR",
        help="run the daemons from this collections tree (DIR/ansible_collections/tmc/multicluster), for A/B runs",
    )
    parser.add_argument("--profile", metavar="DIR", help="sample the daemons with py-spy into DIR")
    parser.add_argument("--py-spy", help="the py-spy binary (default: on PATH)")
    parser.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--profile-idle", action="store_true", help="py-spy also samples waiting threads")
    parser.add_argument("--rss-interval", type=float, default=1.0, help="seconds between two VmRSS samples")
    parser.add_argument(
        "--steady-seconds", type=float, default=10.0, help="idle window after convergence for the steady-state RSS"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: key: value lines)")
    args = parser.parse_args(argv)
    if args.workloads < 1 or args.clusters < 1:
        parser.error("--workloads and --clusters must be at least 1")
    if min(args.replicas, args.updates, args.upsync_samples) < 0:
        parser.error("--replicas, --updates and --upsync-samples must not be negative")
    if args.rss_interval <= 0 or args.steady_seconds < 0:
        parser.error("--rss-interval must be positive and --steady-seconds not negative")
    import_engine()
    from hack.testbed import TestbedError

    signal.signal(signal.SIGTERM, _stop_on_sigterm)

    try:
        result = run(args)
    except (BenchError, TestbedError) as err:
        log(f"failed: {err}")
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
