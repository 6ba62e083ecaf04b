# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deregistering a member cluster, as a protocol that holds while the daemons run. Layer 4; private.

1. **Mark.** The registration gets the annotation ``tmc.kcp.io/deregistration: Orphan|Delete``
   first. From then on the controller places nothing more onto the cluster and stops writing its
   health; the syncer stops applying, and before it deletes anything on the member it reads the
   registration from the hub (a quorum read that comes after the SyncWork's deletion): with
   ``Orphan`` it releases the object instead (``release``), with no registration it does nothing.
2. **SyncWorks.** Each SyncWork is deleted (its finalizer holds it), then its object is dealt with
   on the member — deleted (``drain: true`` and deletion policy ``Delete``) or released (kept,
   without TMC's labels, annotations and field ownership) — by this run when it can reach the
   member (the ``member`` option, or the credentials stored for push mode), else by the running
   syncer, and only then is the finalizer removed. The SyncWork goes before the object is touched,
   so a syncer that sees the object change re-reads the SyncWork and finds it going (no re-creation).
3. **Sweep.** With member access, whatever still carries the cluster's labels is dealt with the same
   way, TMC-created namespaces are deleted when empty (drain) or released (orphan), and the member's
   registration record goes.
4. **Hub.** The syncer's RBAC goes first (it can renew nothing after), then the credentials, the
   Lease, the cluster namespace, and the registration last: until then the mark stays, so a run that
   failed half way leaves the daemons standing down, and the next run picks up where it stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters, identity, release, sync

ROUNDS = 3  # passes over the cluster's SyncWorks: a controller that had not seen the mark may add one

ORPHAN, DELETE = "Orphan", "Delete"


@dataclass
class DeregisterResult:
    changed: bool = False
    works_deleted: int = 0
    downstream_deleted: int = 0
    orphaned: int = 0
    namespaces_deleted: list = field(default_factory=list)
    namespaces_kept: dict = field(default_factory=dict)  # namespace -> why it stays
    removed: list = field(default_factory=list)  # hub (and member record) objects removed
    warnings: list = field(default_factory=list)
    by: str = "module"  # who dealt with the member's objects: module | syncer | nobody


def downstream_ref(work: Mapping) -> tuple[str, str, str, str | None] | None:
    manifest = (work.get("spec") or {}).get("manifest") or {}
    meta = manifest.get("metadata") or {}
    if not manifest.get("apiVersion") or not manifest.get("kind") or not meta.get("name"):
        return None
    return manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace")


def object_fate(work: Mapping, mode: str) -> str:
    """What happens to a SyncWork's object: Delete only when draining and its policy says Delete."""
    policy = (work.get("spec") or {}).get("deletionPolicy", DELETE)
    return DELETE if mode == DELETE and policy == DELETE else ORPHAN


def syncer_alive(registration: Mapping | None, lease: Mapping | None, now: dt.datetime) -> bool:
    """Whether the cluster's syncer renewed its heartbeat within the threshold (it can do its part)."""
    if registration is None or (registration.get("spec") or {}).get("syncMode") != "Pull":
        return False
    age = health.evaluate(registration, lease, now).heartbeat_age
    return age is not None and age <= health.Thresholds().heartbeat


# ------------------------------------------------------------------ hub writes


def mark(hub: kube.Kube, name: str, mode: str, check_mode: bool) -> bool:
    """Annotate the registration: the daemons stand down for the cluster from now on."""
    current = hub.get(api.API_VERSION, api.KIND_CLUSTER, name)
    if current is None or (current["metadata"].get("annotations") or {}).get(api.ANNOTATION_DEREGISTRATION) == mode:
        return False
    if not check_mode:
        hub.patch(
            api.API_VERSION,
            api.KIND_CLUSTER,
            name,
            {"metadata": {"annotations": {api.ANNOTATION_DEREGISTRATION: mode}}},
        )
    return True


def drop_finalizer(hub: kube.Kube, work: Mapping) -> None:
    """Remove the syncer finalizer; a SyncWork already gone (the syncer was quicker) is fine."""
    meta = work["metadata"]
    for _attempt in range(release.RETRIES):
        current = hub.get(api.API_VERSION, api.KIND_SYNCWORK, meta["name"], meta["namespace"])
        if current is None or api.FINALIZER_SYNCER not in (current["metadata"].get("finalizers") or []):
            return
        finalizers = [f for f in current["metadata"]["finalizers"] if f != api.FINALIZER_SYNCER]
        version = current["metadata"]["resourceVersion"]
        try:
            hub.patch(
                api.API_VERSION,
                api.KIND_SYNCWORK,
                meta["name"],
                [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": version},
                    {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
                ],
                namespace=meta["namespace"],
                content_type=kube.JSON_PATCH,
            )
            return
        except kube.KubeError as err:
            if err.status == 404:
                return
            if err.status not in (409, 422):
                raise
    raise kube.KubeError(f"SyncWork {meta['namespace']}/{meta['name']} kept changing; run again", 409)


def _delete_work(hub: kube.Kube, work: Mapping) -> None:
    meta = work["metadata"]
    if not meta.get("deletionTimestamp"):
        hub.delete(api.API_VERSION, api.KIND_SYNCWORK, meta["name"], meta["namespace"])  # False: gone already


# ------------------------------------------------------------------ member side


def _settle_object(member: kube.Kube, ref: tuple, fate: str, timeout: float, result: DeregisterResult) -> None:
    api_version, kind, name, namespace = ref
    if fate == DELETE:
        if member.delete(api_version, kind, name, namespace):
            result.downstream_deleted += 1
        member.wait_for(
            lambda: member.get(api_version, kind, name, namespace) is None,
            timeout,
            what=f"{kind} {name} to be deleted from the member",
        )
    else:
        release.release_object(member, api_version, kind, name, namespace)
        result.orphaned += 1


def _settle_works(
    hub: kube.Kube,
    member: kube.Kube | None,
    pending: list[dict],
    mode: str,
    timeout: float,
    syncer: bool,
    result: DeregisterResult,
) -> None:
    """Step 2: each SyncWork deleted, its object deleted or released, its finalizer dropped."""
    for work in pending:
        _delete_work(hub, work)
        ref = downstream_ref(work)
        if member is not None and ref is not None:
            _settle_object(member, ref, object_fate(work, mode), timeout, result)
        elif ref is not None and object_fate(work, mode) == ORPHAN:
            result.orphaned += 1
        if member is None and syncer:
            continue  # the syncer deletes or releases the object, then drops the finalizer
        drop_finalizer(hub, work)
        result.works_deleted += 1
    if member is None and syncer and pending:
        _wait_for_syncer(hub, pending, mode, timeout, result)


def _wait_for_syncer(hub: kube.Kube, pending: list[dict], mode: str, timeout: float, result: DeregisterResult) -> None:
    namespace = pending[0]["metadata"]["namespace"]
    result.by = "syncer"

    def done() -> bool:
        return not hub.list(api.API_VERSION, api.KIND_SYNCWORK, namespace=namespace)

    try:
        hub.wait_for(done, timeout, interval=0.5, what="the syncer to finish")
    except kube.KubeError:
        left = hub.list(api.API_VERSION, api.KIND_SYNCWORK, namespace=namespace)
        if mode == DELETE:
            raise kube.KubeError(
                f"the cluster's syncer did not remove {len(left)} of {len(pending)} objects within {timeout:g}s; "
                "their SyncWorks are kept so that nothing is left behind unnoticed: run again (with 'member' to "
                "remove them from here), or with drain: false to keep them",
                0,
                "DrainTimeout",
            ) from None
        for work in left:
            drop_finalizer(hub, work)
        result.warnings.append(
            f"the syncer did not release {len(left)} objects within {timeout:g}s: they stay on the member but may "
            "still carry TMC's labels; run again with 'member' to remove those"
        )
    result.works_deleted += len(pending)
    if mode == DELETE:
        result.downstream_deleted += sum(1 for w in pending if object_fate(w, mode) == DELETE)


def _sweep_member(
    member: kube.Kube, name: str, mode: str, kinds: set, timeout: float, result: DeregisterResult
) -> None:
    """Step 3: leftovers with the cluster's labels, then TMC-created namespaces, then the record."""
    record = identity.read_record(member)
    if record.registration and record.registration != name:
        result.warnings.append(
            f"the member is registered as {record.registration!r} now ({record.where}): its objects and "
            "namespaces are that registration's and were left as they are"
        )
        return
    selector = f"{api.LABEL_MANAGED}=true,{api.LABEL_CLUSTER}={name}"
    for api_version, kind in sorted(kinds):
        try:
            leftovers = member.list(api_version, kind, label_selector=selector)
        except kube.KubeError as err:
            if err.status == 404:
                continue
            raise
        for obj in leftovers:
            meta = obj["metadata"]
            _settle_object(member, (api_version, kind, meta["name"], meta.get("namespace")), mode, timeout, result)
    result.removed += identity.remove_record(member, name, check_mode=False)
    deleted, kept = release.settle_namespaces(member, mode == DELETE, frozenset({identity.MEMBER_NAMESPACE}))
    result.namespaces_deleted += deleted
    result.namespaces_kept.update(kept)


def _remove_hub_objects(
    hub: kube.Kube,
    member: kube.Kube | None,
    name: str,
    mode: str,
    timeout: float,
    check_mode: bool,
    syncer: bool,
    result: DeregisterResult,
) -> None:
    """Step 4, in an order that leaves the syncer nothing to renew: RBAC, credentials, Lease, namespace,
    registration."""
    ns = api.cluster_namespace(name)
    cleanup = [
        *[o for o in clusters.syncer_identity_objects(name) if o["metadata"].get("namespace") != ns],
        clusters.credentials_secret_object(name),
        clusters.lease_object(name),
        clusters.cluster_namespace_object(name),
    ]
    for obj in cleanup:
        if kube.ensure_absent(hub, obj, check_mode).changed:
            result.removed.append(f"{obj['kind']}/{obj['metadata']['name']}")
    if not check_mode:
        _wait_namespace_gone(hub, member, ns, mode, timeout, result)
    registration = clusters.registration_object(clusters.ClusterSpec(name=name), None)
    if kube.ensure_absent(hub, registration, check_mode).changed:
        result.removed.append(f"{api.KIND_CLUSTER}/{name}")


def _wait_namespace_gone(
    hub: kube.Kube, member: kube.Kube | None, ns: str, mode: str, timeout: float, result: DeregisterResult
) -> None:
    """The cluster namespace goes with its SyncWorks; one that appeared meanwhile is settled too (with
    the syncer's identity gone, nobody else would drop its finalizer)."""

    def gone() -> bool:
        if hub.get("v1", "Namespace", ns) is None:
            return True
        for work in _works_of(hub, ns):
            ref = downstream_ref(work)
            if member is not None and ref is not None:
                _settle_object(member, ref, object_fate(work, mode), timeout, result)
            drop_finalizer(hub, work)
        return False

    hub.wait_for(gone, timeout, what=f"namespace {ns} to be deleted")


def _check_mode_counts(pending: list[dict], mode: str, result: DeregisterResult) -> None:
    for work in pending:
        result.works_deleted += 1
        if downstream_ref(work) is None:
            continue
        if object_fate(work, mode) == DELETE:
            result.downstream_deleted += 1
        else:
            result.orphaned += 1


def deregister_cluster(
    hub: kube.Kube,
    member: kube.Kube | None,
    name: str,
    drain: bool,
    timeout: float,
    check_mode: bool = False,
    now: dt.datetime | None = None,
) -> DeregisterResult:
    """Remove cluster ``name`` from the hub, its objects drained (``drain``) or left running, released."""
    mode = DELETE if drain else ORPHAN
    result = DeregisterResult()
    registration = hub.get(api.API_VERSION, api.KIND_CLUSTER, name)
    ns = api.cluster_namespace(name)
    pending = _works_of(hub, ns)
    now = now or dt.datetime.now(dt.UTC)
    syncer = syncer_alive(registration, clusters.read_lease(hub, name), now)
    if member is None and registration is not None and (registration.get("spec") or {}).get("credentialsSecretRef"):
        member = stored_member(hub, registration)
    if drain and member is None and not syncer and any(downstream_ref(w) for w in pending):
        raise api.SpecError(
            "member",
            f"drain needs the member to remove {len(pending)} objects from {name}, and its syncer is not running: "
            "give 'member', start the syncer, or use drain: false to leave them running there",
        )
    result.by = "module" if member is not None else ("syncer" if syncer else "nobody")
    result.changed = mark(hub, name, mode, check_mode) or bool(pending)
    if check_mode:
        _check_mode_counts(pending, mode, result)
        _remove_hub_objects(hub, member, name, mode, timeout, True, syncer, result)
        return result
    kinds = set(DEFAULT_KINDS)
    for _round in range(ROUNDS):
        kinds |= {downstream_ref(w)[:2] for w in pending if downstream_ref(w)}
        _settle_works(hub, member, pending, mode, timeout, syncer, result)
        pending = _works_of(hub, ns)
        if not pending:
            break
    if member is not None:
        _sweep_member(member, name, mode, kinds, timeout, result)
    elif result.orphaned and not syncer:
        result.warnings.append(
            f"{result.orphaned} objects stay on {name} with TMC's labels: neither 'member' nor a running syncer "
            "could release them; run again with 'member' to remove those labels"
        )
    _remove_hub_objects(hub, member, name, mode, timeout, False, syncer, result)
    result.changed = result.changed or bool(result.removed or result.namespaces_deleted)
    return result


DEFAULT_KINDS = frozenset((f"{group}/v1" if group else "v1", kind) for group, kind in api.DEFAULT_RESOURCES)


def _works_of(hub: kube.Kube, namespace: str) -> list[dict]:
    try:
        return hub.list(api.API_VERSION, api.KIND_SYNCWORK, namespace=namespace)
    except kube.KubeError as err:
        if err.status != 404:
            raise
        return []


def stored_member(hub: kube.Kube, registration: Mapping) -> kube.Kube | None:
    """The member's client from the credentials stored on the hub for push mode; None when there are none."""
    try:
        return sync.member_client(hub, registration)
    except api.TMCError:
        return None
