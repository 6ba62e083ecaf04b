# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Step 2 of the sync pass, and every status write on the hub but the sources' own.

Layer 4 of the engine; private to this collection.

- ``write_works``: create, update and delete SyncWorks as a plan says, then record each
  placement's decisions.
- ``write_placement_status``: the only function that writes a WorkloadPlacement's status
  (field manager ``tmc-placement``). The decision part (``decision_status``: decisions,
  ``observedGeneration``, condition ``Scheduled``) comes from this pass or the
  ``placement`` module; the summary part (``summary``, ``Synced``, ``Available``) from
  ``aggregate``.
- ``write_work_statuses`` and ``release_finished``: what a member pass computed, written
  back onto its SyncWorks (status, then the syncer finalizer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube, render, status, tracing
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.apply import MemberReport
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.common import (
    HUB_WRITE_CONCURRENCY,
    object_key,
    run_all,
    run_bounded,
    status_differs,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile.plan import Plan

CONTROLLER = api.CONTROLLER_FIELD_MANAGER
SYNCER = api.FIELD_MANAGER
WP_STATUS_MANAGER = "tmc-placement"


@dataclass
class HubCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    placements_updated: int = 0
    errors: list = field(default_factory=list)
    transient: int = 0  # errors worth a retry (the API server was unavailable, not the object refused)


def write_works(
    hub: kube.Kube, plan: Plan, now: dt.datetime, check_mode: bool = False, concurrency: int = HUB_WRITE_CONCURRENCY
) -> HubCounts:
    """Make the hub's SyncWorks match the plan (writes in parallel, bounded) and record each placement's
    decisions."""
    counts = HubCounts()
    parent = tracing.carrier()  # the writes run in a pool: the pass's span is handed over explicitly

    def create(work: dict) -> str:
        with tracing.span("controller.syncwork.write", parent=parent, syncwork=work["metadata"]["name"]):
            work = stamped(work)
            try:
                hub.create(work, dry_run=check_mode)
            except kube.KubeError as err:
                if check_mode and err.status == 404 and err.details.get("kind") == "namespaces":
                    return "created"  # the cluster's namespace is created by its registration
                if err.status == 409:  # there already: what we planned from (a daemon's cache) lags behind the hub
                    _write_spec(hub, work, check_mode)
                    return "updated"
                raise
        return "created"

    def update(work: dict) -> str:
        with tracing.span("controller.syncwork.write", parent=parent, syncwork=work["metadata"]["name"]):
            _write_spec(hub, stamped(work), check_mode)
        return "updated"

    def delete(work: dict) -> str:
        meta = work["metadata"]
        hub.delete(api.API_VERSION, api.KIND_SYNCWORK, meta["name"], meta["namespace"], dry_run=check_mode)
        return "deleted"

    jobs = [(create, w) for w in plan.create] + [(update, w) for w in plan.update] + [(delete, w) for w in plan.delete]
    for (_step, work), outcome in zip(jobs, run_bounded(jobs, concurrency), strict=True):
        if isinstance(outcome, kube.KubeError):
            counts.errors.append(_work_error(work, outcome))
            counts.transient += kube.is_transient(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            setattr(counts, outcome, getattr(counts, outcome) + 1)
    for outcome in plan.placements:
        if _write_placement_decisions(hub, outcome, now, check_mode):
            counts.placements_updated += 1
    return counts


def stamped(work: dict) -> dict:
    """``work`` with the moment it is written (``api.ANNOTATION_WRITTEN_AT``, for the sync SLI) and the
    writing span's trace context (``api.ANNOTATION_TRACEPARENT``, when tracing); the planned dict is left
    as it is. Neither is compared: the controller's cache drops annotations."""
    meta = dict(work["metadata"])
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        api.ANNOTATION_WRITTEN_AT: _millis(dt.datetime.now(dt.UTC)),
        **tracing.annotations(),
    }
    return {**work, "metadata": meta}


def _millis(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_spec(hub: kube.Kube, work: Mapping, check_mode: bool) -> None:
    """Make an existing SyncWork hold ``work``'s labels, annotations and exactly its spec.

    Server-side apply removes only the fields its own manager owns. A SyncWork is created by a POST,
    whose manager is not the controller's apply, so a field the new spec leaves out (``spec.replicas``
    once the members own the count, an override taken away) stayed on the hub, and on every member,
    for good. The spec is then replaced as a whole (a JSON patch)."""
    result = hub.apply(_without_finalizers(work), CONTROLLER, dry_run=check_mode)
    wanted = render.comparable_spec(work["spec"])
    if render.canonical_json(render.comparable_spec(result.get("spec"))) == render.canonical_json(wanted):
        return
    meta = work["metadata"]
    hub.patch(
        api.API_VERSION,
        api.KIND_SYNCWORK,
        meta["name"],
        [{"op": "replace", "path": "/spec", "value": work["spec"]}],
        namespace=meta["namespace"],
        content_type=kube.JSON_PATCH,
        dry_run=check_mode,
    )


def _without_finalizers(work: Mapping) -> dict:
    meta = {k: v for k, v in work["metadata"].items() if k != "finalizers"}
    return {**work, "metadata": meta}


def _work_error(work: Mapping, err: Exception) -> dict:
    spec = work.get("spec") or {}
    manifest = spec.get("manifest") or {}
    return {
        "cluster": spec.get("cluster"),
        "kind": manifest.get("kind"),
        "name": (manifest.get("metadata") or {}).get("name"),
        "message": str(err),
    }


MAX_SHORTFALLS = 100  # status.shortfalls entries kept (the CRD's maxItems)


def decision_status(
    wp: Mapping,
    result,
    error: str | None,
    now: dt.datetime,
    capacity: Mapping[str, str | None] | None = None,
    scope: Iterable[tuple] | None = None,
    refused: Iterable[tuple[str, str]] | None = None,
) -> dict:
    """A placement's status with this decision in it: ``decisions``, ``observedGeneration``,
    ``shortfalls`` and condition ``Scheduled``; the rest (summary, Synced, Available) as ``wp`` holds it.

    ``result``: the ``placement.PlacementResult``, or None when the placement is invalid (``error``
    says why; the decisions it had are kept: an invalid policy moves nothing). ``Scheduled`` is True
    only when the spec is fully met (``PlacementResult.condition``).

    ``capacity``: per workload ("Kind/name") the pass divided, why its replicas do not fit (None: they
    fit). A pass may look at some sources only (``scope``: their (apiVersion, kind, name) keys; None:
    every source), so ``status.shortfalls`` keeps the entries of workloads outside the scope, and the
    condition counts them: it does not flap between passes over different sources.

    ``refused``: the kinds of its spec.resources the allow-list does not hold (condition
    ``KindsAllowed``; None: not known, the condition stays as it is).
    """
    current = wp.get("status") or {}
    conditions = current.get("conditions") or []
    shortfalls = _merged_shortfalls(current.get("shortfalls") or [], capacity, scope)
    if result is None:
        decisions = current.get("decisions") or []
        conditions = status.set_condition(conditions, "Scheduled", "False", "InvalidPlacement", error or "", now)
    else:
        decisions = result.to_status()
        lines = [f"{entry['workload']}: {entry['message']}" for entry in shortfalls]
        if len(lines) > 3:
            lines = [*lines[:3], f"and {len(lines) - 3} more workloads (status.shortfalls)"]
        state, reason, message = result.condition(lines)
        conditions = status.set_condition(conditions, "Scheduled", state, reason, message, now)
    if refused is not None:
        conditions = kinds_allowed_condition(conditions, list(refused), now)
    new = {
        **current,
        "observedGeneration": wp["metadata"].get("generation"),
        "decisions": decisions,
        "conditions": conditions,
    }
    if shortfalls or "shortfalls" in current:
        new["shortfalls"] = shortfalls
    return new


KINDS_ALLOWED = "KindsAllowed"


def kinds_allowed_condition(conditions: list, refused: list, now: dt.datetime) -> list:
    """Condition ``KindsAllowed``: False (reason KindsNotAllowed) naming the kinds of spec.resources the
    allow-list does not hold and what becomes of them; True once they are all allowed again. Placements
    that never listed a refused kind do not carry it."""
    if not refused:
        if status.get_condition(conditions, KINDS_ALLOWED) is None:
            return conditions
        return status.set_condition(conditions, KINDS_ALLOWED, "True", "AllKindsAllowed", "", now)
    names = ", ".join(render.kind_key(group, kind) for group, kind in refused)
    message = (
        f"spec.resources: {names} {'is' if len(refused) == 1 else 'are'} not (or no longer) allowed to tenants "
        f"by the platform admin (ConfigMap {api.SYSTEM_NAMESPACE}/{render.POLICY_CONFIGMAP}): not synced any "
        "more. What this placement "
        "placed of them stays on the clusters as it is (nothing is deleted); it is removed with this placement. "
        "Remove them from spec.resources, or ask the platform admin to allow them again."
    )
    return status.set_condition(conditions, KINDS_ALLOWED, "False", "KindsNotAllowed", message, now)


def _merged_shortfalls(
    current: Iterable[Mapping], capacity: Mapping[str, str | None] | None, scope: Iterable[tuple] | None
) -> list[dict]:
    if capacity is None:  # this writer divided nothing (the placement module): keep what is recorded
        return [dict(e) for e in current]
    if scope is None:
        kept = {}
    else:
        looked_at = {f"{kind}/{name}" for _api_version, kind, name in scope}
        kept = {e["workload"]: e["message"] for e in current if e.get("workload") not in looked_at}
    kept.update({workload: line for workload, line in capacity.items() if line})
    return [{"workload": w, "message": kept[w]} for w in sorted(kept)[:MAX_SHORTFALLS]]


def write_placement_status(hub: kube.Kube, wp: Mapping, new: Mapping, check_mode: bool = False) -> bool:
    """Write ``new`` as the status of placement ``wp`` when it differs from the status ``wp`` holds;
    True when it did (or would, in check mode). The one writer of a WorkloadPlacement's status."""
    return apply_status(hub, wp, wp.get("status") or {}, new, check_mode, manager=WP_STATUS_MANAGER)


def _write_placement_decisions(hub: kube.Kube, outcome, now: dt.datetime, check_mode: bool) -> bool:
    capacity = outcome.capacity if outcome.result is not None else None
    new = decision_status(
        outcome.placement, outcome.result, outcome.error, now, capacity, outcome.scope, outcome.refused
    )
    return write_placement_status(hub, outcome.placement, new, check_mode)


def apply_status(hub: kube.Kube, obj: Mapping, current: Mapping, new: Mapping, check_mode: bool, manager: str) -> bool:
    """Server-side apply ``new`` to the status subresource of ``obj`` as ``manager`` when it differs
    from ``current``; True when it did (or would, in check mode)."""
    if not status_differs(current, new):
        return False
    if not check_mode:
        meta = obj["metadata"]
        patch = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {"name": meta["name"], **({"namespace": meta["namespace"]} if meta.get("namespace") else {})},
            "status": dict(new),
        }
        hub.apply(patch, manager, subresource="status")
    return True


def release_finished(hub: kube.Kube, report: MemberReport, check_mode: bool = False) -> None:
    """Remove the syncer finalizer from SyncWorks whose downstream side is done."""
    if check_mode:
        return
    for work in report.finished:
        current = hub.get(api.API_VERSION, api.KIND_SYNCWORK, work["metadata"]["name"], work["metadata"]["namespace"])
        if current is None:
            continue
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != api.FINALIZER_SYNCER]
        hub.patch(
            api.API_VERSION,
            api.KIND_SYNCWORK,
            current["metadata"]["name"],
            {"metadata": {"finalizers": finalizers or None, "resourceVersion": current["metadata"]["resourceVersion"]}},
            namespace=current["metadata"]["namespace"],
        )


def write_work_statuses(
    hub: kube.Kube, works: Iterable[Mapping], report: MemberReport, check_mode: bool = False
) -> int:
    """Write the SyncWork statuses a member pass computed (in parallel, bounded); returns how many changed."""

    def write(work: dict) -> bool:
        new = report.statuses[object_key(work)]
        if apply_status(hub, work, work.get("status") or {}, new, check_mode, manager=SYNCER):
            work["status"] = new
            return True
        return False

    jobs = [
        (write, work)
        for work in works
        if object_key(work) in report.statuses
        and not work["metadata"].get("deletionTimestamp")
        and work["metadata"].get("uid") is not None  # check mode: the SyncWork does not exist yet
    ]
    return sum(run_all(jobs, HUB_WRITE_CONCURRENCY))
