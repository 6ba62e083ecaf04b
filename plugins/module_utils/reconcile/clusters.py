# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects of a registered cluster, its probe, heartbeat and health pass, and its views.

Layer 4 of the engine; private to this collection. Registering is ``registration``,
deregistering ``deregistration``, identity ``identity``; the controller runs
``update_health`` on every change.

What registering cluster ``<name>`` writes on the hub:

- ``ClusterRegistration/<name>`` (spec via server-side apply; status via the status subresource),
- namespace ``tmc-cluster-<name>`` for the cluster's SyncWorks,
- the syncer identity: ServiceAccount ``syncer`` there with a long-lived token, a Role
  allowing only SyncWorks (and their status) and Events in that namespace, a Role in
  ``tmc-system`` allowing only its own heartbeat Lease, and a ClusterRole allowing only
  its own ClusterRegistration and its status,
- the heartbeat Lease ``tmc-system/cluster-<name>``,
- in push mode, Secret ``tmc-system/cluster-<name>-credentials`` holding a flattened
  member kubeconfig (read by the controller only).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube, placement, render
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import sealing_keys

FIELD_MANAGER = "tmc-multicluster"
SYNCER_SERVICE_ACCOUNT = "syncer"
SYNCER_TOKEN_SECRET = "syncer-token"
SYNCER_ROLE = "tmc-syncer"
# The controller rewrites status.lastHeartbeatTime at most this often while a cluster's health does
# not change (``recorded_heartbeat``): a renewal every 10 s from 1,000 clusters would otherwise be
# 100 status writes a second on the hub, on top of the Leases themselves.
HEARTBEAT_STATUS_INTERVAL = 60.0


# ------------------------------------------------------------------ spec


@dataclass(frozen=True)
class ClusterSpec:
    """What the user asks for one member cluster (parsed once at the edge)."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    location: str | None = None
    sync_mode: str = "Push"
    taints: tuple = ()
    unschedulable: bool = False
    capacity: Mapping | None = None
    namespace_selector: Mapping | None = None
    endpoint: str | None = None
    rotate_sealing_key: bool = False


def credentials_secret_name(name: str) -> str:
    return f"cluster-{name}-credentials"


def syncer_cluster_role_name(name: str) -> str:
    return f"tmc-syncer-{name}"


def registration_object(spec: ClusterSpec, endpoint: str | None) -> dict:
    body: dict = {
        "syncMode": spec.sync_mode,
        "unschedulable": spec.unschedulable,
        "taints": [dict(t) for t in spec.taints],
    }
    if spec.location:
        body["location"] = spec.location
    if endpoint:
        body["endpoint"] = endpoint
    if spec.sync_mode == "Push":
        body["credentialsSecretRef"] = {"name": credentials_secret_name(spec.name), "namespace": api.SYSTEM_NAMESPACE}
    if spec.capacity:
        body["capacity"] = dict(spec.capacity)
    if spec.namespace_selector is not None:
        body["namespaceSelector"] = dict(spec.namespace_selector)
    if spec.rotate_sealing_key and spec.sync_mode == "Pull":
        # The syncer makes the new key when it sees a new value here (it answers in status.sealing.rotation).
        body["sealingKeyRotation"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_CLUSTER,
        "metadata": {"name": spec.name, "labels": dict(spec.labels)},
        "spec": body,
    }


def _labels(name: str) -> dict:
    return {"app.kubernetes.io/part-of": "tmc", api.LABEL_CLUSTER: name}


def cluster_namespace_object(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": api.cluster_namespace(name), "labels": _labels(name)},
    }


def syncer_identity_objects(name: str) -> list[dict]:
    """ServiceAccount, token Secret and least-privilege RBAC of cluster ``name``'s syncer."""
    ns = api.cluster_namespace(name)
    subject = [{"kind": "ServiceAccount", "name": SYNCER_SERVICE_ACCOUNT, "namespace": ns}]
    lease = api.heartbeat_lease_name(name)
    scoped = syncer_cluster_role_name(name)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SYNCER_SERVICE_ACCOUNT, "namespace": ns, "labels": _labels(name)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": SYNCER_TOKEN_SECRET,
                "namespace": ns,
                "labels": _labels(name),
                "annotations": {"kubernetes.io/service-account.name": SYNCER_SERVICE_ACCOUNT},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": SYNCER_ROLE, "namespace": ns, "labels": _labels(name)},
            "rules": [
                {
                    "apiGroups": [api.GROUP],
                    "resources": [api.PLURAL_SYNCWORK],
                    "verbs": ["get", "list", "watch", "update", "patch"],
                },
                {
                    "apiGroups": [api.GROUP],
                    "resources": [f"{api.PLURAL_SYNCWORK}/status"],
                    "verbs": ["get", "update", "patch"],
                },
                {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": SYNCER_ROLE, "namespace": ns, "labels": _labels(name)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SYNCER_ROLE},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": scoped, "namespace": api.SYSTEM_NAMESPACE, "labels": _labels(name)},
            "rules": [
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "resourceNames": [lease],
                    "verbs": ["get", "update", "patch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": scoped, "namespace": api.SYSTEM_NAMESPACE, "labels": _labels(name)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": scoped},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": scoped, "labels": _labels(name)},
            "rules": [
                {
                    "apiGroups": [api.GROUP],
                    "resources": [api.PLURAL_CLUSTER],
                    "resourceNames": [name],
                    "verbs": ["get", "watch", "list"],
                },
                {
                    "apiGroups": [api.GROUP],
                    "resources": [f"{api.PLURAL_CLUSTER}/status"],
                    "resourceNames": [name],
                    "verbs": ["get", "update", "patch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": scoped, "labels": _labels(name)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": scoped},
            "subjects": subject,
        },
    ]


def lease_object(name: str) -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": api.heartbeat_lease_name(name),
            "namespace": api.SYSTEM_NAMESPACE,
            "labels": _labels(name),
        },
        "spec": {"holderIdentity": f"{name}-syncer", "leaseDurationSeconds": 40},
    }


def credentials_secret_object(name: str) -> dict:
    """The push-mode credentials Secret, by name only (to delete it)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": credentials_secret_name(name), "namespace": api.SYSTEM_NAMESPACE},
    }


def credentials_secret(name: str, member_kubeconfig: Mapping, keys: list | None = None) -> dict:
    """The push-mode credentials Secret: the member's kubeconfig and, for sealed Secrets, the
    cluster's sealing keys (whoever applies to the member in push mode opens them)."""
    data = json.dumps(member_kubeconfig, sort_keys=True).encode()
    body = {"kubeconfig": base64.b64encode(data).decode()}
    if keys:
        body[sealing_keys.SECRET_KEY] = base64.b64encode(sealing_keys.encode(keys).encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": credentials_secret_name(name), "namespace": api.SYSTEM_NAMESPACE, "labels": _labels(name)},
        "data": body,
    }


def deregistration_mode(registration: Mapping | None) -> str | None:
    """``Orphan`` or ``Delete`` while the registration is being deregistered, else None."""
    annotations = ((registration or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get(api.ANNOTATION_DEREGISTRATION)


def being_deregistered(hub: kube.Kube, names) -> set[str]:
    """Which of the clusters ``names`` are being deregistered, read from the hub now (push mode calls this
    after it listed their SyncWorks: a deletion it saw came after the mark, so this read sees the mark)."""
    return {name for name in names if deregistration_mode(hub.get(api.API_VERSION, api.KIND_CLUSTER, name))}


def push_sealing_keys(hub: kube.Kube, name: str, rotate: bool) -> list:
    """A push-mode cluster's sealing keys: those in its credentials Secret, a first one, or (rotate) a new
    one before the newest old one."""
    keys = sealing_keys.from_secret(hub.get("v1", "Secret", credentials_secret_name(name), api.SYSTEM_NAMESPACE))
    if not keys:
        return [render.KeyPair.generate()]
    return sealing_keys.rotated(keys) if rotate else keys


# ------------------------------------------------------------------ member probe


@dataclass(frozen=True)
class MemberInfo:
    version: str
    nodes: int
    ready_nodes: int
    capacity: dict
    allocatable: dict


def format_cpu(cores: Decimal) -> str:
    return str(int(cores)) if cores == cores.to_integral_value() else f"{int(cores * 1000)}m"


def format_bytes(amount: Decimal) -> str:
    value = int(amount)
    for suffix, size in (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value and value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)


def sum_node_resources(nodes: list[Mapping], which: str) -> dict:
    """Summed ``status.<which>`` (capacity or allocatable) of nodes, as quantity strings."""
    totals = {"cpu": Decimal(0), "memory": Decimal(0), "pods": Decimal(0)}
    for node in nodes:
        resources = node.get("status", {}).get(which, {}) or {}
        for key in totals:
            if key in resources:
                totals[key] += placement.parse_quantity(resources[key], f"node {which}.{key}")
    return {
        "cpu": format_cpu(totals["cpu"]),
        "memory": format_bytes(totals["memory"]),
        "pods": str(int(totals["pods"])),
    }


def _node_ready(node: Mapping) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", []) or []
    )


def probe_member(member: kube.Kube) -> MemberInfo:
    """The member's version and node totals; a KubeError says when it does not answer."""
    version = member.version().get("gitVersion", "")
    nodes = member.list("v1", "Node")
    schedulable = [n for n in nodes if not n.get("spec", {}).get("unschedulable")]
    return MemberInfo(
        version,
        len(nodes),
        sum(_node_ready(n) for n in nodes),
        sum_node_resources(schedulable, "capacity"),
        sum_node_resources(schedulable, "allocatable"),
    )


# ------------------------------------------------------------------ status


def registration_status(
    registration: Mapping,
    info: MemberInfo | None,
    probe_error: str | None,
    lease: Mapping | None,
    now: dt.datetime,
    thresholds: health.Thresholds,
) -> dict:
    """The status the hub should hold for a cluster after a probe (pure)."""
    previous = (registration.get("status") or {}).get("conditions", []) or []
    reachable = health.api_reachable_condition(
        probe_error is None,
        f"member API answered ({info.ready_nodes}/{info.nodes} nodes ready)" if info else probe_error or "",
        now,
        previous,
    )
    with_probe = {
        **registration,
        "status": {
            **(registration.get("status") or {}),
            "conditions": [c for c in previous if c["type"] != "APIReachable"] + [reachable],
        },
    }
    verdict = health.evaluate(with_probe, lease, now, thresholds)
    status = dict(registration.get("status") or {})
    status.update({"conditions": verdict.conditions, "taints": verdict.taints})
    if verdict.last_heartbeat:
        status["lastHeartbeatTime"] = verdict.last_heartbeat
    if info:
        status.update({"kubernetesVersion": info.version, "capacity": info.capacity, "allocatable": info.allocatable})
    return status


def _status_patch(name: str, status: Mapping) -> dict:
    return {"apiVersion": api.API_VERSION, "kind": api.KIND_CLUSTER, "metadata": {"name": name}, "status": dict(status)}


def write_status(hub: kube.Kube, registration: Mapping, status: Mapping, check_mode: bool) -> bool:
    """Write status when it differs; True when it did (or would)."""
    if _same_status(registration.get("status") or {}, status):
        return False
    if not check_mode:
        hub.apply(_status_patch(registration["metadata"]["name"], status), FIELD_MANAGER, subresource="status")
    return True


def _same_status(old: Mapping, new: Mapping) -> bool:
    """Equal, an empty field the same as an absent one: server-side apply of ``taints: []`` over a list
    with items removes the field, and writing it again would report a change on every other run."""
    return json.dumps(without_empty(old), sort_keys=True, default=str) == json.dumps(
        without_empty(new), sort_keys=True, default=str
    )


def without_empty(status: Mapping) -> dict:
    """``status`` without its empty fields (server-side apply removes an empty list it had items in)."""
    return {k: v for k, v in status.items() if v not in (None, [], {})}


# ------------------------------------------------------------------ heartbeat


def renew_heartbeat(hub: kube.Kube, name: str, now: dt.datetime, check_mode: bool) -> dict:
    """Renew the cluster's heartbeat Lease (what the syncer, or the module in push mode, does)."""
    lease = lease_object(name)
    lease["spec"]["renewTime"] = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if check_mode:
        return lease
    return hub.apply(lease, f"{name}-syncer")


def read_lease(hub: kube.Kube, name: str) -> dict | None:
    return hub.get("coordination.k8s.io/v1", "Lease", api.heartbeat_lease_name(name), api.SYSTEM_NAMESPACE)


# ------------------------------------------------------------------ syncer kubeconfig


def syncer_kubeconfig(hub: kube.Kube, name: str, hub_url: str | None, timeout: float = 30) -> dict:
    """A kubeconfig for cluster ``name``'s syncer: its own token, the hub's CA, namespace set."""
    ns = api.cluster_namespace(name)

    def token():
        secret = hub.get("v1", "Secret", SYNCER_TOKEN_SECRET, ns) or {}
        return (secret.get("data") or {}).get("token")

    encoded = hub.wait_for(token, timeout, what=f"the token of {ns}/{SYNCER_SERVICE_ACCOUNT}")
    conn = hub.connection
    cluster: dict = {"server": hub_url or conn.server}
    if conn.ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(conn.ca_data).decode()
    if not conn.verify:
        cluster["insecure-skip-tls-verify"] = True
    if conn.tls_server_name and not hub_url:
        cluster["tls-server-name"] = conn.tls_server_name
    user = f"tmc-syncer-{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": user,
        "clusters": [{"name": "tmc-hub", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": base64.b64decode(encoded).decode()}}],
        "contexts": [{"name": user, "context": {"cluster": "tmc-hub", "user": user, "namespace": ns}}],
    }


# ------------------------------------------------------------------ health pass


def update_health(
    hub: kube.Kube,
    registration: Mapping,
    now: dt.datetime,
    thresholds: health.Thresholds,
    check_mode: bool = False,
    lease: Mapping | None | bool = False,
    failover: bool = True,
    observer: health.HeartbeatObserver | None = None,
    observed_at: float = 0.0,
    conflict_with: str | None = None,
) -> tuple[bool, dict]:
    """Recompute and write one cluster's conditions and taints from its Lease (controller loop).

    ``lease``: the heartbeat Lease when the caller has it cached (None: there is none); by default
    it is read. ``failover`` False (gate TMCFailover off, or evictions held in a full disruption)
    never taints NoExecute. ``observer``: the heartbeat is aged by the time since the caller saw the
    Lease change (``observed_at``: the caller's monotonic time now), not by the member's renewTime.
    ``conflict_with``: an older registration of the same member (``identity.conflicts``): this one
    is flagged, condition IdentityConflict and a NoSchedule taint.
    """
    name = registration["metadata"]["name"]
    if lease is False:
        lease = read_lease(hub, name)
    if observer is not None:
        verdict = health.evaluate(registration, lease, now, thresholds, age=observer.age(name, lease, observed_at))
    else:
        verdict = health.evaluate(registration, lease, now, thresholds)
    taints = verdict.taints if failover else health.without_evictions(verdict.taints)
    current = registration.get("status") or {}
    status = dict(current)
    status.update({"conditions": verdict.conditions, "taints": taints})
    status = with_identity_conflict(status, conflict_with, now)
    recorded = recorded_heartbeat(current, status, verdict.last_heartbeat)
    if recorded:
        status["lastHeartbeatTime"] = recorded
    return write_status(hub, registration, status, check_mode), status


def recorded_heartbeat(
    current: Mapping, new: Mapping, observed: str | None, interval: float = HEARTBEAT_STATUS_INTERVAL
) -> str | None:
    """The ``lastHeartbeatTime`` to write (pure): the heartbeat just ``observed`` when the health
    itself changes (conditions or taints) or when the one recorded is ``interval`` seconds older
    than it; else the one recorded, so that a steady renewal makes no status write.

    As with the kubelet's NodeLease: the Lease is the heartbeat, renewed every few seconds;
    the status says when it was last confirmed, at most ``interval`` seconds behind while
    nothing else changes. The controller judges health from the Lease, never from this field.
    """
    recorded = current.get("lastHeartbeatTime")
    if observed is None or recorded is None:
        return observed or recorded
    changed = any((current.get(k) or []) != (new.get(k) or []) for k in ("conditions", "taints"))
    then, now = health.parse_time(recorded), health.parse_time(observed)
    if changed or then is None or now is None or (now - then).total_seconds() >= interval:
        return observed
    return recorded


TAINT_IDENTITY_CONFLICT = f"{api.GROUP}/identity-conflict"


def with_identity_conflict(status: Mapping, other: str | None, now: dt.datetime) -> dict:
    """``status`` with the IdentityConflict condition and taint set (another registration has the same
    member) or gone (``other`` None). Pure."""
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "IdentityConflict"]
    taints = [t for t in status.get("taints") or [] if t.get("key") != TAINT_IDENTITY_CONFLICT]
    if other is not None:
        previous = next((c for c in status.get("conditions") or [] if c.get("type") == "IdentityConflict"), None)
        stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        conditions.append(
            {
                "type": "IdentityConflict",
                "status": "True",
                "reason": "SameMemberRegistered",
                "message": f"the same member (status.clusterID) is registered as {other}: placements avoid this "
                f"registration; deregister one of them",
                "lastTransitionTime": (previous or {}).get("lastTransitionTime") or stamp,
            }
        )
        taints.append({"key": TAINT_IDENTITY_CONFLICT, "value": other, "effect": "NoSchedule"})
    return {**status, "conditions": conditions, "taints": taints}


# ------------------------------------------------------------------ views (cluster_info, inventory)


def heartbeat_leases(hub: kube.Kube) -> dict[str, dict]:
    """Every cluster's heartbeat Lease by cluster name (one list call)."""
    try:
        items = hub.list("coordination.k8s.io/v1", "Lease", namespace=api.SYSTEM_NAMESPACE)
    except kube.KubeError as err:
        if err.status == 404:
            return {}
        raise
    prefix = api.HEARTBEAT_LEASE_PREFIX
    return {i["metadata"]["name"][len(prefix) :]: i for i in items if i["metadata"]["name"].startswith(prefix)}


def work_counts(hub: kube.Kube) -> dict[str, dict]:
    """Per cluster: how many SyncWorks, how many applied and available (one list call)."""
    items = hub.list(api.API_VERSION, api.KIND_SYNCWORK)
    counts: dict[str, dict] = {}
    for work in items:
        cluster = (work.get("spec") or {}).get("cluster") or work["metadata"]["namespace"][
            len(api.CLUSTER_NAMESPACE_PREFIX) :
        ]
        entry = counts.setdefault(cluster, {"workloads": 0, "applied": 0, "available": 0})
        status = work.get("status") or {}
        entry["workloads"] += 1
        entry["applied"] += bool(status.get("applied"))
        entry["available"] += bool(status.get("available"))
    return counts


def cluster_view(
    registration: Mapping, lease: Mapping | None, works: Mapping, now: dt.datetime, thresholds: health.Thresholds
) -> dict:
    """What a person wants to know about one cluster; never a credential."""
    name = registration["metadata"]["name"]
    spec = registration.get("spec") or {}
    status = registration.get("status") or {}
    verdict = health.evaluate(registration, lease, now, thresholds)
    ready = next(c for c in verdict.conditions if c["type"] == "Ready")
    taints = [dict(t) for t in spec.get("taints", []) or []] + verdict.taints
    counts = works.get(name, {"workloads": 0, "applied": 0, "available": 0})
    return {
        "name": name,
        "location": spec.get("location"),
        "labels": dict(registration["metadata"].get("labels") or {}),
        "ready": verdict.ready == "True",
        "ready_status": verdict.ready,
        "ready_reason": ready["reason"],
        "heartbeat_age_seconds": None if verdict.heartbeat_age is None else round(verdict.heartbeat_age, 1),
        "last_heartbeat": verdict.last_heartbeat,
        "cordoned": bool(spec.get("unschedulable")),
        "unschedulable": bool(spec.get("unschedulable")),
        "namespaceSelector": spec.get("namespaceSelector"),
        "schedulable": not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints),
        "taints": taints,
        "kubernetes_version": status.get("kubernetesVersion"),
        "capacity": status.get("capacity") or {},
        "allocatable": status.get("allocatable") or {},
        "sync_mode": spec.get("syncMode", "Push"),
        "endpoint": spec.get("endpoint"),
        **counts,
    }


def with_current_health(
    registrations: list[Mapping],
    leases: Mapping[str, Mapping],
    now: dt.datetime,
    thresholds: health.Thresholds,
    failover: bool = True,
) -> list[dict]:
    """The registrations with status.taints and conditions as their heartbeats say *now*.

    Decisions then rest on the health of the moment, whether or not a controller
    has written it yet (the placement module, workload_sync and cluster_info agree).
    When every cluster is past its eviction timeout, evictions are held (``health.full_disruption``).
    """
    verdicts = [health.evaluate(r, leases.get(r["metadata"]["name"]), now, thresholds) for r in registrations]
    evict = failover and not health.full_disruption(verdicts)
    fresh = []
    for registration, verdict in zip(registrations, verdicts, strict=True):
        taints = verdict.taints if evict else health.without_evictions(verdict.taints)
        status = {**(registration.get("status") or {}), "conditions": verdict.conditions, "taints": taints}
        fresh.append({**registration, "status": status})
    return fresh


def renew_reachable_heartbeats(
    hub: kube.Kube, members: Mapping[str, kube.Kube], now: dt.datetime, check_mode: bool = False
) -> tuple[set[str], dict[str, str]]:
    """Push mode: renew the heartbeat of every member that answers.

    Returns the names that answered and the errors of the others. In check mode
    nothing is written; callers treat the answering ones as renewed.
    """
    answered, errors = set(), {}
    for name, member in members.items():
        try:
            member.version()
        except kube.KubeError as err:
            errors[name] = f"member {name} does not answer: {err}"
            continue
        renew_heartbeat(hub, name, now, check_mode)
        answered.add(name)
    return answered, errors
