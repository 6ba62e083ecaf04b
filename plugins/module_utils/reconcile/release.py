# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What TMC leaves on a member when it lets go of it. Layer 4; private.

Used by deregistration (the module) and by the syncer standing down for its cluster:

- ``release_object``: an object stays, but nothing marks it as TMC's any more — every
  ``tmc.kcp.io/`` label and annotation goes, and so does the syncer's field ownership (so that a
  later ``kubectl apply --server-side`` by its new owner meets no conflict with ``tmc-syncer``);
- ``namespace_contents`` / ``remove_if_empty``: a namespace TMC created goes once it holds nothing
  but what Kubernetes puts into every namespace (the ``default`` ServiceAccount, the
  ``kube-root-ca.crt`` ConfigMap, events) and dependents on their way out (objects with an
  owner, which the garbage collector removes with their owner).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube

TMC_PREFIX = f"{api.GROUP}/"
TMC_MANAGERS = frozenset({api.FIELD_MANAGER, api.CONTROLLER_FIELD_MANAGER})
# What every namespace holds, made by Kubernetes itself: it does not keep a namespace.
BUILT_IN = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})
# Kinds made from others (events, endpoints of a Service): they go with what they describe.
DERIVED_KINDS = frozenset({"Event", "Endpoints", "EndpointSlice"})
RETRIES = 5


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def release_patch(obj: Mapping) -> list[dict] | None:
    """A JSON patch that removes TMC's marks and field ownership from ``obj``; None when it has none."""
    meta = obj.get("metadata") or {}
    ops = []
    for section in ("labels", "annotations"):
        for key in sorted(meta.get(section) or {}):
            if key.startswith(TMC_PREFIX):
                ops.append({"op": "remove", "path": f"/metadata/{section}/{_pointer(key)}"})
    fields = meta.get("managedFields") or []
    kept = [entry for entry in fields if entry.get("manager") not in TMC_MANAGERS]
    if len(kept) != len(fields):
        # [{}] is the API's way to clear every entry; an empty list would leave them as they are.
        ops.append({"op": "replace", "path": "/metadata/managedFields", "value": kept or [{}]})
    if not ops:
        return None
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}, *ops]


def release_object(
    member: kube.Kube, api_version: str, kind: str, name: str, namespace: str | None, check_mode: bool = False
) -> bool:
    """Leave the object where it is, no longer TMC's. True when it carried TMC's marks (False: gone or none)."""
    for _attempt in range(RETRIES):
        current = member.get(api_version, kind, name, namespace)
        patch = release_patch(current) if current is not None else None
        if patch is None:
            return False
        if check_mode:
            return True
        try:
            member.patch(api_version, kind, name, patch, namespace=namespace, content_type=kube.JSON_PATCH)
            return True
        except kube.KubeError as err:
            if err.status == 404:
                return False
            if err.status not in (409, 422):  # 422: the resourceVersion test failed; read again
                raise
    raise kube.KubeError(f"{kind} {name} kept changing while its TMC labels were removed; run again", 409)


def tmc_namespaces(member: kube.Kube) -> list[dict]:
    """The member namespaces TMC created (label managed=true and the created-namespace annotation)."""
    found = member.list("v1", "Namespace", label_selector=f"{api.LABEL_MANAGED}=true")
    return [
        ns
        for ns in found
        if ((ns["metadata"].get("annotations") or {}).get(api.ANNOTATION_CREATED_NAMESPACE)) == "true"
    ]


def namespaced_kinds(member: kube.Kube) -> list[tuple[str, str]]:
    """Every (apiVersion, kind) the member serves in namespaces and can list (preferred versions)."""
    versions = ["v1"]
    groups = member.request("GET", "/apis") or {}
    versions += [g["preferredVersion"]["groupVersion"] for g in groups.get("groups") or [] if g.get("preferredVersion")]
    kinds = []
    for version in versions:
        path = "/api/v1" if version == "v1" else f"/apis/{version}"
        try:
            listing = member.request("GET", path) or {}
        except kube.KubeError as err:
            if err.status in (404, 503):  # an aggregated API that is down: nothing of it can be listed
                continue
            raise
        for item in listing.get("resources") or []:
            if "/" not in item["name"] and item.get("namespaced") and "list" in (item.get("verbs") or []):
                kinds.append((version, item["kind"]))
    return kinds


def _keeps_namespace(obj: Mapping) -> bool:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp") or meta.get("ownerReferences"):
        return False
    if (obj.get("kind"), meta.get("name")) in BUILT_IN:
        return False
    return not (
        obj.get("kind") == "Secret"
        and obj.get("type") == "kubernetes.io/service-account-token"
        and (meta.get("annotations") or {}).get("kubernetes.io/service-account.name") == "default"
    )


def namespace_contents(member: kube.Kube, namespace: str, kinds: list[tuple[str, str]]) -> Iterator[str]:
    """``Kind/name`` of each object that keeps ``namespace`` from being empty (a kind that cannot be
    listed counts as holding something: nothing is deleted on a guess)."""
    for api_version, kind in kinds:
        if kind in DERIVED_KINDS:
            continue
        try:
            items = member.list(api_version, kind, namespace=namespace)
        except kube.KubeError as err:
            if err.status in (404, 405):
                continue
            yield f"{kind} (cannot list: {err})"
            continue
        for obj in items:
            obj.setdefault("kind", kind)
            if _keeps_namespace(obj):
                yield f"{kind}/{obj['metadata']['name']}"


def remove_if_empty(
    member: kube.Kube, namespace: Mapping, kinds: list[tuple[str, str]], check_mode: bool = False
) -> str | None:
    """Delete a TMC-created namespace that holds nothing; returns why it stays, or None when it went."""
    name = namespace["metadata"]["name"]
    held = []
    for item in namespace_contents(member, name, kinds):
        held.append(item)
        if len(held) == 3:
            held.append("...")
            break
    if held:
        return "holds " + ", ".join(held)
    if not check_mode:
        member.delete("v1", "Namespace", name)
    return None


def settle_namespaces(member: kube.Kube, drain: bool, keep_label_only: frozenset = frozenset()) -> tuple[list, dict]:
    """The namespaces TMC created on the member, when it lets go of the member: deleted when empty
    (``drain``), else released (they stay, no longer TMC's). Namespaces in ``keep_label_only`` are only
    removed when empty, never released. Returns (deleted, kept: namespace -> why)."""
    deleted, kept = [], {}
    namespaces = tmc_namespaces(member)
    kinds = namespaced_kinds(member) if namespaces else []
    for ns in namespaces:
        name = ns["metadata"]["name"]
        if drain or name in keep_label_only:
            why = remove_if_empty(member, ns, kinds)
            if why is None:
                deleted.append(name)
            elif drain:
                kept[name] = why
            continue
        release_object(member, "v1", "Namespace", name, None)
    return deleted, kept
