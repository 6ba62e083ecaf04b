# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``doctor``: checks a TMC installation from the hub and prints what to fix.

Checks, in order (each finding: check, status ok/warn/fail, what was found, the fix):
hub API reachable; the three CRDs established; every admission policy and binding the hub role ships
present; the daemons' health endpoints (``--daemon NAME=URL``, and pods of the kubernetes runtime on the
hub); the controller's leader Lease held and renewed; every cluster's heartbeat within the threshold;
SyncWorks whose desired state has not been applied for ``--stale-after`` seconds.
Exit status: 0 when every check is ok, 1 otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.cli.output import Result
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters

COLLECTION = Path(__file__).resolve().parents[3]
HUB_ROLE = COLLECTION / "roles" / "hub"
CRDS = ("clusterregistrations", "workloadplacements", "syncworks")
LEADER_LEASE = "tmc-controller"
RUN_HUB_ROLE = "run the role tmc.multicluster.hub against the hub (it installs and repairs the TMC API)"


@dataclass
class Finding:
    check: str
    status: str  # ok | warn | fail
    message: str
    fix: str = ""


def _crd_established(crd: Mapping) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


def check_crds(hub: kube.Kube) -> list[Finding]:
    found = []
    for plural in CRDS:
        name = f"{plural}.{api.GROUP}"
        crd = hub.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        if crd is None:
            found.append(Finding("crds", "fail", f"CRD {name} is missing", RUN_HUB_ROLE))
        elif not _crd_established(crd):
            found.append(Finding("crds", "fail", f"CRD {name} is not Established", f"kubectl describe crd {name}"))
    return found or [Finding("crds", "ok", f"{len(CRDS)} CRDs established")]


# A policy's kind line, then its metadata's name (the next ``name:`` line). Read from the text, not parsed as
# YAML: the hub role ships policies as Jinja templates (an allow-list is rendered into one of them).
_POLICY = re.compile(
    r"^\s*-?\s*kind:\s*(ValidatingAdmissionPolicy(?:Binding)?)\s*$\n(?:.*\n)*?\s*name:\s*([\w.-]+)", re.M
)


def shipped_policies(role: Path = HUB_ROLE) -> list[tuple[str, str]]:
    """(kind, name) of every ValidatingAdmissionPolicy and binding the hub role installs (files or templates)."""
    paths = sorted((role / "files").rglob("*.y*ml")) + sorted((role / "templates").rglob("*.y*ml.j2"))
    return [(m.group(1), m.group(2)) for path in paths for m in _POLICY.finditer(path.read_text())]


def check_policies(hub: kube.Kube, shipped: Iterable[tuple[str, str]]) -> list[Finding]:
    shipped = list(shipped)
    if not shipped:
        return [Finding("admission", "ok", "this collection's hub role ships no admission policies")]
    found = []
    for kind, name in shipped:
        if hub.get("admissionregistration.k8s.io/v1", kind, name) is None:
            found.append(
                Finding(
                    "admission",
                    "fail",
                    f"{kind} {name} is missing: the hub does not enforce the rule it carries",
                    RUN_HUB_ROLE + " (with tmc_hub_admission_policies: true)",
                )
            )
    return found or [Finding("admission", "ok", f"{len(shipped)} admission policies and bindings present")]


def _probe(url: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - an operator-given URL
            return resp.status, resp.read(200).decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read(200).decode(errors="replace")
    except OSError as err:
        return 0, str(getattr(err, "reason", err))


def check_endpoints(daemons: Mapping[str, str], timeout: float = 3.0) -> list[Finding]:
    found = []
    for name, base in sorted(daemons.items()):
        base = base.rstrip("/")
        code, body = _probe(f"{base}/healthz", timeout)
        if code == 0:
            found.append(
                Finding(
                    "daemons",
                    "fail",
                    f"{name} does not answer at {base} ({body})",
                    f"{name} is stopped or unreachable: start it again (run its role: the supervisor or the "
                    "Deployment restarts it) and read its log for why it stopped",
                )
            )
            continue
        if code != 200:
            found.append(
                Finding(
                    "daemons",
                    "fail",
                    f"{name} is unhealthy ({code} {body.strip()})",
                    f"a loop of {name} stopped: restart it; its log says which",
                )
            )
            continue
        code, body = _probe(f"{base}/readyz", timeout)
        if code != 200:
            found.append(
                Finding(
                    "daemons",
                    "warn",
                    f"{name} is not ready ({code} {body.strip()}): its caches are not synced",
                    f"{name} cannot list from its API servers: check their reachability from it",
                )
            )
        else:
            found.append(Finding("daemons", "ok", f"{name} healthy and ready at {base}"))
    return found


def _pod_ready(pod: Mapping) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def check_pods(hub: kube.Kube) -> list[Finding]:
    """The kubernetes runtime's daemons on the hub (none: the process runtime, nothing to say)."""
    pods = hub.list("v1", "Pod", namespace=api.SYSTEM_NAMESPACE, label_selector="app.kubernetes.io/part-of=tmc")
    found = []
    for pod in pods:
        name = pod["metadata"]["name"]
        if not _pod_ready(pod):
            found.append(
                Finding(
                    "daemons",
                    "fail",
                    f"pod {api.SYSTEM_NAMESPACE}/{name} is not Ready ({(pod.get('status') or {}).get('phase')})",
                    f"kubectl -n {api.SYSTEM_NAMESPACE} describe pod {name}; kubectl -n {api.SYSTEM_NAMESPACE} "
                    f"logs {name} --previous",
                )
            )
    return found


def _age(stamp: str | None, now: dt.datetime) -> float | None:
    moment = health.parse_time(stamp)
    return None if moment is None else (now - moment).total_seconds()


def check_leader(hub: kube.Kube, now: dt.datetime, lease_duration: float) -> list[Finding]:
    lease = hub.get("coordination.k8s.io/v1", "Lease", LEADER_LEASE, api.SYSTEM_NAMESPACE)
    fix = (
        "start the controller (role tmc.multicluster.controller); if replicas run, read their logs for "
        "leader election errors (RBAC on leases, hub reachability)"
    )
    if lease is None:
        return [Finding("leader", "fail", "no controller has ever led (no Lease tmc-system/tmc-controller)", fix)]
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity")
    age = _age(spec.get("renewTime"), now)
    if not holder or age is None or age > lease_duration:
        shown = "never" if age is None else f"{age:.0f}s ago"
        return [Finding("leader", "fail", f"no controller leads: last renewed {shown} by {holder or 'nobody'}", fix)]
    return [Finding("leader", "ok", f"{holder} leads (renewed {age:.0f}s ago)")]


def check_heartbeats(hub: kube.Kube, now: dt.datetime, thresholds: health.Thresholds) -> list[Finding]:
    leases = clusters.heartbeat_leases(hub)
    found = []
    for registration in sorted(hub.list(api.API_VERSION, api.KIND_CLUSTER), key=lambda r: r["metadata"]["name"]):
        name = registration["metadata"]["name"]
        verdict = health.evaluate(registration, leases.get(name), now, thresholds)
        pull = (registration.get("spec") or {}).get("syncMode") == "Pull"
        who = (
            f"the syncer of {name} (pull mode) is stopped or cannot reach the hub: start it (role "
            f"tmc.multicluster.syncer) or restore its network path; check with `kubectl -n tmc-system get lease "
            f"{api.heartbeat_lease_name(name)}`"
            if pull
            else f"{name} is in push mode: run cluster_registration with heartbeat: true for it (a schedule "
            "shorter than the heartbeat threshold), or deregister it if it is gone"
        )
        if verdict.heartbeat_age is None:
            found.append(Finding("heartbeats", "fail", f"{name} has never sent a heartbeat", who))
        elif verdict.heartbeat_age > thresholds.heartbeat:
            state = (
                "past the eviction timeout: its workloads fail over"
                if verdict.heartbeat_age > thresholds.eviction
                else "NotReady"
            )
            found.append(
                Finding(
                    "heartbeats",
                    "fail",
                    f"the heartbeat of {name} is stale: {verdict.heartbeat_age:.0f}s old "
                    f"(threshold {thresholds.heartbeat:g}s); {state}",
                    who,
                )
            )
    return found or [Finding("heartbeats", "ok", "every cluster's heartbeat is fresh")]


def check_stale_syncworks(hub: kube.Kube, now: dt.datetime, stale_after: float) -> list[Finding]:
    """SyncWorks whose desired state (a new generation) nobody has applied for ``stale_after`` seconds,
    and SyncWorks of clusters that are not registered (nobody will ever apply them)."""
    registered = {r["metadata"]["name"] for r in hub.list(api.API_VERSION, api.KIND_CLUSTER)}
    stale: dict[str, int] = {}
    orphans: dict[str, int] = {}
    for work in hub.list(api.API_VERSION, api.KIND_SYNCWORK):
        meta, state = work["metadata"], work.get("status") or {}
        cluster = (work.get("spec") or {}).get("cluster", "")
        if cluster not in registered:
            orphans[cluster] = orphans.get(cluster, 0) + 1
            continue
        if state.get("observedGeneration") == meta.get("generation"):
            continue
        written = (meta.get("annotations") or {}).get(api.ANNOTATION_WRITTEN_AT) or meta.get("creationTimestamp")
        age = _age(written, now)
        if age is not None and age > stale_after:
            stale[cluster] = stale.get(cluster, 0) + 1
    found = [
        Finding(
            "syncworks",
            "fail",
            f"{count} SyncWorks for {cluster} not applied for over {stale_after:g}s",
            f"the syncer of {cluster} does not keep up or is stopped: see `kubectl tmc doctor` heartbeats, its "
            "log and the tmc_workqueue_depth metric",
        )
        for cluster, count in sorted(stale.items())
    ]
    found += [
        Finding(
            "syncworks",
            "warn",
            f"{count} SyncWorks for {cluster!r}, which is not registered",
            f"register {cluster} again, or delete namespace {api.cluster_namespace(cluster)} if it is gone for good",
        )
        for cluster, count in sorted(orphans.items())
    ]
    return found or [Finding("syncworks", "ok", "no stale SyncWorks")]


def doctor(
    hub: kube.Kube,
    thresholds: health.Thresholds,
    daemons: Mapping[str, str] | None = None,
    stale_after: float = 300.0,
    lease_duration: float = 15.0,
    now: dt.datetime | None = None,
) -> Result:
    now = now or dt.datetime.now(dt.UTC)
    try:
        version = hub.version()
    except kube.KubeError as err:
        findings = [
            Finding(
                "hub",
                "fail",
                f"the hub API server does not answer: {err}",
                "check the kubeconfig and context (--kubeconfig/--context), the network path, and the hub's "
                "kube-apiserver (kubectl get --raw /readyz)",
            )
        ]
    else:
        findings = [Finding("hub", "ok", f"hub API server answers ({version.get('gitVersion', '?')})")]
        findings += check_crds(hub)
        findings += check_policies(hub, shipped_policies())
        findings += check_endpoints(daemons or {})
        findings += check_pods(hub)
        findings += check_leader(hub, now, lease_duration)
        findings += check_heartbeats(hub, now, thresholds)
        findings += check_stale_syncworks(hub, now, stale_after)
    bad = [f for f in findings if f.status != "ok"]
    columns = [
        ("check", lambda f: f["check"]),
        ("status", lambda f: f["status"].upper()),
        ("finding", lambda f: f["message"]),
    ]
    rows = [asdict(f) for f in findings]
    notes = [""] + [f"fix ({f.check}): {f.fix}" for f in bad if f.fix]
    notes.append(f"{len(bad)} problem(s) found" if bad else "no problems found")
    return Result({"findings": rows, "problems": len(bad)}, columns, rows, notes, exit_code=1 if bad else 0)
