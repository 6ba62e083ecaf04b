# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registering a member cluster: one pass of ``cluster_registration`` with ``state: present``.

Layer 4 of the engine; private. What it writes is listed in ``clusters`` (the objects); this
module decides whether it may, and leaves nothing behind when it may not:

- the member must be the one the registration stands for: its identity (``identity``) is checked
  against every other registration and against the member's own record before anything is written;
- the ClusterRegistration is validated by the API server (server-side dry run) before anything is
  written, so a spec the hub refuses (a bad endpoint) creates nothing;
- when a write fails half way, what this run created is deleted again (namespace, identity, RBAC);
- Push -> Pull deletes the member credentials stored on the hub; Pull -> Push needs them;
- a registration being deregistered is not registered again until that finished.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters, identity, sealing_keys

FIELD_MANAGER = clusters.FIELD_MANAGER


@dataclass
class RegisterResult:
    changed: bool
    registration: dict | None
    changes: list = field(default_factory=list)  # (kind, name, Change)
    member: clusters.MemberInfo | None = None
    cluster_id: str | None = None
    heartbeat_renewed: bool = False


def _refuse_while_deregistering(current: Mapping | None, name: str) -> None:
    mode = clusters.deregistration_mode(current)
    if mode:
        keep = "false" if mode == "Orphan" else "true"
        raise api.SpecError(
            "state",
            f"cluster {name} is being deregistered (started with drain: {keep}); finish it with state: absent "
            "(it picks up where it stopped), then register it again",
        )


def _probe(member: kube.Kube | None, name: str) -> tuple[clusters.MemberInfo | None, str | None]:
    if member is None:
        return None, None
    try:
        return clusters.probe_member(member), None
    except kube.KubeError as err:
        return None, f"member {name} does not answer: {err}"


def _require_member_for_push(spec: clusters.ClusterSpec, current: Mapping | None, probe_error: str | None) -> None:
    if probe_error:
        raise kube.KubeError(probe_error, 0, "MemberUnreachable")
    was = ((current or {}).get("spec") or {}).get("syncMode")
    if was == "Pull":
        message = (
            f"{spec.name} is registered in Pull mode; switching it to Push needs the member's credentials, "
            "which the hub then stores: give 'member'"
        )
    else:
        message = f"push mode needs the member's credentials ('member' option) for {spec.name}"
    raise kube.KubeError(message, 0, "MemberCredentialsRequired")


def hub_clusterset(hub: kube.Kube) -> str | None:
    """The hub's own identity (the cluster set's), or None when this identity may not read it."""
    try:
        return identity.read_cluster_id(hub, "the hub")
    except kube.KubeError as err:
        if err.status in (401, 403, 404):
            return None
        raise


def _validate(hub: kube.Kube, registration: Mapping) -> None:
    """The hub's verdict on the ClusterRegistration (dry run) before anything else is written."""
    try:
        hub.apply(registration, FIELD_MANAGER, dry_run=True)
    except kube.KubeError as err:
        if err.status in (0, 401, 403, 404) or err.status >= 500:
            raise
        raise kube.KubeError(
            f"the hub refused ClusterRegistration {registration['metadata']['name']}: {err}; nothing was created",
            err.status,
            err.reason,
            err.details,
        ) from None


def _rollback(hub: kube.Kube, created: list[Mapping]) -> list[str]:
    """Delete what this run created, newest first; returns what it could not delete."""
    failed = []
    for obj in reversed(created):
        meta = obj["metadata"]
        try:
            hub.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        except api.TMCError as err:
            failed.append(f"{obj['kind']}/{meta['name']} ({err})")
    return failed


def _failed_after_rollback(err: api.TMCError, created: list[Mapping], failed: list[str]) -> kube.KubeError:
    names = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in created) or "nothing"
    message = f"{err}; rolled back what this run had created ({names})"
    if failed:
        message += f", except {', '.join(failed)}: delete them by hand or run with state: absent"
    return kube.KubeError(message, getattr(err, "status", 0), getattr(err, "reason", ""))


def register_cluster(
    hub: kube.Kube,
    member: kube.Kube | None,
    spec: clusters.ClusterSpec,
    member_kubeconfig: Mapping | None,
    now: dt.datetime,
    thresholds: health.Thresholds,
    heartbeat: bool = False,
    check_mode: bool = False,
    rekey: bool = False,
    taking_over: frozenset = frozenset(),
) -> RegisterResult:
    """Create or update everything cluster ``spec.name`` needs on the hub; probe the member.

    ``taking_over``: registrations of the same member that the caller deregisters (check mode: would)."""
    current = hub.get(api.API_VERSION, api.KIND_CLUSTER, spec.name)
    _refuse_while_deregistering(current, spec.name)
    info, probe_error = _probe(member, spec.name)
    if spec.sync_mode == "Push" and info is None:
        _require_member_for_push(spec, current, probe_error)
    endpoint = spec.endpoint or (member.host if member is not None else None)
    cluster_id = identity.read_cluster_id(member, f"member {spec.name}") if info is not None else None
    registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER)
    identity.check_registration(registrations, spec.name, cluster_id, endpoint, rekey, taking_over)
    clusterset = hub_clusterset(hub)
    if cluster_id is not None:
        record = identity.read_record(member)
        identity.check_record(record, spec.name, clusterset, rekey, registrations, cluster_id, taking_over)
    registration = clusters.registration_object(spec, endpoint)
    _validate(hub, registration)
    objects = [clusters.cluster_namespace_object(spec.name), *clusters.syncer_identity_objects(spec.name)]
    keys = None
    if spec.sync_mode == "Push" and member_kubeconfig is not None:
        keys = clusters.push_sealing_keys(hub, spec.name, spec.rotate_sealing_key)
        objects.append(clusters.credentials_secret(spec.name, member_kubeconfig, keys))
    objects.append(registration)
    result = RegisterResult(False, None, member=info, cluster_id=cluster_id)
    created: list[Mapping] = []
    try:
        _write_objects(hub, objects, result, created, check_mode)
        lease = _ensure_lease(hub, spec.name, now, heartbeat, result, created, check_mode)
    except api.TMCError as err:
        if check_mode or not created:
            raise
        raise _failed_after_rollback(err, created, _rollback(hub, created)) from None
    if spec.sync_mode == "Pull":  # Pull stores no member credentials: a Push registration's go
        secret = clusters.credentials_secret_object(spec.name)
        change = kube.ensure_absent(hub, secret, check_mode)
        if change.changed:
            result.changes.append(("Secret", secret["metadata"]["name"], change))
    _write_status(
        hub, spec, registration, info, probe_error, lease, now, thresholds, cluster_id, result, check_mode, keys
    )
    if cluster_id is not None and identity.write_record(member, spec.name, cluster_id, clusterset, check_mode):
        result.changes.append(("MemberRecord", spec.name, kube.Change(True, None, None)))
    result.changed = any(change.changed for _kind, _name, change in result.changes)
    return result


def _write_objects(
    hub: kube.Kube, objects: list[Mapping], result: RegisterResult, created: list[Mapping], check_mode: bool
) -> None:
    for obj in objects:
        change = _apply(hub, obj, check_mode)
        result.changes.append((obj["kind"], obj["metadata"]["name"], change))
        if change.before is None and not check_mode:
            created.append(obj)
        if obj["kind"] == api.KIND_CLUSTER:
            result.registration = change.after


def _ensure_lease(
    hub: kube.Kube,
    name: str,
    now: dt.datetime,
    heartbeat: bool,
    result: RegisterResult,
    created: list[Mapping],
    check_mode: bool,
) -> dict:
    lease = clusters.read_lease(hub, name)
    if lease is None:
        obj = clusters.lease_object(name)
        lease = _apply_create(hub, obj, check_mode)
        result.changes.append(("Lease", api.heartbeat_lease_name(name), kube.Change(True, None, lease)))
        if not check_mode:
            created.append(obj)
    if heartbeat:
        # A liveness signal, like a ping: renewing it is not a change of the registration (a repeated run
        # with heartbeat: true reports ok), as workload_sync's renewals are not.
        lease = clusters.renew_heartbeat(hub, name, now, check_mode)
        result.heartbeat_renewed = True
    return lease


def _write_status(
    hub: kube.Kube,
    spec: clusters.ClusterSpec,
    registration: Mapping,
    info: clusters.MemberInfo | None,
    probe_error: str | None,
    lease: Mapping,
    now: dt.datetime,
    thresholds: health.Thresholds,
    cluster_id: str | None,
    result: RegisterResult,
    check_mode: bool,
    keys: list | None = None,
) -> None:
    registration = result.registration or registration
    status = clusters.registration_status(registration, info, probe_error, lease, now, thresholds)
    if cluster_id is not None:
        status["clusterID"] = cluster_id
    if keys:  # push mode: the public half of the keys in the credentials Secret (render.sealing)
        status["sealing"] = sealing_keys.sealing_status(keys, "")
    if result.registration is not None and clusters.write_status(hub, registration, status, check_mode):
        # A new lastHeartbeatTime alone comes from the renewal: not a change either.
        changed = _without_beat(registration.get("status") or {}) != _without_beat(status)
        result.changes.append((api.KIND_CLUSTER + "/status", spec.name, kube.Change(changed, registration, status)))
        result.registration = {**registration, "status": status}


def _without_beat(status: Mapping) -> dict:
    """The status but its heartbeat time, an empty field the same as an absent one (clusters._same_status)."""
    return clusters.without_empty({k: v for k, v in status.items() if k != "lastHeartbeatTime"})


def _apply(hub: kube.Kube, obj: Mapping, check_mode: bool) -> kube.Change:
    try:
        return kube.ensure_applied(hub, obj, FIELD_MANAGER, check_mode)
    except kube.KubeError as err:
        if check_mode and err.status == 404 and err.details.get("kind") == "namespaces":
            return kube.Change(True, None, dict(obj))  # its namespace would be created by this run
        raise


def _apply_create(hub: kube.Kube, obj: Mapping, check_mode: bool) -> dict:
    if check_mode:
        return dict(obj)
    try:
        return hub.create(obj)
    except kube.KubeError as err:
        if err.status == 409:
            return hub.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
        raise
