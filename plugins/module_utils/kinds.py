# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds TMC knows how to sync: one ``KindSpec`` per kind.

Engine layer 1 (DESIGN.md section 1), beside ``api``; private to this collection. Rendering,
status aggregation and the sync pass read what they need to know about a kind from here, so
teaching TMC a kind is one entry in ``KINDS`` plus its tests. A kind that is not listed
still syncs (its group's preferred version is discovered, its manifest rendered with the
rules every kind gets, its status copied as it is when it has ``observedGeneration`` or
conditions); an entry adds what is particular to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What a syncer does with the objects of a kind on its member (DESIGN.md section 2: least privilege).
MEMBER_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


@dataclass(frozen=True)
class KindSpec:
    """What TMC knows about one kind.

    ``replicas``: path of the replica count (a Divided decision sets it; members may own it);
    ``pod_spec``: path of the pod spec inside the object (the ConfigMaps and Secrets it uses are
    its dependencies); ``counters``: status counters summed across clusters; ``status_fields``:
    other status fields copied back (every kind also reports conditions);
    ``observed_generation``: its status has observedGeneration, retargeted to the hub generation;
    ``aggregated``: TMC writes the hub source's status; ``strip``: rendering rules (named in
    ``render.strip``) beside the ones every kind gets; ``self_made``: names a cluster creates
    for itself in every namespace, never placed nor adopted; ``self_made_types``: the same by
    ``type`` (Secrets); ``scale_targets``: path of the reference to the object it scales (an
    autoscaler); ``sealed``: the payload is sensitive (sealed to the member, hidden in diffs);
    ``default``: placed when a WorkloadPlacement lists no ``resources``.
    """

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    default: bool = False
    replicas: tuple[str, ...] | None = None
    pod_spec: tuple[str, ...] | None = None
    counters: tuple[str, ...] = ()
    status_fields: tuple[str, ...] = ()
    observed_generation: bool = False
    aggregated: bool = False
    strip: tuple[str, ...] = ()
    self_made: tuple[str, ...] = ()
    self_made_types: tuple[str, ...] = ()
    scale_targets: tuple[str, ...] | None = None
    sealed: bool = False
    verbs: tuple[str, ...] = MEMBER_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_TEMPLATE = ("spec", "template", "spec")
_REPLICAS = ("spec", "replicas")

KINDS: tuple[KindSpec, ...] = (
    KindSpec(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        default=True,
        replicas=_REPLICAS,
        pod_spec=_TEMPLATE,
        counters=("replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "unavailableReplicas"),
        observed_generation=True,
        aggregated=True,
    ),
    KindSpec(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        default=True,
        replicas=_REPLICAS,
        pod_spec=_TEMPLATE,
        counters=("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"),
        observed_generation=True,
        aggregated=True,
    ),
    KindSpec(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        default=True,
        pod_spec=_TEMPLATE,
        counters=(
            "currentNumberScheduled",
            "desiredNumberScheduled",
            "numberAvailable",
            "numberReady",
            "updatedNumberScheduled",
            "numberMisscheduled",
            "numberUnavailable",
        ),
        observed_generation=True,
        aggregated=True,
    ),
    KindSpec(
        "apps", "v1", "ReplicaSet", "replicasets", replicas=_REPLICAS, pod_spec=_TEMPLATE, observed_generation=True
    ),
    KindSpec(
        "batch",
        "v1",
        "Job",
        "jobs",
        default=True,
        pod_spec=_TEMPLATE,
        counters=("active", "succeeded", "failed", "ready"),
        status_fields=("startTime", "completionTime"),
        aggregated=True,
        strip=("job-identity",),
    ),
    KindSpec("batch", "v1", "CronJob", "cronjobs", pod_spec=("spec", "jobTemplate", "spec", "template", "spec")),
    KindSpec(
        "",
        "v1",
        "Service",
        "services",
        default=True,
        status_fields=("loadBalancer",),
        aggregated=True,
        strip=("service",),
    ),
    KindSpec("", "v1", "ConfigMap", "configmaps", default=True, self_made=("kube-root-ca.crt",)),
    KindSpec(
        "",
        "v1",
        "Secret",
        "secrets",
        default=True,
        self_made_types=("kubernetes.io/service-account-token",),
        sealed=True,
    ),
    KindSpec(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        default=True,
        status_fields=("loadBalancer",),
        aggregated=True,
    ),
    KindSpec("", "v1", "Pod", "pods", pod_spec=("spec",), strip=("pod-token-volume",)),
    KindSpec("", "v1", "ServiceAccount", "serviceaccounts", self_made=("default",)),
    KindSpec("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    KindSpec("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    KindSpec("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    KindSpec("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    KindSpec("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", observed_generation=True),
    KindSpec(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        counters=("currentReplicas", "desiredReplicas"),
        observed_generation=True,
        scale_targets=("spec", "scaleTargetRef"),
    ),
)

_BY_KIND: Mapping[str, KindSpec] = {k.kind: k for k in KINDS}
_BY_GROUP_KIND: Mapping[tuple[str, str], KindSpec] = {(k.group, k.kind): k for k in KINDS}

#: What a WorkloadPlacement without ``resources`` places, as (group, kind).
DEFAULT_RESOURCES: tuple[tuple[str, str], ...] = tuple((k.group, k.kind) for k in KINDS if k.default)
#: The version TMC reads each known group at (other groups: the hub's preferred version).
GROUP_VERSIONS: Mapping[str, str] = {k.group: k.version for k in KINDS}


def group_of(api_version: Any) -> str:
    return str(api_version or "").rpartition("/")[0]


def spec_for(kind: Any, api_version: Any = None) -> KindSpec | None:
    """The KindSpec of ``kind`` (in the group of ``api_version`` when given), or None: a kind TMC
    syncs with the rules every kind gets."""
    if api_version is None:
        return _BY_KIND.get(kind) if isinstance(kind, str) else None
    return _BY_GROUP_KIND.get((group_of(api_version), kind)) if isinstance(kind, str) else None


def dig(obj: Any, path: tuple[str, ...] | None) -> Any:
    for key in path or ():
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def is_self_made(obj: Mapping) -> bool:
    """An object every cluster makes for itself (the ``default`` ServiceAccount, the
    ``kube-root-ca.crt`` ConfigMap, service-account token Secrets): never placed, never adopted."""
    spec = spec_for(obj.get("kind"), obj.get("apiVersion"))
    if spec is None:
        return False
    name = (obj.get("metadata") or {}).get("name")
    return name in spec.self_made or (bool(spec.self_made_types) and obj.get("type") in spec.self_made_types)


def replica_count(obj: Mapping) -> int | None:
    """The replica count of an object whose kind has one, when it is set."""
    spec = spec_for(obj.get("kind"), obj.get("apiVersion"))
    value = dig(obj, spec.replicas) if spec is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scale_target(obj: Mapping) -> tuple[str, str, str] | None:
    """(group, kind, name) of the object an autoscaler scales, or None when ``obj`` is not one."""
    spec = spec_for(obj.get("kind"), obj.get("apiVersion"))
    ref = dig(obj, spec.scale_targets) if spec is not None else None
    if not isinstance(ref, Mapping) or not isinstance(ref.get("kind"), str) or not isinstance(ref.get("name"), str):
        return None
    return group_of(ref.get("apiVersion")), ref["kind"], ref["name"]
