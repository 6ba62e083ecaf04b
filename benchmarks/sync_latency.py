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
import base64
import contextlib
import datetime as dt
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"
BIN = Path(sys.executable).parent
DEFAULT_STATE = REPO / ".testbed" / "bench-latency"
DEFAULT_HUB_STATE = REPO / ".testbed" / "bench-latency-hub"
MODULE = "ansible_collections.tmc.multicluster.plugins.module_utils.daemons"

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
API = f"{GROUP}/{VERSION}"
BENCH_LABEL = "tmc.bench/latency"
CLUSTER_PREFIX = "lat-"
SOURCE_NS_LABEL = f"{GROUP}/source-namespace"
CONTROLLER_SA = "tmc-bench-latency-controller"
PODS_RESERVE = 100  # pods left free on each member for whoever else uses the testbed
TARGETS = {
    "sync_p95_ms": 200,
    "sync_p99_ms": 500,
    "upsync_p95_ms": 500,
    "convergence_ratio": 3.0,
    "controller_peak_rss_mb": 100,
    "syncer_peak_rss_mb": 100,
}


def log(message: str) -> None:
    print(f"[bench-latency {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


def _import_engine():
    link = COLLECTIONS / "ansible_collections" / "tmc" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(REPO, target_is_directory=True)
    for path in (str(COLLECTIONS), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from ansible_collections.tmc.multicluster.plugins.module_utils import kube

    return kube


def wait_until(what: str, check, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else round((ordered[middle - 1] + ordered[middle]) / 2, 1)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


# ------------------------------------------------------------------ ansible


def _ansible_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PYTHONPATH": f"{COLLECTIONS}:{REPO}",
        }
    )
    return env


def run_playbook(playbook: Path, timeout: float = 600) -> None:
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_ansible_env(), cwd=playbook.parent, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise BenchError(f"{playbook.name} failed (rc={proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")


def install_hub(bed, hub, work: Path, attached: bool) -> None:
    from hack.testbed import HUB

    crds = [
        hub.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.{GROUP}")
        for plural in ("clusterregistrations", "workloadplacements", "syncworks")
    ]
    if attached and all(crds):
        log("hub: the TMC CRDs are installed already (attached testbed)")
        return
    playbook = work / "hub.yml"
    playbook.write_text(
        "- name: TMC hub\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: tmc.multicluster.hub\n"
        f"      tmc_hub_kubeconfig: {bed.kubeconfig(HUB, direct=True)}\n"
    )
    log("hub: installing the TMC API (role tmc.multicluster.hub)")
    run_playbook(playbook)
    hub.forget(API)


def register_clusters(hub_bed, bed, names: dict, run_id: str, work: Path) -> dict:
    """Pull-mode registrations ``lat-<member>`` (tainted, namespace-restricted); returns syncer kubeconfigs.

    ``hub_bed``: the testbed whose hub is used; ``bed``: the one whose members are.
    """
    from hack.testbed import HUB

    dests = {member: work / f"{name}-syncer.kubeconfig" for member, name in names.items()}
    tasks = ""
    for member, name in names.items():
        args = {
            "kubeconfig": str(hub_bed.kubeconfig(HUB, direct=True)),
            "name": name,
            "sync_mode": "Pull",
            "syncer_kubeconfig_dest": str(dests[member]),
            "location": bed.state["clusters"][member]["region"],
            "labels": {BENCH_LABEL: run_id},
            "taints": [{"key": BENCH_LABEL, "value": "true", "effect": "NoSchedule"}],
            "namespace_selector": {"matchLabels": {BENCH_LABEL: "true"}},
            "member": {"kubeconfig": str(bed.kubeconfig(member, direct=True))},
        }
        tasks += f"    - name: Register {name}\n      tmc.multicluster.cluster_registration: {json.dumps(args)}\n"
    playbook = work / "register.yml"
    playbook.write_text(f"- name: Register\n  hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
    log(f"registering {', '.join(names.values())} in pull mode")
    run_playbook(playbook)
    return dests


def _processes_started_in(directory: Path) -> list[int]:
    """Pids from the pid files under ``directory`` whose process still runs there (its cwd)."""
    pids = []
    for pid_file in directory.glob("*/*.pid"):
        try:
            pid = int(pid_file.read_text())
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(directory)):
                pids.append(pid)
        except (OSError, ValueError):
            continue
    return pids


def stop_private_hub(hub_bed) -> None:
    """``Testbed.down``, then any process of that state dir it missed (by pid, SIGTERM then SIGKILL)."""
    leftovers = _processes_started_in(hub_bed.dir)
    with contextlib.suppress(Exception):
        hub_bed.down(purge=False)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        leftovers = [pid for pid in leftovers if Path(f"/proc/{pid}").exists()]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while leftovers and time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in leftovers):
            time.sleep(0.2)
    shutil.rmtree(hub_bed.dir, ignore_errors=True)


LATENCY_HISTOGRAMS = (
    "tmc_workqueue_queue_duration_seconds",
    "tmc_reconcile_duration_seconds",
    "tmc_api_request_duration_seconds",
)


def summarize_histograms(text: str, names) -> dict:
    """``{name: {"label=value,...": {count, mean_ms, p95_ms}}}`` of Prometheus histograms (p95: the
    upper bound of the bucket that holds it)."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict = {}
    for family in text_string_to_metric_families(text):
        if family.name not in names:
            continue
        series: dict = {}
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "le")
            entry = series.setdefault(labels, {"buckets": [], "count": 0, "sum": 0.0})
            if sample.name.endswith("_bucket"):
                entry["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                entry["count"] = sample.value
            elif sample.name.endswith("_sum"):
                entry["sum"] = sample.value
        found[family.name] = {
            labels: {
                "count": int(e["count"]),
                "mean_ms": round(1000 * e["sum"] / e["count"], 1),
                "p95_ms": _bucket_quantile(sorted(e["buckets"]), e["count"], 0.95),
            }
            for labels, e in series.items()
            if e["count"]
        }
    return found


def _bucket_quantile(buckets: list, count: float, q: float) -> float | None:
    for bound, cumulative in buckets:
        if cumulative >= q * count:
            return None if math.isinf(bound) else round(1000 * bound, 1)
    return None


def testbed_cpu_seconds(testbeds) -> dict:
    """User + system CPU time so far of each testbed component (``<cluster>/<component>``)."""
    found = {}
    for testbed in testbeds:
        for component in testbed.components():
            pid = testbed.pid(component)
            used = None if pid is None else cpu_seconds(pid)
            if used is not None:
                found[f"{component.cluster}/{component.name}"] = used
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (/proc/<pid>/stat), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def patient_testbed(state_dir, members: int):
    """A ``hack.testbed.Testbed`` that gives a just-started process a moment before calling it dead.

    Right after ``Popen`` returns, ``/proc/<pid>/cmdline`` can still be empty (the exec is not
    finished), so ``Testbed.pid`` says "not running" and ``up`` fails with "exited at start" - most
    often for a hub-only testbed, which checks a component immediately after starting it.
    """
    from hack.testbed import Testbed

    class PatientTestbed(Testbed):
        def _ensure_alive(self, c) -> None:
            deadline = time.monotonic() + 5
            while not self.pid(c) and time.monotonic() < deadline:
                time.sleep(0.1)
            super()._ensure_alive(c)

    return PatientTestbed(state_dir, members=members)


def start_private_hub(hub_bed, attempts: int = 2) -> None:
    """A hub-only testbed; a start that fails (a loaded machine) is cleaned up and tried once more."""
    from hack.testbed import TestbedError

    for attempt in range(1, attempts + 1):
        stop_private_hub(hub_bed)
        try:
            hub_bed.up()
            return
        except TestbedError as err:
            logs = "".join(
                f"\n--- {path.name}: {path.read_text(errors='replace')[-1500:]}"
                for path in sorted((hub_bed.dir / "hub").glob("*.log"))
            )
            if attempt == attempts:
                raise BenchError(f"the private hub did not start: {err}{logs}") from None
            log(f"hub: start failed ({err}); once more{logs}")


# ------------------------------------------------------------------ the controller's identity


def _rbac_objects(cluster_names: list[str]) -> list[dict]:
    read_rules = [
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets"]},
        {"apiGroups": ["batch"], "resources": ["jobs"]},
        {"apiGroups": [""], "resources": ["services", "configmaps", "secrets", "namespaces"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]},
        {"apiGroups": [GROUP], "resources": ["clusterregistrations", "workloadplacements", "syncworks"]},
    ]
    status_resources = [
        {"apiGroups": ["apps"], "resources": ["deployments/status", "statefulsets/status", "daemonsets/status"]},
        {"apiGroups": ["batch"], "resources": ["jobs/status"]},
        {"apiGroups": [""], "resources": ["services/status"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"]},
        {"apiGroups": [GROUP], "resources": ["workloadplacements/status"]},
    ]
    subject = [{"kind": "ServiceAccount", "name": CONTROLLER_SA, "namespace": "tmc-system"}]
    labels = {BENCH_LABEL: "controller"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": CONTROLLER_SA, "namespace": "tmc-system", "labels": labels},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{CONTROLLER_SA}-read", "labels": labels},
            "rules": [{**r, "verbs": ["get", "list", "watch"]} for r in read_rules],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{CONTROLLER_SA}-read", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{CONTROLLER_SA}-read",
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{CONTROLLER_SA}-health", "labels": labels},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["clusterregistrations/status"],
                    "resourceNames": cluster_names,
                    "verbs": ["get", "patch", "update"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{CONTROLLER_SA}-health", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"{CONTROLLER_SA}-health",
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"{CONTROLLER_SA}-write", "labels": labels},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["syncworks"],
                    "verbs": ["get", "create", "update", "patch", "delete"],
                },
                *[{**r, "verbs": ["get", "patch", "update"]} for r in status_resources],
            ],
        },
    ]


def _write_binding(namespace: str) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{CONTROLLER_SA}-write", "namespace": namespace, "labels": {BENCH_LABEL: "controller"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{CONTROLLER_SA}-write"},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_SA, "namespace": "tmc-system"}],
    }


def controller_kubeconfig(bed, hub, cluster_names: list[str], work: Path) -> Path:
    """RBAC for the benchmark's controller and a kubeconfig with a short-lived token of its ServiceAccount."""
    from hack.testbed import HUB

    for obj in _rbac_objects(cluster_names):
        hub.apply(obj, "tmc-bench-latency")
    for name in cluster_names:
        hub.apply(_write_binding(f"tmc-cluster-{name}"), "tmc-bench-latency")
    answer = hub.request(
        "POST",
        f"/api/v1/namespaces/tmc-system/serviceaccounts/{CONTROLLER_SA}/token",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 14400}},
    )
    ca = (bed.dir / "pki" / "ca.crt").read_bytes()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "bench",
        "clusters": [
            {
                "name": "hub",
                "cluster": {
                    "server": bed.server(HUB, direct=True),
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": CONTROLLER_SA, "user": {"token": answer["status"]["token"]}}],
        "contexts": [{"name": "bench", "context": {"cluster": "hub", "user": CONTROLLER_SA}}],
    }
    path = work / "controller.kubeconfig"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(config, handle)
    return path


def delete_rbac(hub, cluster_names: list[str]) -> None:
    for name in cluster_names:
        hub.delete("rbac.authorization.k8s.io/v1", "RoleBinding", f"{CONTROLLER_SA}-write", f"tmc-cluster-{name}")
    for obj in reversed(_rbac_objects(cluster_names)):
        meta = obj["metadata"]
        hub.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


# ------------------------------------------------------------------ daemons


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_status(pid: int, field: str) -> float | None:
    """A memory field of /proc/<pid>/status (VmHWM, VmRSS) in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class Daemon:
    """One controller or syncer process (its own session, so that it and only it is stopped)."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, collections: Path = COLLECTIONS):
        self.name = name
        self.collections = collections
        self.port = _free_port()
        self.argv = [
            sys.executable,
            "-m",
            MODULE,
            *argv,
            "--health-port",
            str(self.port),
            "--metrics-port",
            str(self.port),
            "--log-format",
            "json",
        ]
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.profiler: subprocess.Popen | None = None
        self.profile_path: Path | None = None

    def start(self) -> Daemon:
        env = {**os.environ, "PYTHONPATH": str(self.collections)}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, ""
        except OSError:
            return 0, ""

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"{self.name} exited ({code}):\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.get("/readyz")[0] == 200:
                return
            time.sleep(0.3)
        raise BenchError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def queue_depth(self) -> float:
        """Keys waiting in the work queue (metric tmc_workqueue_depth); -1 when the metrics do not answer."""
        status, text = self.get("/metrics")
        if status != 200:
            return -1
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("tmc_workqueue_depth{")
        )

    def latency_metrics(self) -> dict:
        """The daemon's own latency histograms (queue wait and reconcile per key type, API calls per
        server and verb): count, mean and p95 in ms, from its /metrics."""
        status, text = self.get("/metrics")
        if status != 200:
            return {}
        return summarize_histograms(text, LATENCY_HISTOGRAMS)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the process so far (/proc/<pid>/stat)."""
        return None if self.proc is None else cpu_seconds(self.proc.pid)

    def memory(self) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            return {"peak_mb": None, "rss_mb": None}
        return {"peak_mb": _proc_status(self.proc.pid, "VmHWM"), "rss_mb": _proc_status(self.proc.pid, "VmRSS")}

    def start_profiler(self, py_spy: str, out_dir: Path, rate: int, idle: bool = False) -> None:
        self.profile_path = out_dir / f"{self.name}.txt"
        with open(out_dir / f"{self.name}.py-spy.log", "ab") as out:
            self.profiler = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(self.proc.pid),
                    "--rate",
                    str(rate),
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(self.profile_path),
                    *(["--idle"] if idle else []),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop_profiler(self) -> None:
        if self.profiler is None or self.profiler.poll() is not None:
            return
        self.profiler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            self.profiler.wait(60)
        except subprocess.TimeoutExpired:
            self.profiler.kill()
            self.profiler.wait(10)

    def stop(self) -> None:
        self.stop_profiler()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def wait_quiet(daemons: list[Daemon], timeout: float, rounds: int = 3) -> float:
    """Wait until every daemon's work queue is empty ``rounds`` times in a row (0.5 s apart)."""
    start = time.monotonic()
    deadline = start + timeout
    calm = 0
    while calm < rounds:
        for daemon in daemons:
            daemon.check_alive()
        depths = [d.queue_depth() for d in daemons]
        calm = calm + 1 if all(depth == 0 for depth in depths) else 0
        if time.monotonic() >= deadline:
            raise BenchError(f"the daemons' queues did not drain in {timeout:.0f}s: {depths}")
        time.sleep(0.5)
    return time.monotonic() - start


class RssSampler:
    """Reads every daemon's VmRSS every ``interval`` seconds in a thread; samples are ``(t, MB)``."""

    def __init__(self, daemons: list[Daemon], interval: float, stop: threading.Event):
        self.daemons, self.interval, self.stop = daemons, interval, stop
        self.samples: dict[str, list[tuple[float, float]]] = {d.name: [] for d in daemons}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self.thread.start()
        return self

    def sample(self) -> dict[str, float | None]:
        """Read every daemon's VmRSS now (and keep it as a sample)."""
        now = time.monotonic()
        found = {}
        for daemon in self.daemons:
            rss = daemon.memory()["rss_mb"]
            found[daemon.name] = rss
            if rss is not None:
                with self.lock:
                    self.samples[daemon.name].append((now, rss))
        return found

    def _run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def window(self, name: str, start: float, end: float | None = None) -> list[float]:
        with self.lock:
            return [mb for t, mb in self.samples[name] if t >= start and (end is None or t <= end)]


# ------------------------------------------------------------------ watches


class Watcher:
    """List once, then watch one kind (Deployments unless told) in one namespace (or all, with a selector).

    ``handler(event, obj, t)`` runs for every change; ``t`` is ``time.monotonic()`` when it arrived.
    """

    def __init__(
        self,
        name: str,
        client,
        kube,
        namespace: str | None,
        handler,
        stop: threading.Event,
        api_version: str = "apps/v1",
        kind: str = "Deployment",
        label_selector: str | None = None,
    ):
        self.name, self.client, self.kube = name, client, kube
        self.namespace, self.handler, self.stop = namespace, handler, stop
        self.api_version, self.kind, self.label_selector = api_version, kind, label_selector
        self.ready = threading.Event()
        self.errors = 0
        self.thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def _run(self) -> None:
        version = ""
        while not self.stop.is_set():
            try:
                if not version:
                    items, version = self.client.list_with_version(
                        self.api_version, self.kind, self.namespace, self.label_selector
                    )
                    now = time.monotonic()
                    for obj in items:
                        self.handler("LISTED", obj, now)
                    self.ready.set()
                for event, obj in self.client.watch(
                    self.api_version, self.kind, self.namespace, version, self.label_selector, 15
                ):
                    now = time.monotonic()
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if event != "BOOKMARK":
                        self.handler(event, obj, now)
                    if self.stop.is_set():
                        return
            except self.kube.KubeError as err:
                self.errors += 1
                if err.status == 410:
                    version = ""
                self.stop.wait(0.2)


def _image(obj: dict) -> str | None:
    containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    return containers[0].get("image") if containers else None


def hub_status_complete(obj: dict, replicas: int, clusters: int) -> bool:
    """Whether a hub Deployment's aggregated status shows it placed and available on every cluster.

    ``replicas`` > 0: ``availableReplicas`` = replicas x clusters. 0: no counts to go by (a member
    Deployment of replicas 0 reports none), so ``observedGeneration`` = ``metadata.generation`` and
    the merged ``Available`` condition True (True only when it is True on every placed cluster).
    """
    status = obj.get("status") or {}
    if (status.get("availableReplicas") or 0) != replicas * clusters:
        return False
    if replicas:
        return True
    available = next((c for c in status.get("conditions") or [] if c.get("type") == "Available"), {})
    generation = (obj.get("metadata") or {}).get("generation")
    return status.get("observedGeneration") == generation and available.get("status") == "True"


class Recorder:
    """What the watches saw, with times; ``wait`` blocks until a condition over it holds."""

    def __init__(self, clusters: list[str], member_of: dict | None = None, replicas: int = 1):
        self.clusters = clusters
        self.replicas = replicas  # of every workload at creation: what a complete aggregated status shows
        self.member_of = member_of or {}  # registered cluster name -> member (SyncWork spec.cluster)
        self.work_image_seen: dict[tuple[str, str], float] = {}
        self.work_available_seen: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        self.first_seen: dict[str, dict[str, float]] = {c: {} for c in clusters}
        self.expect_image: dict[str, tuple[str, float]] = {}
        self.image_seen: dict[tuple[str, str], float] = {}
        self.expect_replicas: dict[str, int] = {}
        self.available_seen: dict[tuple[str, str], float] = {}
        self.hub_available: dict[str, int] = {}
        self.hub_target_seen: dict[str, float] = {}
        self.hub_all_available_at: float | None = None
        self.hub_at_full: set[str] = set()
        self.expected_names: set[str] = set()

    def on_member(self, cluster: str, event: str, obj: dict, t: float) -> None:
        if event == "DELETED":
            return
        name = obj["metadata"]["name"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        with self.cond:
            seen = self.first_seen[cluster]
            if name not in seen:
                seen[name] = t
                self.cond.notify_all()
            wanted = self.expect_image.get(name)
            if wanted and (cluster, name) not in self.image_seen and _image(obj) == wanted[0]:
                self.image_seen[(cluster, name)] = t
                self.cond.notify_all()
            target = self.expect_replicas.get(name)
            if (
                target
                and (cluster, name) not in self.available_seen
                and spec.get("replicas") == target
                and status.get("availableReplicas") == target
            ):
                self.available_seen[(cluster, name)] = t
                self.cond.notify_all()

    def on_work(self, event: str, obj: dict, t: float) -> None:
        """A SyncWork of the bench namespace: when its manifest has the new image, its status the new count."""
        if event == "DELETED":
            return
        spec = obj.get("spec") or {}
        cluster = self.member_of.get(spec.get("cluster"))
        name = (spec.get("source") or {}).get("name")
        manifest = spec.get("manifest") or {}
        downstream = (obj.get("status") or {}).get("downstreamStatus") or {}
        with self.cond:
            wanted = self.expect_image.get(name)
            key = (cluster, name)
            if wanted and key not in self.work_image_seen and _image(manifest) == wanted[0]:
                self.work_image_seen[key] = t
            target = self.expect_replicas.get(name)
            if (
                target
                and key not in self.work_available_seen
                and (manifest.get("spec") or {}).get("replicas") == target
                and downstream.get("availableReplicas") == target
            ):
                self.work_available_seen[key] = t

    def on_hub(self, event: str, obj: dict, t: float) -> None:
        if event == "DELETED":
            return
        name = obj["metadata"]["name"]
        available = (obj.get("status") or {}).get("availableReplicas") or 0
        with self.cond:
            self.hub_available[name] = available
            target = self.expect_replicas.get(name)
            if target and name not in self.hub_target_seen and available == target * len(self.clusters):
                self.hub_target_seen[name] = t
                self.cond.notify_all()
            if name in self.expected_names and hub_status_complete(obj, self.replicas, len(self.clusters)):
                self.hub_at_full.add(name)
            else:
                self.hub_at_full.discard(name)
            if self.hub_all_available_at is None and len(self.hub_at_full) == len(self.expected_names) > 0:
                self.hub_all_available_at = t
                self.cond.notify_all()

    def wait(self, what: str, check, timeout: float, required: bool = True):
        """Block until ``check()`` holds; on timeout raise (``required``) or return False."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = check()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not required:
                        return False
                    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}; members hold {self.counts()}")
                self.cond.wait(min(remaining, 1.0))

    def counts(self) -> dict:
        return {c: len(seen) for c, seen in self.first_seen.items()}


def start_watchers(kube, clients: dict, namespace: str, recorder: Recorder, stop: threading.Event, hub=None):
    watchers = [
        Watcher(c, clients[c], kube, namespace, lambda e, o, t, c=c: recorder.on_member(c, e, o, t), stop).start()
        for c in recorder.clusters
    ]
    if hub is not None:
        watchers.append(Watcher("hub", hub, kube, namespace, recorder.on_hub, stop).start())
        watchers.append(
            Watcher(
                "hub-syncworks",
                hub,
                kube,
                None,
                recorder.on_work,
                stop,
                api_version=API,
                kind="SyncWork",
                label_selector=f"{SOURCE_NS_LABEL}={namespace}",
            ).start()
        )
    for watcher in watchers:
        if not watcher.ready.wait(30):
            raise BenchError(f"the watch on {watcher.name}/{namespace} did not start")
    return watchers


def hub_requests(bed) -> Counter:
    """The hub API server's request counters (apiserver_request_total, no watches) by verb and resource.

    Counts every client of the hub: on a shared testbed others' requests are in them too.
    """
    from hack.testbed import HUB

    counts: Counter = Counter()
    try:
        status, text = bed.request(HUB, "GET", "/metrics", timeout=30)
    except OSError:
        return counts
    if status != 200 or not isinstance(text, str):
        return counts
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels.get("verb") in ("WATCH", "CONNECT"):
            continue
        resource = "/".join(x for x in (labels.get("group"), labels.get("resource"), labels.get("subresource")) if x)
        counts[f"{labels.get('verb')} {resource}"] += int(float(line.rsplit(" ", 1)[1]))
    return counts


# ------------------------------------------------------------------ objects


def workload(index: int, replicas: int = 1) -> dict:
    name = f"app-{index:05d}"
    labels = {"app": name, "bench": "latency"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example/latency/{name}:1",
                            "resources": {"requests": {"cpu": "1m", "memory": "4Mi"}},
                        }
                    ]
                },
            },
        },
    }


def placement(namespace: str, run_id: str) -> dict:
    return {
        "apiVersion": API,
        "kind": "WorkloadPlacement",
        "metadata": {"name": "latency", "namespace": namespace},
        "spec": {
            "workloadSelector": {"matchLabels": {"bench": "latency"}},
            "resources": [{"group": "apps", "kind": "Deployment"}],
            "clusterSelector": {"matchLabels": {BENCH_LABEL: run_id}},
            "tolerations": [{"key": BENCH_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
            "replicaScheduling": {"type": "Duplicated"},
        },
    }


def create_all(client, namespace: str, objects: list[dict], threads: int) -> float:
    """Create ``objects`` in ``namespace`` with ``threads`` client threads; returns the seconds it took."""
    start = time.monotonic()
    chunks = [objects[i::threads] for i in range(threads)]

    def create(chunk):
        for obj in chunk:
            client.create({**obj, "metadata": {**obj["metadata"], "namespace": namespace}})

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(create, chunk) for chunk in chunks]:
            future.result()
    return time.monotonic() - start


def free_pods(client) -> int:
    nodes = client.list("v1", "Node")
    capacity = sum(int((n.get("status") or {}).get("allocatable", {}).get("pods", "0")) for n in nodes)
    pods = client.list("v1", "Pod")
    used = sum(1 for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
    return capacity - used


def cluster_ready(registration: dict | None) -> bool:
    status = (registration or {}).get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return ready.get("status") == "True" and not status.get("taints")


# ------------------------------------------------------------------ clean-up


def remove_works(hub, cluster_names: list[str], keep_namespace: str | None = None, only: str | None = None) -> set:
    """Delete SyncWorks in the bench clusters' namespaces (finalizers first); returns their source namespaces.

    ``only``: just those of this source namespace; ``keep_namespace``: all except those.
    """
    found = []
    for name in cluster_names:
        selector = f"{SOURCE_NS_LABEL}={only}" if only else None
        try:
            items = hub.list(API, "SyncWork", namespace=f"tmc-cluster-{name}", label_selector=selector)
        except Exception as err:  # noqa: BLE001 - the namespace may not exist yet
            if getattr(err, "status", 0) == 404:
                continue
            raise
        found += [w for w in items if (w["metadata"].get("labels") or {}).get(SOURCE_NS_LABEL) != keep_namespace]

    def drop(work):
        meta = work["metadata"]
        with contextlib.suppress(Exception):
            if meta.get("finalizers"):
                hub.patch(
                    API, "SyncWork", meta["name"], {"metadata": {"finalizers": None}}, namespace=meta["namespace"]
                )
            hub.delete(API, "SyncWork", meta["name"], meta["namespace"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(drop, found))
    return {(w["metadata"].get("labels") or {}).get(SOURCE_NS_LABEL) for w in found} - {None}


def delete_namespace(client, namespace: str) -> None:
    with contextlib.suppress(Exception):
        client.delete("v1", "Namespace", namespace)


def namespace_gone(client, namespace: str) -> bool:
    return client.get("v1", "Namespace", namespace) is None


# ------------------------------------------------------------------ profile summary


# Leaf frames of a thread that waits (for an answer, a lock, a key) rather than computes.
_WAITING = (
    "SSLSocket.read",
    "SSLSocket.recv_into",
    "SSLSocket.send",
    "SSLSocket.sendall",
    "SSLSocket.do_handshake",
    "SocketIO.readinto",
    "Condition.wait",
    "Event.wait",
    "_PollLikeSelector.select",
    "do_poll",
    "socket.accept",
)


def summarize_profile(path: Path, top: int = 25) -> dict:
    """Hottest functions of a py-spy raw (collapsed) profile.

    ``waiting_pct``: samples whose leaf waits on a socket or a lock; ``on_cpu_inclusive``/``on_cpu_self``:
    shares of the other (computing) samples.
    """
    total = waiting = 0
    own: Counter = Counter()
    inclusive: Counter = Counter()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _sep, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        if frames[-1].startswith(_WAITING):
            waiting += n
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return {"samples": waiting, "waiting_pct": 100.0 if waiting else None}
    return {
        "samples": total + waiting,
        "waiting_pct": round(100 * waiting / (total + waiting), 1),
        "on_cpu_inclusive": [(f, round(100 * n / total, 1)) for f, n in inclusive.most_common(top)],
        "on_cpu_self": [(f, round(100 * n / total, 1)) for f, n in own.most_common(top)],
    }


# ------------------------------------------------------------------ run


def run(args: argparse.Namespace) -> dict:
    kube = _import_engine()
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

        syncer_configs = register_clusters(hub_bed, bed, names, run_id, work)
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
            hub.create(_write_binding(ns))
        hub.create(placement(ns, run_id))

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
        rss_steady = {d.name: _median(rss.window(d.name, steady_start)) for d in daemons}
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
            log(f"  p50 {_ms(percentile(sync, 50))} ms, p95 {_ms(percentile(sync, 95))} ms over {len(sync)} samples")
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
            log(f"  p95 {_ms(percentile(upsync, 95))} ms over {len(upsync)} samples")
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
            "sync_p50_ms": _ms(percentile(sync, 50)),
            "sync_p95_ms": _ms(percentile(sync, 95)),
            "sync_p99_ms": _ms(percentile(sync, 99)),
            "upsync_p95_ms": _ms(percentile(upsync, 95)),
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
                "sync_max_ms": _ms(max(sync) if sync else None),
                "sync_all_clusters_p50_ms": _ms(percentile(sync_all, 50)),
                "sync_all_clusters_p95_ms": _ms(percentile(sync_all, 95)),
                "updates": len(chosen),
                "update_interval_s": args.update_interval,
                "bench_hub_patch_p50_ms": _ms(percentile(patch_seconds, 50)),
                "bench_hub_patch_p95_ms": _ms(percentile(patch_seconds, 95)),
                "upsync_samples": len(upsync),
                "upsync_missing": len(chosen_up) - len(upsync),
                "upsync_censored": upsync_censored,
                "upsync_p50_ms": _ms(percentile(upsync, 50)),
                "upsync_max_ms": _ms(max(upsync) if upsync else None),
                "scale_to_hub_status_p50_ms": _ms(percentile(upsync_e2e, 50)),
                "scale_to_hub_status_p95_ms": _ms(percentile(upsync_e2e, 95)),
                "breakdown_ms": {
                    "sync_hub_to_syncwork_p50": _ms(percentile(sync_controller, 50)),
                    "sync_hub_to_syncwork_p95": _ms(percentile(sync_controller, 95)),
                    "sync_syncwork_to_member_p50": _ms(percentile(sync_syncer, 50)),
                    "sync_syncwork_to_member_p95": _ms(percentile(sync_syncer, 95)),
                    "upsync_member_to_syncwork_p50": _ms(percentile(upsync_syncer, 50)),
                    "upsync_member_to_syncwork_p95": _ms(percentile(upsync_syncer, 95)),
                    "upsync_syncwork_to_hub_p50": _ms(percentile(upsync_controller, 50)),
                    "upsync_syncwork_to_hub_p95": _ms(percentile(upsync_controller, 95)),
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
    _import_engine()
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
