# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SyncWork that carries a rendered manifest to a cluster: its name, labels and body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.render import canonical, inputs, sealing

#: SyncWork label: the source object's namespace (a DNS label, always a valid label value).
LABEL_SOURCE_NAMESPACE = f"{api.GROUP}/source-namespace"
#: SyncWork label: the source object's name, through label_value().
LABEL_SOURCE_NAME = f"{api.GROUP}/source-name"
#: SyncWork label: the source object's kind, through label_value().
LABEL_SOURCE_KIND = f"{api.GROUP}/source-kind"
#: SyncWork label: the source object's uid (exact lookups and garbage collection).
LABEL_SOURCE_UID = f"{api.GROUP}/source-uid"
#: SyncWork annotation: manifest_hash() of spec.manifest, for cheap change detection.
ANNOTATION_MANIFEST_HASH = f"{api.GROUP}/manifest-hash"

DELETION_POLICIES = ("Delete", "Orphan")

# API groups whose kinds never share a name with each other: their SyncWork names need no hash.
_PLAIN_GROUPS = frozenset({"", "apps", "batch", "networking.k8s.io", "policy", "autoscaling"})
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value(text: str) -> str:
    """text when it is a valid label value, else a readable prefix plus a hash (deterministic)."""
    text = str(text)
    if len(text) <= 63 and _LABEL_VALUE_RE.match(text):
        return text
    suffix = canonical.digest(text)
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[: 63 - canonical.HASH_LEN - 1]
    prefix = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", prefix)
    return f"{prefix}-{suffix}" if prefix else suffix


def _subdomain_part(text: str) -> str:
    parts = re.sub(r"[^a-z0-9.-]", "-", text.lower()).split(".")
    return ".".join(p.strip("-") for p in parts if p.strip("-"))


def _group(api_version: Any) -> str:
    return str(api_version).rpartition("/")[0] if api_version else ""


def syncwork_name(source: Mapping, cluster: str) -> str:
    """The SyncWork's name: ``<kind>.<namespace>.<name>`` in lowercase, a DNS subdomain.

    The cluster is checked but is not part of the name: the SyncWork lives in the
    cluster's namespace, so one source has the same SyncWork name in every cluster
    namespace. A hash of the full identity (group, kind, namespace, name) is appended when
    the readable form would lose something: characters replaced, the name cut to 253
    characters, or a kind outside the built-in groups (whose kind alone could collide).
    """
    inputs.check_source(source)
    inputs.check_cluster(cluster)
    meta = source["metadata"]
    kind, namespace, name = str(source["kind"]), meta.get("namespace") or "", meta["name"]
    group = _group(source.get("apiVersion"))
    parts = [kind.lower(), namespace, name] if namespace else [kind.lower(), name]
    clean = [_subdomain_part(p) for p in parts]
    readable = ".".join(c for c in clean if c)
    lossy = clean != parts
    if not lossy and group in _PLAIN_GROUPS and len(readable) <= 253 and _DNS_SUBDOMAIN_RE.match(readable):
        return readable
    suffix = canonical.digest(f"{group}/{kind}/{namespace}/{name}")
    head = readable[: 253 - canonical.HASH_LEN - 1].rstrip("-.")
    return f"{head}-{suffix}" if head else suffix


def build_syncwork(
    source: Mapping,
    cluster: str,
    manifest: Mapping,
    placement_name: str | None,
    deletion_policy: str = "Delete",
    initial_replicas: int | None = None,
    sealed: Mapping | None = None,
) -> dict:
    """The SyncWork object (contract.md) that carries ``manifest`` to ``cluster``.

    ``initial_replicas``: the member owns the replica count (the manifest has none); the syncer
    sets this count once, when it creates the object there.

    Labels make the SyncWorks of a cluster, a placement, a source namespace, a source
    name/kind or a source uid listable with a selector; values that are not valid label
    values go through label_value(). The finalizer is set at creation so that the
    syncer's cleanup can never be skipped. ``sealed``: the sealed block of a manifest whose
    sensitive fields ``sealing.seal_manifest`` took out (``spec.sealed``).
    """
    inputs.check_source(source)
    inputs.check_cluster(cluster)
    if deletion_policy not in DELETION_POLICIES:
        raise api.SpecError("spec.deletionPolicy", f"{deletion_policy!r} is not Delete or Orphan")
    if not isinstance(manifest, Mapping):
        raise api.SpecError("spec.manifest", "must be an object")
    namespace = api.cluster_namespace(cluster)
    if len(namespace) > 63:
        raise api.SpecError(
            "cluster", f"{cluster!r} is too long: its hub namespace {namespace!r} would exceed 63 characters"
        )
    meta = source["metadata"]
    source_namespace = meta.get("namespace") or ""
    labels = {
        api.LABEL_CLUSTER: cluster,
        LABEL_SOURCE_KIND: label_value(source["kind"]),
        LABEL_SOURCE_NAME: label_value(meta["name"]),
    }
    if source_namespace:
        labels[LABEL_SOURCE_NAMESPACE] = label_value(source_namespace)
    if meta.get("uid"):
        labels[LABEL_SOURCE_UID] = label_value(meta["uid"])
    if placement_name:
        labels[api.LABEL_PLACEMENT] = label_value(placement_name)
    # Empty values are left out: the CRD requires source.namespace to be a DNS label.
    source_ref = {"apiVersion": source["apiVersion"], "kind": source["kind"]}
    if source_namespace:
        source_ref["namespace"] = source_namespace
    source_ref["name"] = meta["name"]
    if meta.get("uid"):
        source_ref["uid"] = meta["uid"]
    if meta.get("generation") is not None:
        source_ref["generation"] = meta["generation"]
    spec: dict[str, Any] = {
        "cluster": cluster,
        "manifest": canonical.plain(manifest),
        "source": source_ref,
        "deletionPolicy": deletion_policy,
    }
    if placement_name:
        spec["placement"] = placement_name
    if initial_replicas is not None:
        if isinstance(initial_replicas, bool) or not isinstance(initial_replicas, int) or initial_replicas < 0:
            raise api.SpecError("spec.initialReplicas", f"{initial_replicas!r} is not a replica count")
        spec["initialReplicas"] = initial_replicas
    if sealed is not None:
        spec["sealed"] = canonical.plain(sealed)
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_SYNCWORK,
        "metadata": {
            "name": syncwork_name(source, cluster),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                api.ANNOTATION_SOURCE: inputs.source_reference(source),
                ANNOTATION_MANIFEST_HASH: canonical.manifest_hash(manifest),
            },
            "finalizers": [api.FINALIZER_SYNCER],
        },
        "spec": spec,
    }


def untrusted_reason(work: Mapping) -> str | None:
    """Why the controller must not believe a SyncWork, or None when it may.

    A SyncWork counts only where the controller (or workload_sync) writes it: in the hub
    namespace ``tmc-cluster-<c>``, for cluster ``<c>`` (taken from the namespace, never from
    labels or spec), under the one name ``syncwork_name`` gives its source, with labels that
    agree with its spec. Anything else (a tenant's SyncWork in its own namespace, a syncer's
    edit that speaks for another team or cluster) is ignored by every reader of status.
    """
    meta = work.get("metadata") if isinstance(work, Mapping) else None
    if not isinstance(meta, Mapping):
        return "not an object"
    namespace = meta.get("namespace") or ""
    if not namespace.startswith(api.CLUSTER_NAMESPACE_PREFIX):
        return f"namespace {namespace!r} is not a cluster namespace ({api.CLUSTER_NAMESPACE_PREFIX}<cluster>)"
    cluster = namespace[len(api.CLUSTER_NAMESPACE_PREFIX) :]
    spec = work.get("spec") if isinstance(work.get("spec"), Mapping) else {}
    if spec.get("cluster") != cluster:
        return f"spec.cluster {spec.get('cluster')!r} is not {cluster!r}, the cluster of namespace {namespace}"
    source = spec.get("source") if isinstance(spec.get("source"), Mapping) else {}
    if not source.get("namespace"):
        return "spec.source names no namespace"
    claimed = {"apiVersion": source.get("apiVersion"), "kind": source.get("kind"), "metadata": source}
    try:
        expected = syncwork_name(claimed, cluster)
    except api.TMCError as err:
        return f"spec.source: {err}"
    if meta.get("name") != expected:
        return f"its name is not {expected!r}, the name of the SyncWork of its spec.source"
    labels = meta.get("labels") or {}
    wanted = {api.LABEL_CLUSTER: cluster, LABEL_SOURCE_NAMESPACE: label_value(source["namespace"])}
    if spec.get("placement"):
        wanted[api.LABEL_PLACEMENT] = label_value(spec["placement"])
    for key, value in wanted.items():
        # The source-namespace label is what readers select by: it must be there. The others are
        # for people's selectors; absent, they cannot mislead.
        if labels.get(key) != value and (key in labels or key == LABEL_SOURCE_NAMESPACE):
            return f"label {key}={labels.get(key)!r} does not agree with its spec ({value!r})"
    return None


def comparable_spec(spec: Any) -> Any:
    """A SyncWork spec as two passes compare it: a sealed block by its key and source version only
    (every sealing makes a new ciphertext). A spec without one is returned as it is."""
    if not isinstance(spec, Mapping) or "sealed" not in spec:
        return spec
    return {**spec, "sealed": sealing.comparable(spec["sealed"])}


def work_hash(work: Mapping) -> str:
    """What the syncer records as applied (``status.appliedManifestHash``): the manifest's hash, and
    with a sealed block the hash of both, so that a Secret whose data changed is applied again."""
    spec = work.get("spec") or {}
    if "sealed" not in spec:
        return canonical.manifest_hash(spec.get("manifest"))
    return canonical.manifest_hash({"manifest": spec.get("manifest"), "sealed": sealing.comparable(spec["sealed"])})
