# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who a member cluster is: its identity, recorded on both sides. Layer 4; private.

A cluster's identity is the UID of its ``kube-system`` namespace (KEP-2149's suggestion for the
``cluster.clusterset.k8s.io`` ClusterProperty): it survives API server restarts, new endpoints and
new credentials, and a rebuilt cluster gets a new one. The hub keeps it in the registration's
``status.clusterID`` (written at registration by the module, or reported by the syncer of a Pull
cluster the hub cannot see); two registrations with one identity would both manage the same
objects, and draining one would delete the other's workloads, so the second is refused (and,
where only the syncer can see the member, flagged by the controller).

On the member the record is KEP-2149's: ClusterProperty objects (``about.k8s.io/v1alpha1``)
``cluster.clusterset.k8s.io`` (the identity), ``clusterset.k8s.io`` (the hub's identity: which
cluster set it belongs to) and ``registration.tmc.kcp.io`` (its name there) when that CRD is
served; TMC does not install the CRD (a cluster-scoped API in a ``k8s.io`` group is the cluster
admin's choice), and without it the same three keys are kept in the ConfigMap
``tmc-system/tmc-cluster-properties``. An existing ``cluster.clusterset.k8s.io`` set by another
tool is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube

IDENTITY_NAMESPACE = "kube-system"
PROPERTY_CLUSTER_ID = "cluster.clusterset.k8s.io"
PROPERTY_CLUSTERSET = "clusterset.k8s.io"
PROPERTY_REGISTRATION = "registration.tmc.kcp.io"
PROPERTY_API_VERSION = "about.k8s.io/v1alpha1"
PROPERTY_KIND = "ClusterProperty"
PROPERTIES_CONFIGMAP = "tmc-cluster-properties"
MEMBER_NAMESPACE = "tmc-system"
FIELD_MANAGER = "tmc-multicluster"


class IdentityConflict(api.TMCError):
    """The member is another registration's (``other``, on this hub), or the registration belongs to
    another member (``other`` None)."""

    def __init__(self, message: str, other: str | None = None):
        super().__init__(message)
        self.other = other


def cluster_id_of(registration: Mapping | None) -> str | None:
    return ((registration or {}).get("status") or {}).get("clusterID") or None


def read_cluster_id(client: kube.Kube, what: str) -> str:
    """The UID of ``kube-system`` on ``client``'s cluster; a KubeError says why it cannot be read."""
    try:
        found = client.get("v1", "Namespace", IDENTITY_NAMESPACE)
    except kube.KubeError as err:
        raise kube.KubeError(
            f"cannot read the identity of {what} (the UID of namespace {IDENTITY_NAMESPACE}): {err}; "
            f"its credentials need 'get' on namespaces/{IDENTITY_NAMESPACE}",
            err.status,
            err.reason,
        ) from None
    if found is None:
        raise kube.KubeError(f"{what} has no namespace {IDENTITY_NAMESPACE}: cannot tell which cluster it is", 404)
    return found["metadata"]["uid"]


# ------------------------------------------------------------------ hub side (pure)


def _describe(registration: Mapping) -> str:
    spec = registration.get("spec") or {}
    where = f" at {spec['endpoint']}" if spec.get("endpoint") else ""
    return f"ClusterRegistration {registration['metadata']['name']!r}{where}"


def find_other_registration(
    registrations: list[Mapping],
    name: str,
    cluster_id: str | None,
    endpoint: str | None,
    ignore: frozenset = frozenset(),
) -> Mapping | None:
    """Another registration of the same member: the same identity, or, where one of the two has no
    identity recorded yet, the same endpoint. Registrations named in ``ignore`` (being taken over) do not count."""
    for other in registrations:
        meta = other.get("metadata") or {}
        if meta["name"] == name or meta["name"] in ignore or meta.get("deletionTimestamp"):
            continue
        theirs = cluster_id_of(other)
        if cluster_id and theirs:
            if theirs == cluster_id:
                return other
        elif endpoint and (other.get("spec") or {}).get("endpoint") == endpoint:
            return other
    return None


def check_registration(
    registrations: list[Mapping],
    name: str,
    cluster_id: str | None,
    endpoint: str | None,
    rekey: bool,
    ignore: frozenset = frozenset(),
) -> None:
    """Refuse a registration of a member that another registration has, or a re-pointing of ``name``
    at another member (unless ``rekey``). The message names the existing registration."""
    other = find_other_registration(registrations, name, cluster_id, endpoint, ignore)
    if other is not None:
        other_name = other["metadata"]["name"]
        same = f"identity {cluster_id}" if cluster_id and cluster_id_of(other) else f"endpoint {endpoint}"
        raise IdentityConflict(
            f"this member ({same}) is already registered as {_describe(other)}; registering it again as "
            f"{name!r} would let both manage (and drain) the same objects. Deregister {other_name!r} first "
            f"(drain: false keeps its workloads running), keep using the name {other_name!r}, or register with "
            f"take_over: true to do both in one step",
            other_name,
        )
    current = next((r for r in registrations if r["metadata"]["name"] == name), None)
    recorded = cluster_id_of(current)
    if recorded and cluster_id and recorded != cluster_id and not rekey:
        raise IdentityConflict(
            f"{_describe(current)} belongs to the member with identity {recorded}; the member reached now is "
            f"another cluster (identity {cluster_id}). If it is a migration to a new cluster, run again with "
            f"rekey: true (the objects on the old member stay there, no longer managed); otherwise fix the "
            f"endpoint or the member credentials"
        )


def conflicts(registrations: list[Mapping]) -> dict[str, str]:
    """Registrations that share an identity with an older one: name -> the older one's name.

    The oldest (by creationTimestamp, then name) keeps the member; the controller flags the others.
    """
    first: dict[str, Mapping] = {}
    found: dict[str, str] = {}
    ordered = sorted(
        registrations,
        key=lambda r: ((r.get("metadata") or {}).get("creationTimestamp") or "", r["metadata"]["name"]),
    )
    for registration in ordered:
        cluster_id = cluster_id_of(registration)
        if not cluster_id:
            continue
        if cluster_id in first:
            found[registration["metadata"]["name"]] = first[cluster_id]["metadata"]["name"]
        else:
            first[cluster_id] = registration
    return found


# ------------------------------------------------------------------ member side


@dataclass(frozen=True)
class MemberRecord:
    cluster_id: str | None = None
    clusterset: str | None = None
    registration: str | None = None
    where: str = ""  # the object(s) that hold it, for messages


def _properties_served(member: kube.Kube) -> bool:
    try:
        member.resource(PROPERTY_API_VERSION, PROPERTY_KIND)
    except kube.KubeError as err:
        if err.status == 404:
            return False
        raise
    return True


def read_record(member: kube.Kube) -> MemberRecord:
    """What the member says it is (ClusterProperty objects, or the TMC ConfigMap)."""
    if _properties_served(member):
        values = {}
        for name in (PROPERTY_CLUSTER_ID, PROPERTY_CLUSTERSET, PROPERTY_REGISTRATION):
            found = member.get(PROPERTY_API_VERSION, PROPERTY_KIND, name)
            values[name] = ((found or {}).get("spec") or {}).get("value")
        where = f"ClusterProperty {PROPERTY_REGISTRATION}"
    else:
        found = member.get("v1", "ConfigMap", PROPERTIES_CONFIGMAP, MEMBER_NAMESPACE)
        values = dict((found or {}).get("data") or {})
        where = f"ConfigMap {MEMBER_NAMESPACE}/{PROPERTIES_CONFIGMAP}"
    return MemberRecord(
        values.get(PROPERTY_CLUSTER_ID), values.get(PROPERTY_CLUSTERSET), values.get(PROPERTY_REGISTRATION), where
    )


def check_record(
    record: MemberRecord,
    name: str,
    clusterset: str | None,
    rekey: bool,
    registrations: list[Mapping] = (),
    cluster_id: str | None = None,
    ignore: frozenset = frozenset(),
) -> None:
    """Refuse a member whose own record says it is another registration's, on another hub, or on this
    one. On this hub the hub has the last word: a record naming a registration that is gone, or that
    now stands for another member (a rekey moved it), is stale and is written over."""
    if rekey or not record.registration:
        return
    if clusterset and record.clusterset and record.clusterset != clusterset:
        raise IdentityConflict(
            f"the member belongs to another cluster set (clusterset.k8s.io {record.clusterset}, registered there "
            f"as {record.registration!r}; see {record.where} on the member): deregister it from that hub first, "
            "or run again with rekey: true to take it over"
        )
    if record.registration == name or record.registration in ignore:
        return
    other = next((r for r in registrations if r["metadata"]["name"] == record.registration), None)
    theirs = cluster_id_of(other)
    if other is None or (theirs and cluster_id and theirs != cluster_id):
        return
    raise IdentityConflict(
        f"the member is already registered as ClusterRegistration {record.registration!r} on this hub "
        f"({record.where} on the member says so); deregister {record.registration!r} first (drain: false "
        "keeps its workloads running), keep using the name, or register with take_over: true",
        record.registration,
    )


def _record_labels() -> dict:
    return {"app.kubernetes.io/part-of": "tmc", api.LABEL_MANAGED: "true"}


def write_record(member: kube.Kube, name: str, cluster_id: str, clusterset: str | None, check_mode: bool) -> bool:
    """Record on the member who it is and where it is registered; True when that changed (or would)."""
    wanted = {PROPERTY_CLUSTER_ID: cluster_id, PROPERTY_REGISTRATION: name}
    if clusterset:
        wanted[PROPERTY_CLUSTERSET] = clusterset
    changed = False
    if _properties_served(member):
        for key, value in wanted.items():
            existing = member.get(PROPERTY_API_VERSION, PROPERTY_KIND, key)
            if key == PROPERTY_CLUSTER_ID and existing is not None:
                continue  # another clusterset tool's identity for this cluster: not ours to change
            if ((existing or {}).get("spec") or {}).get("value") == value:
                continue
            obj = {
                "apiVersion": PROPERTY_API_VERSION,
                "kind": PROPERTY_KIND,
                "metadata": {"name": key, "labels": _record_labels()},
                "spec": {"value": value},
            }
            changed |= kube.ensure_applied(member, obj, FIELD_MANAGER, check_mode).changed
        return changed
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": MEMBER_NAMESPACE,
            "labels": _record_labels(),
            "annotations": {api.ANNOTATION_CREATED_NAMESPACE: "true"},
        },
    }
    if member.get("v1", "Namespace", MEMBER_NAMESPACE) is None:
        if not check_mode:
            member.create(namespace)
        changed = True
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": PROPERTIES_CONFIGMAP, "namespace": MEMBER_NAMESPACE, "labels": _record_labels()},
        "data": wanted,
    }
    if changed and check_mode:
        return True
    return kube.ensure_applied(member, configmap, FIELD_MANAGER, check_mode).changed or changed


def remove_record(member: kube.Kube, name: str, check_mode: bool) -> list[str]:
    """Forget the registration on the member (deregistration); the identity itself stays. Returns what went."""
    removed = []
    if _properties_served(member):
        for key in (PROPERTY_REGISTRATION, PROPERTY_CLUSTERSET):
            found = member.get(PROPERTY_API_VERSION, PROPERTY_KIND, key)
            if key == PROPERTY_REGISTRATION and ((found or {}).get("spec") or {}).get("value") != name:
                return removed  # another registration's record (a rekey took the member over): leave it
            if found is not None and (found["metadata"].get("labels") or {}).get(api.LABEL_MANAGED) == "true":
                if not check_mode:
                    member.delete(PROPERTY_API_VERSION, PROPERTY_KIND, key)
                removed.append(f"ClusterProperty/{key}")
        return removed
    found = member.get("v1", "ConfigMap", PROPERTIES_CONFIGMAP, MEMBER_NAMESPACE)
    if found is not None and (found.get("data") or {}).get(PROPERTY_REGISTRATION) == name:
        if not check_mode:
            member.delete("v1", "ConfigMap", PROPERTIES_CONFIGMAP, MEMBER_NAMESPACE)
        removed.append(f"ConfigMap/{MEMBER_NAMESPACE}/{PROPERTIES_CONFIGMAP}")
    return removed
