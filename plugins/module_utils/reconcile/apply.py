# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 3 of the sync pass (member): make a member hold what its SyncWorks say.

Layer 4 of the engine; private to this collection. ``apply_works`` server-side applies
each SyncWork's manifest with field manager ``tmc-syncer``, creates namespaces on demand,
reverts drift, deletes per the finalizer protocol, and computes each SyncWork's status.
An object the member refuses is reported for that object and stops nothing else.

Why a SyncWork could not be applied is classified here, once, for the syncer and for
``workload_sync`` alike (``classify``): the reason of its Applied=False, Available=False
and Degraded=True conditions is ``MissingName`` (its manifest has no name),
``KindNotServed`` (the member does not serve the kind: its CustomResourceDefinition is
missing there, or was removed), ``RefusedByMember`` (the member's API server refused the
object: a quota, a LimitRange, an admission webhook, an invalid field),
``MemberUnavailable`` (no answer: retried) or ``MadeByMember`` (an object every cluster
makes for itself, which TMC never applies).

A no-op pass makes no write: a SyncWork whose manifest hash and downstream
fingerprint (generation, or resourceVersion for kinds without one) match what
was last applied is left alone, so repeats cost one list per kind and cluster.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds, kube, render, status, tracing
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.common import (
    MEMBER_APPLY_CONCURRENCY,
    manifest_key,
    object_key,
    run_all,
)

SYNCER = api.FIELD_MANAGER
# The field manager that sets the replica count of a workload whose members own it, once, at creation.
INITIAL_REPLICAS_MANAGER = "tmc-initial-replicas"

# Why a SyncWork could not be applied: the reason of its conditions (see the module docstring).
MISSING_NAME = "MissingName"
KIND_NOT_SERVED = "KindNotServed"
REFUSED_BY_MEMBER = "RefusedByMember"
MEMBER_UNAVAILABLE = "MemberUnavailable"
MADE_BY_MEMBER = "MadeByMember"  # an object every cluster makes for itself: never applied (kinds.is_self_made)
APPLY_FAILED = "ApplyFailed"  # a failure no rule above names
_REQUEST_PREFIX = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE|WATCH) /\S*: ")


@dataclass(frozen=True)
class Failure:
    """Why one SyncWork could not be applied: a condition reason and a message that says it in the
    same words whoever met it (syncer or module)."""

    reason: str
    message: str
    status: int | None = None  # the member's HTTP status, when it answered

    @property
    def transient(self) -> bool:
        """Worth trying again soon: the member did not answer."""
        return self.reason == MEMBER_UNAVAILABLE


def manifest_problem(manifest) -> Failure | None:
    """What makes a manifest impossible to apply before any member is asked (None: nothing).
    The hub's CRD refuses both at admission; a SyncWork written where that validation is absent
    still gets a condition, never an exception."""
    if not isinstance(manifest, Mapping) or not manifest.get("apiVersion") or not manifest.get("kind"):
        return Failure(APPLY_FAILED, "spec.manifest has no apiVersion or kind: there is nothing to apply")
    name = (manifest.get("metadata") if isinstance(manifest.get("metadata"), Mapping) else {}).get("name")
    if not isinstance(name, str) or not name:
        return Failure(
            MISSING_NAME,
            f"spec.manifest.metadata.name is missing: a {manifest['kind']} cannot be created without a name",
        )
    return None


def classify(err: kube.KubeError, manifest: Mapping) -> Failure:
    """The ``Failure`` of an apply (or delete) of ``manifest`` that raised ``err``."""
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    if err.status == 404 and err.details.get("kind") != "namespaces":
        # Discovery does not list the kind, or (discovery cached) the API server has no such resource.
        return Failure(
            KIND_NOT_SERVED,
            f"the member does not serve {kind} in {api_version}: its CustomResourceDefinition is not "
            "installed there (or was removed)",
            404,
        )
    message = _REQUEST_PREFIX.sub("", str(err))
    if kube.is_transient(err):
        return Failure(MEMBER_UNAVAILABLE, f"the member did not answer: {message}", err.status or None)
    return Failure(REFUSED_BY_MEMBER, f"the member refused it: {message}", err.status)


@dataclass
class MemberReport:
    cluster: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)  # (ns, name) of SyncWork -> new status
    finished: list = field(default_factory=list)  # SyncWorks whose finalizer can go
    diffs: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


def fingerprint(obj: Mapping | None) -> str | None:
    """What changes when anyone changes the object's spec (or data, for kinds without generation)."""
    if not obj:
        return None
    meta = obj.get("metadata") or {}
    generation = meta.get("generation")
    return f"g{generation}" if generation else f"rv{meta.get('resourceVersion')}"


def _live_index(member: kube.Kube, cluster: str, works: list[Mapping]) -> dict:
    """Live managed objects on the member, one list per kind, keyed by (apiVersion, kind, ns, name)."""
    kinds = sorted(
        {(w["spec"]["manifest"]["apiVersion"], w["spec"]["manifest"]["kind"]) for w in works if _appliable(w)}
    )
    selector = f"{api.LABEL_MANAGED}=true,{api.LABEL_CLUSTER}={cluster}"
    index = {}
    for api_version, kind in kinds:
        try:
            items = member.list(api_version, kind, label_selector=selector)
        except kube.KubeError as err:
            if err.status == 404:
                continue
            raise
        for obj in items:
            index[(api_version, kind, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])] = obj
    return index


def _ensure_namespace(member: kube.Kube, namespace: str, known: set, check_mode: bool) -> None:
    if not namespace or namespace in known:
        return
    if member.get("v1", "Namespace", namespace) is None and not check_mode:
        try:
            member.create(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": namespace,
                        "labels": {api.LABEL_MANAGED: "true"},
                        "annotations": {api.ANNOTATION_CREATED_NAMESPACE: "true"},
                    },
                }
            )
        except kube.KubeError as err:
            if err.status != 409:
                raise
    known.add(namespace)


def _appliable(work: Mapping) -> bool:
    return manifest_problem((work.get("spec") or {}).get("manifest")) is None


def _work_status(
    work: Mapping,
    live: Mapping | None,
    now: dt.datetime,
    error: str | None = None,
    applied_hash: str | None = None,
    reason: str = APPLY_FAILED,
) -> dict:
    """The SyncWork's status after this pass. With ``error``: not applied, not available, Degraded
    for ``reason``; what the member runs (``live``: nothing, when None) is still reported as it is,
    never the status of an object that is gone."""
    current = work.get("status") or {}
    manifest = work["spec"].get("manifest") or {}
    conditions = current.get("conditions") or []
    new = dict(current)
    new["observedGeneration"] = work["metadata"].get("generation")
    new.update(_downstream(live))
    if live is None:
        # No object: no downstreamStatus at all. Server-side apply removes the field it owned (an empty
        # map in its place comes out null when the old one had fields, which the CRD refuses).
        new.pop("downstreamStatus", None)
    if error is not None:
        new.update({"applied": False, "available": False, "message": error[:4000]})
        for ctype, state in (("Applied", "False"), ("Available", "False"), ("Degraded", "True")):
            conditions = status.set_condition(conditions, ctype, state, reason, error[:1000], now)
        new["conditions"] = conditions
        return new
    available = status.is_available(manifest["kind"], live) if live else False
    new.update({"applied": True, "available": bool(available), "message": ""})
    if applied_hash:
        new["appliedManifestHash"] = applied_hash
        new["lastAppliedTime"] = status.format_time(now)
    conditions = status.set_condition(conditions, "Applied", "True", "Applied", "", now)
    conditions = status.set_condition(
        conditions, "Available", "True" if available else "False", "Available" if available else "NotAvailable", "", now
    )
    conditions = status.set_condition(conditions, "Degraded", "False", "Healthy", "", now)
    new["conditions"] = conditions
    return new


def _downstream(live: Mapping | None) -> dict:
    """The status fields that describe the member's object (empty when there is none)."""
    return {
        "downstreamStatus": status.downstream_status(live) if live else {},
        "downstreamFingerprint": fingerprint(live) or "",
        "downstreamUID": live["metadata"].get("uid", "") if live else "",
    }


def apply_works(
    member: kube.Kube,
    cluster: str,
    works: list[Mapping],
    now: dt.datetime,
    check_mode: bool = False,
    diff: bool = False,
    live: Mapping | None = None,
    concurrency: int = MEMBER_APPLY_CONCURRENCY,
    namespaces: set | None = None,
    keys: list | None = None,
) -> MemberReport:
    """Make the member hold exactly the manifests of ``works`` (the SyncWorks of ``cluster``):
    deletions first, then the applies, ``concurrency`` at a time.

    ``live``: the member's managed objects keyed by (apiVersion, kind, namespace, name) when the
    caller has them cached (the syncer's watches); else they are listed, one call per kind.
    ``namespaces``: member namespaces known to exist, kept by a caller that runs many passes (the
    syncer), so that a namespace is looked up once, not once per apply.
    ``keys``: the member's sealing keys (``render.KeyPair``, newest first), which open the sealed
    block of a Secret's SyncWork just before it is applied (render.sealing).
    """
    report = MemberReport(cluster)
    live = _live_index(member, cluster, works) if live is None else live
    namespaces = set() if namespaces is None else namespaces
    ordered = sorted(works, key=object_key)
    for work in [w for w in ordered if w["metadata"].get("deletionTimestamp")]:  # deletions first, in order
        if not _appliable(work):
            report.finished.append(work)  # nothing can have been made from it
            continue
        manifest = work["spec"]["manifest"]
        current = live.get(manifest_key(manifest))
        try:
            _finish_deleted(member, work, current, report, check_mode)
        except kube.KubeError as err:
            _record_error(report, work, classify(err, manifest), now, current)

    def apply(work: Mapping) -> MemberReport:
        part = MemberReport(cluster)
        problem = manifest_problem(work["spec"].get("manifest"))
        if problem is not None:
            _record_error(part, work, problem, now)
            return part
        manifest = work["spec"]["manifest"]
        current = live.get(manifest_key(manifest))
        try:
            _apply_one(member, work, current, namespaces, part, now, check_mode, diff, keys)
        except kube.KubeError as err:
            failure = classify(err, manifest)
            if failure.reason == KIND_NOT_SERVED:
                member.forget(manifest["apiVersion"])  # asked afresh next time: the CRD may come (back)
                current = None  # whatever was cached, the member holds none of it now
            _record_error(part, work, failure, now, current)
        return part

    applies = [(apply, w) for w in ordered if not w["metadata"].get("deletionTimestamp")]
    for part in run_all(applies, concurrency):
        _merge_report(report, part)
    return report


def _record_error(
    report: MemberReport, work: Mapping, failure: Failure, now: dt.datetime, current: Mapping | None = None
) -> None:
    """One SyncWork's ``failure``: an entry of ``report.errors`` and the status that says it
    (``current``: what the member runs, still reported as it is)."""
    manifest = work["spec"].get("manifest")
    meta = (manifest.get("metadata") if isinstance(manifest, Mapping) else None) or {}
    report.errors.append(
        {
            "kind": manifest.get("kind") if isinstance(manifest, Mapping) else None,
            "namespace": meta.get("namespace") or "",
            "name": meta.get("name"),
            "status": failure.status,
            "reason": failure.reason,
            "message": failure.message,
        }
    )
    report.statuses[object_key(work)] = _work_status(work, current, now, error=failure.message, reason=failure.reason)


def failure_of(report: MemberReport) -> dict | None:
    """The error ``apply_works`` recorded for the one SyncWork of ``report`` (None: it went well)."""
    return report.errors[0] if report.errors else None


def _merge_report(report: MemberReport, part: MemberReport) -> None:
    for counter in ("created", "updated", "deleted", "unchanged"):
        setattr(report, counter, getattr(report, counter) + getattr(part, counter))
    report.errors += part.errors
    report.statuses.update(part.statuses)
    report.finished += part.finished
    report.diffs += part.diffs


def _apply_one(
    member: kube.Kube,
    work: Mapping,
    current: Mapping | None,
    namespaces: set,
    report: MemberReport,
    now: dt.datetime,
    check_mode: bool,
    diff: bool,
    keys: list | None = None,
) -> None:
    if kinds.is_self_made(work["spec"]["manifest"]):
        _refuse_self_made(report, work, now)
        return
    _check_target(work)
    wanted_hash = render.work_hash(work)
    previous = work.get("status") or {}
    if (
        current is not None
        and previous.get("appliedManifestHash") == wanted_hash
        and previous.get("downstreamFingerprint") == fingerprint(current)
    ):
        report.unchanged += 1
        report.statuses[object_key(work)] = _work_status(work, current, now)
        return
    manifest = _opened(work, report.cluster, keys)
    member.resource(manifest["apiVersion"], manifest["kind"])  # a kind the member does not serve: no namespace made
    namespace = manifest["metadata"].get("namespace") or ""
    _ensure_namespace(member, namespace, namespaces, check_mode)
    if "initialReplicas" in work["spec"] and current is not None and not check_mode:
        _hand_over_replicas(member, manifest, current)
    try:
        with tracing.span("member.apply", cluster=report.cluster, kind=manifest["kind"]):
            result = member.apply(manifest, SYNCER, force=True, dry_run=check_mode)
    except kube.KubeError as err:
        if not (err.status == 404 and err.details.get("kind") == "namespaces"):
            raise
        if check_mode:
            result = dict(manifest)  # its namespace would be created first
        else:  # known, but deleted since: create it again
            namespaces.discard(namespace)
            _ensure_namespace(member, namespace, namespaces, check_mode)
            result = member.apply(manifest, SYNCER, force=True)
    initial = work["spec"].get("initialReplicas")
    if initial is not None and not check_mode and _created_by_this_apply(result):
        result = _set_initial_replicas(member, manifest, initial)
    if current is None:
        report.created += 1
    elif kube.comparable(result) != kube.comparable(current):
        report.updated += 1
    else:
        report.unchanged += 1
    if diff and (current is None or kube.comparable(result) != kube.comparable(current)):
        report.diffs.append(
            {
                "cluster": report.cluster,
                "kind": manifest["kind"],
                "name": manifest["metadata"]["name"],
                "before": kube.comparable(current) or {},
                "after": kube.comparable(result) or {},
            }
        )
    report.statuses[object_key(work)] = _work_status(
        work, result if not check_mode else current or result, now, applied_hash=wanted_hash
    )


def _refuse_self_made(report: MemberReport, work: Mapping, now: dt.datetime) -> None:
    """A SyncWork for an object the member makes for itself (left by an older version, or forged):
    never applied, so the member's own object is never taken over."""
    key = manifest_key(work["spec"]["manifest"])
    message = f"{key[1]} {key[2]}/{key[3]} is one every cluster makes for itself: TMC never places nor adopts it"
    _record_error(report, work, Failure(MADE_BY_MEMBER, message), now)


def _created_by_this_apply(result: Mapping) -> bool:
    """The apply that returned ``result`` created the object (only our manager has written it)."""
    managers = {entry.get("manager") for entry in (result.get("metadata") or {}).get("managedFields") or ()}
    return managers == {SYNCER}


def _set_initial_replicas(
    member: kube.Kube, manifest: Mapping, replicas: int, resource_version: str | None = None
) -> dict:
    """The replica count of a workload whose members own it, set once, right after TMC created it
    (or as the member has it, when retention begins), by a field manager of its own:
    ``tmc-syncer`` never owns the field, so its later applies leave it to the member (an
    autoscaler, or whoever scales it there). ``resource_version``: only if the object is still
    that version."""
    path = _replica_path(manifest)
    value: Any = replicas
    for key in reversed(path):
        value = {key: value}
    meta = manifest["metadata"]
    body = {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "metadata": {
            "name": meta["name"],
            **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
            **({"resourceVersion": resource_version} if resource_version else {}),
        },
        **value,
    }
    return member.apply(body, INITIAL_REPLICAS_MANAGER, force=True)


def _replica_path(manifest: Mapping) -> tuple[str, ...]:
    known = kinds.spec_for(manifest.get("kind"), manifest.get("apiVersion"))
    return known.replicas if known is not None and known.replicas else ("spec", "replicas")


def _syncer_owns(current: Mapping, path: tuple[str, ...]) -> bool:
    """Whether ``tmc-syncer``'s applies own the field at ``path`` of ``current``."""
    for entry in (current.get("metadata") or {}).get("managedFields") or ():
        if entry.get("manager") != SYNCER or entry.get("operation") != "Apply":
            continue
        fields = entry.get("fieldsV1") or {}
        for key in path:
            fields = fields.get(f"f:{key}") if isinstance(fields, dict) else None
        if fields is not None:
            return True
    return False


def _hand_over_replicas(member: kube.Kube, manifest: Mapping, current: Mapping) -> None:
    """A workload whose replica count has just become the member's (``retainReplicas`` set, or an
    autoscaler placed beside it) while ``tmc-syncer`` still owns the field: an apply without it
    would remove the field, and the API server would reset the count to its default. The member's
    current count moves to ``tmc-initial-replicas`` first, so it stays as it is. Read afresh (the
    syncer's caches keep no managedFields) and handed over only if unchanged since (resourceVersion):
    a count an autoscaler set meanwhile is never written back."""
    if (current.get("metadata") or {}).get("managedFields") is None:
        meta = manifest["metadata"]
        current = member.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
        if current is None:
            return
    path = _replica_path(manifest)
    value: Any = current
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool) and _syncer_owns(current, path):
        _set_initial_replicas(member, manifest, value, current["metadata"].get("resourceVersion"))


def _disown(member: kube.Kube, manifest: Mapping, current: Mapping, check_mode: bool) -> None:
    """Take TMC's labels and annotation off an object TMC must not delete (one the member makes for
    itself), so that nothing later takes it for TMC's."""
    meta = current.get("metadata") or {}
    labels = [k for k in (api.LABEL_MANAGED, api.LABEL_CLUSTER) if k in (meta.get("labels") or {})]
    annotations = [k for k in (api.ANNOTATION_SOURCE,) if k in (meta.get("annotations") or {})]
    if not labels and not annotations:
        return
    patch = {"metadata": {"labels": dict.fromkeys(labels), "annotations": dict.fromkeys(annotations)}}
    member.patch(
        manifest["apiVersion"],
        manifest["kind"],
        meta["name"],
        patch,
        namespace=meta.get("namespace"),
        dry_run=check_mode,
    )


def _check_target(work: Mapping) -> None:
    """Refuse (as the member would) a SyncWork whose object would land outside its source's
    namespace, or in a namespace TMC never writes to (render.RESERVED_NAMESPACES)."""
    try:
        render.check_target(work)
    except api.TMCError as err:
        raise kube.KubeError(str(err), 403, "Forbidden") from None


def _opened(work: Mapping, cluster: str, keys: list | None) -> dict:
    """The manifest to apply: with a sealed block, its sensitive fields opened with the member's key."""
    spec = work["spec"]
    if "sealed" not in spec:
        return spec["manifest"]
    try:
        return render.unseal_manifest(spec["manifest"], spec["sealed"], cluster, keys or [])
    except render.SealingError as err:
        raise kube.KubeError(str(err), 422, "SealingError") from None


def _finish_deleted(
    member: kube.Kube, work: Mapping, current: Mapping | None, report: MemberReport, check_mode: bool
) -> None:
    """Finalizer protocol: delete the downstream object (policy Delete), then the SyncWork may go.
    An object the member makes for itself is never deleted: only TMC's marks come off it. A kind the
    member does not serve (discovery asked afresh) holds no object: the SyncWork may go."""
    manifest = work["spec"]["manifest"]
    if not _served(member, manifest):
        report.finished.append(work)
        return
    if kinds.is_self_made(manifest):
        if current is not None:
            _disown(member, manifest, current, check_mode)
        report.finished.append(work)
        return
    if work["spec"].get("deletionPolicy", "Delete") == "Delete" and current is not None:
        meta = manifest["metadata"]
        member.delete(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"), dry_run=check_mode)
        report.deleted += 1
        if not check_mode and member.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace")):
            return  # still there (its own finalizers): the finalizer stays until it is gone
    report.finished.append(work)


def _served(member: kube.Kube, manifest: Mapping) -> bool:
    """Whether the member serves the manifest's kind, by discovery (asked afresh when it says no)."""
    try:
        member.resource(manifest["apiVersion"], manifest["kind"])
    except kube.KubeError as err:
        if err.status != 404:
            raise
        member.forget(manifest["apiVersion"])
        try:
            member.resource(manifest["apiVersion"], manifest["kind"])
        except kube.KubeError as again:
            if again.status != 404:
                raise
            return False
    return True
