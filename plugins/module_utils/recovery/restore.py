# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a hub backup onto an empty hub without disturbing the members.

The members are the truth of what runs. Before a placement is restored, what its SyncWorks in the
backup would do to each member is compared with what that member runs now (a server-side dry run
of the very apply the syncer would make, the source annotation aside: sources get new UIDs on a
new hub and the syncer only re-labels its objects with them). A placement whose restore would
create, change or abandon anything on a member — the backup is older than the last change that
reached the members — is **held**: not restored, returned to the caller, so that nothing on a
member moves until a person re-applies the current placement. A member that cannot be checked
holds every placement that had work there.

What is restored is created only where it is missing: a restore never overwrites what the new hub
already has (the API the hub role just installed, or anything a person created since).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds, kube, render
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan
from ansible_collections.tmc.multicluster.plugins.module_utils.recovery import document

FIELD_MANAGER = "tmc-restore"

PlacementKey = tuple[str, str]  # (namespace, name)
ObjectKey = tuple[str, str, str, str]  # (apiVersion, kind, namespace, name)


def _object_key(obj: Mapping) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", ""))


def _kind_of(obj: Mapping) -> tuple[str, str]:
    return obj["apiVersion"], obj["kind"]


def _placement_of(work: Mapping) -> PlacementKey:
    spec = work["spec"]
    namespace = (spec.get("source") or {}).get("namespace") or spec["manifest"]["metadata"].get("namespace") or ""
    return namespace, spec.get("placement") or ""


def _source_of(obj: Mapping) -> tuple[str, str] | None:
    """(namespace, name) from a member object's tmc.kcp.io/source annotation."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(api.ANNOTATION_SOURCE)
    parts = value.split("/") if isinstance(value, str) else []
    return (parts[0], parts[1]) if len(parts) == 3 else None


def _selecting(placements: list[Mapping], obj: Mapping) -> list[PlacementKey]:
    """The backup's placements in the object's namespace whose selector and kinds take it."""
    meta = obj.get("metadata") or {}
    found = []
    for p in placements:
        pm = p["metadata"]
        if pm.get("namespace") != meta.get("namespace"):
            continue
        spec = p.get("spec") or {}
        if obj.get("kind") not in {kind for _group, kind in plan.resources_of(spec)}:
            continue
        if render.selector_matches(spec.get("workloadSelector") or {}, meta.get("labels"), "spec.workloadSelector"):
            found.append((pm["namespace"], pm["name"]))
    return found


def _with_live_source(manifest: Mapping, live: Mapping) -> dict:
    """The manifest as the syncer would apply it after a restore: the source annotation is the one
    the member holds (only the new UID would differ, and re-labelling moves nothing)."""
    meta = dict(manifest.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    current = ((live.get("metadata") or {}).get("annotations") or {}).get(api.ANNOTATION_SOURCE)
    if current is not None:
        annotations[api.ANNOTATION_SOURCE] = current
    meta["annotations"] = annotations
    return {**manifest, "metadata": meta}


def _would_change(member: kube.Kube, manifest: Mapping, live: Mapping) -> bool:
    if document.is_secret(manifest):
        return False  # sealed or encrypted payloads cannot be dry-run; a Secret is judged by its presence
    result = member.apply(_with_live_source(manifest, live), api.FIELD_MANAGER, force=True, dry_run=True)
    return kube.comparable(result) != kube.comparable(live)


def _member_objects(member: kube.Kube, cluster: str, kinds_seen: set[tuple[str, str]]) -> dict[ObjectKey, dict]:
    found: dict[ObjectKey, dict] = {}
    selector = f"{api.LABEL_MANAGED}=true,{api.LABEL_CLUSTER}={cluster}"
    for api_version, kind in sorted(kinds_seen):
        try:
            items = member.list(api_version, kind, label_selector=selector)
        except kube.KubeError as err:
            if err.status == 404:
                continue
            raise
        found.update({_object_key(o): o for o in items})
    return found


def judge(sections: Mapping[str, list], members: Mapping[str, kube.Kube | None]) -> dict:
    """Which placements a restore would make move something on a member, and why.

    Returns ``{"held": {(ns, name): [reasons]}, "unknown": [what members run that the backup does
    not know]}``. ``members``: a client per registered cluster (None: cannot be checked).
    """
    held: dict[PlacementKey, list[str]] = defaultdict(list)
    unknown: list[str] = []
    works: dict[str, dict[ObjectKey, Mapping]] = defaultdict(dict)
    for work in sections.get("syncworks", ()):
        works[work["spec"]["cluster"]][_object_key(work["spec"]["manifest"])] = work
    kinds_seen = {_kind_of(w["spec"]["manifest"]) for placed in works.values() for w in placed.values()}
    for placement in sections.get("placements", ()):
        spec = placement.get("spec") or {}
        for group, kind in plan.resources_of(spec):
            if group in kinds.GROUP_VERSIONS:  # a kind of another group shows up through its SyncWorks
                kinds_seen.add((plan.api_version_for(None, group), kind))
    sources = {_object_key(s): s for s in sections.get("sources", ())}
    clusters = sorted({r["metadata"]["name"] for r in sections.get("registrations", ())} | set(works))
    for cluster in clusters:
        member = members.get(cluster)
        placed = works.get(cluster, {})
        if member is None:
            for key in {_placement_of(w) for w in placed.values()}:
                held[key].append(f"cluster {cluster} cannot be checked (no member kubeconfig, or it did not answer)")
            continue
        try:
            live = _member_objects(member, cluster, kinds_seen)
        except kube.KubeError as err:
            for key in {_placement_of(w) for w in placed.values()}:
                held[key].append(f"cluster {cluster} cannot be checked: {err}")
            continue
        for key, work in placed.items():
            where = f"{key[1]} {key[2]}/{key[3]} on {cluster}"
            current = live.get(key)
            if current is None:
                held[_placement_of(work)].append(f"{where}: gone from the member since the backup (would be created)")
            elif _would_change(member, work["spec"]["manifest"], current):
                held[_placement_of(work)].append(f"{where}: changed since the backup (would be reverted)")
        for key, obj in live.items():
            if key in placed:
                continue
            source = _source_of(obj)
            origin = sources.get((key[0], key[1], *(source or (key[2], key[3]))))
            owners = _selecting(sections.get("placements", ()), origin) if origin else []
            for owner in owners:
                held[owner].append(f"{key[1]} {key[2]}/{key[3]} on {cluster}: placed there since the backup")
            if not owners:
                unknown.append(f"{key[1]} {key[2]}/{key[3]} on {cluster}")
    return {"held": {k: sorted(set(v)) for k, v in held.items()}, "unknown": sorted(unknown)}


# ------------------------------------------------------------------ writing the new hub


def _create(hub: kube.Kube, obj: Mapping, check_mode: bool) -> bool:
    """Create the object unless the hub has it; True when it was (or would be) created."""
    try:
        hub.create(obj, dry_run=check_mode)
    except kube.KubeError as err:
        if err.status == 409:
            return False
        raise
    return True


def _restore_status(hub: kube.Kube, registration: Mapping, check_mode: bool) -> None:
    status = registration.get("status")
    if status and not check_mode:
        hub.patch(
            api.API_VERSION,
            api.KIND_CLUSTER,
            registration["metadata"]["name"],
            {"status": status},
            subresource="status",
        )


def write(hub: kube.Kube, sections: Mapping[str, list], held: set, check_mode: bool, placements: bool = True) -> dict:
    """Create, in order, the API pieces the hub lacks, the namespaces, the registrations (with the
    sealing keys they had), the sources and (``placements``) every placement not held. Counts per section."""
    counts: dict[str, dict[str, int]] = {}

    def each(name: str, items, after=None) -> None:
        made = kept = 0
        for obj in items:
            if _create(hub, obj, check_mode):
                made += 1
                if after is not None:
                    after(obj)
            else:
                kept += 1
        counts[name] = {"created": made, "existing": kept}

    api_items = sorted(sections.get("api", ()), key=lambda o: o.get("kind") != "CustomResourceDefinition")
    each("api", api_items)
    hub.forget(api.API_VERSION)
    each("namespaces", sections.get("namespaces", ()))
    registrations = [{k: v for k, v in r.items() if k != "status"} for r in sections.get("registrations", ())]
    status_of = {r["metadata"]["name"]: r for r in sections.get("registrations", ())}
    each("registrations", registrations, lambda r: _restore_status(hub, status_of[r["metadata"]["name"]], check_mode))
    each("sources", sections.get("sources", ()))
    if placements:
        chosen = [
            p for p in sections.get("placements", ()) if (p["metadata"]["namespace"], p["metadata"]["name"]) not in held
        ]
        each("placements", chosen)
        counts["placements"]["held"] = len(sections.get("placements", ())) - len(chosen)
    return counts
