# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``what-if --lose CLUSTER | --drain CLUSTER``: the decisions that would result, computed offline with
the same engine the controller runs, and nothing written.

Each placement is decided twice with ``placement.decide`` over the clusters' health of the moment
(``clusters.with_current_health``, as the controller and the placement module do): once as the hub is,
once as it would be —

- ``--lose X``: X's heartbeat older than the eviction timeout (what the controller sees when X is gone for
  good: ``Ready=Unknown`` and the ``unreachable`` taint with ``NoExecute``);
- ``--drain X``: X's registration as ``kubectl tmc drain X`` leaves it (``cordon.drained``).

Both start from each placement's current decisions (``Steady`` keeps what it can, as the controller
does). The workloads each placement governs are counted from its sources, so the answer says how many
move where.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.cli import cordon, fleet
from ansible_collections.tmc.multicluster.plugins.module_utils.cli.output import Result
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning


def lost_lease(name: str, now: dt.datetime, thresholds: health.Thresholds) -> dict:
    """A heartbeat Lease last renewed just past the eviction timeout before ``now``."""
    renewed = now - dt.timedelta(seconds=thresholds.eviction + 1)
    return {
        "metadata": {"name": api.heartbeat_lease_name(name), "namespace": api.SYSTEM_NAMESPACE},
        "spec": {"renewTime": renewed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    }


def hypothetical(
    registrations: list[dict], leases: Mapping[str, dict], lose: str | None, drain: str | None, now, thresholds
) -> tuple[list[dict], dict]:
    """The registrations and heartbeat Leases as they would be."""
    names = {r["metadata"]["name"] for r in registrations}
    for wanted in (lose, drain):
        if wanted is not None and wanted not in names:
            raise api.SpecError("cluster", f"no ClusterRegistration {wanted!r} on the hub")
    leases = dict(leases)
    if lose is not None:
        leases[lose] = lost_lease(lose, now, thresholds)
    if drain is not None:
        registrations = [cordon.drained(r) if r["metadata"]["name"] == drain else r for r in registrations]
    return registrations, leases


def _workloads(hub: kube.Kube, wp: Mapping) -> int:
    spec = wp.get("spec") or {}
    sources = planning.list_sources(hub, wp["metadata"]["namespace"], planning.resources_of(spec))
    return len(planning.selected_sources(spec, sources))


def what_if(
    hub: kube.Kube,
    lose: str | None,
    drain: str | None,
    namespace: str | None,
    thresholds: health.Thresholds,
    gates: api.FeatureGates,
    now: dt.datetime | None = None,
) -> Result:
    if (lose is None) == (drain is None):
        raise api.SpecError("what-if", "give exactly one of --lose CLUSTER or --drain CLUSTER")
    now = now or fleet.now_utc()
    registrations = hub.list(api.API_VERSION, api.KIND_CLUSTER)
    leases = clusters.heartbeat_leases(hub)
    changed_regs, changed_leases = hypothetical(registrations, leases, lose, drain, now, thresholds)
    rows = []
    for wp in fleet._placements(hub, namespace):  # noqa: SLF001 - one module's helper, same package
        now_result = fleet.decide_now(hub, wp, thresholds, gates, now, registrations, leases)
        then = fleet.decide_now(hub, wp, thresholds, gates, now, changed_regs, changed_leases)
        before, after = now_result.clusters, then.clusters
        rows.append(
            {
                "namespace": wp["metadata"]["namespace"],
                "placement": wp["metadata"]["name"],
                "workloads": _workloads(hub, wp),
                "before": before,
                "after": after,
                "removed": sorted(set(before) - set(after)),
                "added": sorted(set(after) - set(before)),
                "decisions": then.to_status(),
                "message": then.message,
                "changes": before != after,
            }
        )
    subject = f"losing {lose}" if lose else f"draining {drain}"
    moved = sum(r["workloads"] * len(r["removed"]) for r in rows)
    stranded = [r for r in rows if r["workloads"] and not r["after"]]
    data = {"scenario": {"lose": lose, "drain": drain}, "placements": rows, "copies_moved": moved}
    notes = [
        f"\n{subject}: {sum(r['changes'] for r in rows)} of {len(rows)} placements change, {moved} workload copies move"
    ]
    notes += [f"  {r['namespace']}/{r['placement']}: NO cluster left ({r['message']})" for r in stranded]
    columns = [
        ("namespace", lambda r: r["namespace"]),
        ("placement", lambda r: r["placement"]),
        ("workloads", lambda r: r["workloads"]),
        ("now", lambda r: r["before"]),
        ("then", lambda r: r["after"]),
        ("moves", lambda r: ", ".join(f"-{c}" for c in r["removed"]) + " " + ", ".join(f"+{c}" for c in r["added"])),
    ]
    return Result(data, columns, rows, notes)
