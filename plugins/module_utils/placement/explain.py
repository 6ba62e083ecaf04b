# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Results, and why each cluster is in or out (re-derived on first access).

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils.placement.division import (
    Division,
    _weight_note,
    divide_for,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _admission_reasons,
    _Call,
    _filter,
    _match_reasons,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    DIVIDED,
    Resources,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.scoring import (
    _metric_value,
    _score_vector,
    rank_key,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spread import (
    _select,
    _why_not_spread,
)


def _fmt_number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


# --------------------------------------------------------------------------
# Results


@dataclass(eq=False, repr=False)
class PlacementResult:
    """The decisions for one placement; explanations are computed on first access.

    ``placement``: the placement's key (``namespace/name``).
    ``decisions``: ``[{cluster, weight, replicas?, reason}]`` sorted by cluster
    (treat as read-only: results of an index may share decision dicts; use
    :meth:`to_status` for copies). ``explanations``: ``{cluster: {"selected":
    bool, "reasons": [str]}}`` for every cluster given, sorted by name.
    ``message``: one line for a ``Scheduled`` condition. Two results are equal
    when their placement and decisions are.
    """

    placement: str
    decisions: list[dict[str, Any]]
    eligible_count: int = 0
    unsatisfied: str | None = None
    call: _Call | None = field(default=None, repr=False)
    division: Division | None = field(default=None, repr=False)  # with decide(replicas=...)
    request: Resources | None = field(default=None, repr=False)  # decide(per_replica_request=...)
    search_note: str | None = field(default=None, repr=False)  # the spread search was cut short
    affinity_notes: list[str] = field(default_factory=list, repr=False)  # clusterAffinities: which term, why

    @classmethod
    def of(
        cls,
        call: _Call,
        decisions: list[dict[str, Any]],
        eligible_count: int,
        unsatisfied: str | None = None,
        division: Division | None = None,
        request: Resources | None = None,
    ):
        return cls(call.placement.key, decisions, eligible_count, unsatisfied, call, division, request)

    def __repr__(self) -> str:
        return f"PlacementResult({self.placement!r}, clusters={self.clusters!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlacementResult):
            return NotImplemented
        return self.placement == other.placement and self.decisions == other.decisions

    __hash__ = None  # type: ignore[assignment]

    @property
    def clusters(self) -> list[str]:
        return [d["cluster"] for d in self.decisions]

    @cached_property
    def cluster_set(self) -> frozenset[str]:
        return frozenset(d["cluster"] for d in self.decisions)

    @property
    def scheduled(self) -> bool:
        return bool(self.decisions)

    @property
    def message(self) -> str:
        """One line: what was chosen, and every way the spec is not fully met, with numbers."""
        return self.condition()[2]

    @property
    def cluster_shortfall(self) -> str | None:
        """Fewer clusters chosen than ``numberOfClusters`` asks for: why, with numbers; else None."""
        wanted = self.call.placement.number_of_clusters
        chosen = len(self.decisions)
        if wanted is None or chosen >= wanted or not chosen:
            return None
        total = len(self.call.views)
        if self.eligible_count < wanted:
            why = f"only {self.eligible_count} of {total} clusters are eligible"
        else:
            why = f"the spread constraints allow {chosen} of the {self.eligible_count} eligible clusters"
        return f"{chosen} of numberOfClusters={wanted} clusters chosen: {why}"

    def condition(self, capacity: Sequence[str] = ()) -> tuple[str, str, str]:
        """The ``Scheduled`` condition as ``(status, reason, message)``.

        ``True``/``Scheduled`` only when the spec is fully met. Otherwise ``False`` with
        ``NoCluster`` (nothing eligible), ``Unsatisfiable`` (the spread constraints cannot be met:
        nothing chosen), ``InsufficientClusters`` (fewer than ``numberOfClusters``; the chosen
        ones run the workloads) or ``InsufficientCapacity`` (replicas beyond what the chosen
        clusters report room for, placed anyway). ``capacity``: lines about workloads whose
        replicas do not fit (the reconcile layer's, one per workload), added to this result's own.
        """
        total = len(self.call.views)
        if self.unsatisfied:
            return "False", "Unsatisfiable", self.unsatisfied
        if not self.decisions:
            return "False", "NoCluster", f"no eligible cluster among {total}"
        head = f"{len(self.decisions)} of {self.eligible_count} eligible clusters selected ({total} clusters)"
        notes = list(self.notes)
        capacity = list(capacity)
        if self.division is not None and self.division.shortfall:
            capacity.insert(0, self.division.shortfall)
        clusters = self.cluster_shortfall
        parts = [head] + ([clusters] if clusters else []) + [f"capacity: {c}" for c in capacity] + notes
        message = "; ".join(parts)
        if clusters:
            return "False", "InsufficientClusters", message
        if capacity:
            return "False", "InsufficientCapacity", message
        return "True", "Scheduled", message

    @property
    def notes(self) -> list[str]:
        """What a user should know about how the decision was made (unknown capacity, a search cut short)."""
        out = []
        placement, views = self.call.placement, self.call.views
        weight_note = _weight_note(placement, views, self.clusters, self.request) if self.decisions else None
        if weight_note:
            out.append(weight_note)
        if self.search_note:
            out.append(self.search_note)
        return out + self.affinity_notes

    def division_for(self, total: int, per_replica_request: Mapping | Resources | None = None) -> Division:
        """One workload's ``total`` replicas over these decisions, with where they do not fit."""
        request = per_replica_request
        if request is not None and not isinstance(request, Resources):
            request = Resources.parse(request, "per_replica_request")
        return divide_for(self.call.placement, self.call.views, self.clusters, total, request)

    def to_status(self) -> list[dict[str, Any]]:
        """The ``status.decisions`` list of the API contract: ``{cluster, weight, replicas?, reason}``."""
        keys = ("cluster", "weight", "replicas", "reason")
        return [{k: d[k] for k in keys if k in d} for d in self.decisions]

    def replicas_for(self, total: int, per_replica_request: Mapping | None = None) -> dict[str, int]:
        """Split one workload's ``total`` replicas over these decisions (see :func:`divide_replicas`).

        Duplicated placements run ``total`` on every cluster.
        """
        return self.division_for(total, per_replica_request).shares

    @cached_property
    def explanations(self) -> dict[str, dict[str, Any]]:
        return _Explainer(self).explain_all()


class _Explainer:
    """Re-derives every step (deterministically) to say why each cluster is in or out."""

    def __init__(self, result: PlacementResult):
        self.result = result
        call = self.call = result.call
        placement = call.placement
        candidates = [n for n, v in call.views.items() if placement.matches(v)]
        self.eligible, self.notes, _time_sensitive, _steps = _filter(call, candidates, None)
        totals, self.bounds = _score_vector(call, self.eligible) if self.eligible else ([], [])
        self.scores = dict(zip(self.eligible, totals, strict=True))
        self.selection = _select(call, self.eligible, self.scores, detail=True) if self.eligible else None
        self.selected = {d["cluster"]: d for d in result.decisions}

    @cached_property
    def rank(self) -> dict[str, int]:
        placement, previous = self.call.placement, self.call.previous
        ranked = sorted(self.eligible, key=lambda n: rank_key(placement.steady, previous, n, self.scores[n]))
        return {n: i + 1 for i, n in enumerate(ranked)}

    def explain_all(self) -> dict[str, dict[str, Any]]:
        return {name: self.explain(name) for name in sorted(self.call.views)}

    def explain(self, name: str) -> dict[str, Any]:
        if name in self.selected:
            return {"selected": True, "reasons": self.selected_reasons(name)}
        return {"selected": False, "reasons": self.rejected_reasons(name)}

    def score_line(self, name: str) -> str:
        view = self.call.views[name]
        parts = [
            f"{m.label} {_fmt_number(m.weight)}x{_fmt_number(_metric_value(m, b, self.call.previous, view))}"
            for m, b in zip(self.call.placement.metrics, self.bounds, strict=True)
        ]
        total = _fmt_number(self.scores[name])
        return f"score {total} ({' + '.join(parts)}), rank {self.rank[name]} of {len(self.rank)}"

    def selected_reasons(self, name: str) -> list[str]:
        placement, view = self.call.placement, self.call.views[name]
        reasons = []
        if placement.selector is not None and placement.selector.requirements:
            reasons.append(f"matches clusterSelector ({placement.selector.describe()})")
        if placement.locations is not None:
            reasons.append(f"location {view.location} is in locations")
        if view.namespace_selector is not None:
            reasons.append("namespace allowed by the cluster's namespaceSelector")
        if view.unschedulable:
            kept = name in self.call.previous and not placement.tolerates_cordon
            reasons.append("cordoned, but kept: it was already selected" if kept else "cordon tolerated")
        for taint in view.taints:
            if any(t.tolerates(taint) for t in placement.tolerations):
                reasons.append(f"taint tolerated: {taint}")
            else:
                reasons.append(f"taint {taint} does not evict: the cluster was already selected")
        if placement.predicates:
            reasons.append(f"all {len(placement.predicates)} predicate(s) true")
        if name in self.scores:
            reasons.append(self.score_line(name))
        groups = self.selection.groups.get(name) if self.selection else None
        if groups:
            reasons.append(
                "spread: " + ", ".join(f"{c.topology_key}={g}" for c, g in zip(placement.spread, groups, strict=True))
            )
        decision = self.selected[name]
        if placement.replica_type == DIVIDED:
            line = f"Divided: weight {decision['weight']}"
            if "replicas" in decision:
                line += f", replicas {decision['replicas']}"
            reasons.append(line)
        return reasons

    def rejected_reasons(self, name: str) -> list[str]:
        view = self.call.views[name]
        reasons = _match_reasons(view, self.call.placement) + _admission_reasons(view, self.call)
        if reasons:
            return reasons
        if name in self.notes:
            return [self.notes[name]]
        if name not in self.scores:  # pragma: no cover - every path above records a reason
            return ["not selected"]
        return [self.unselected_eligible_reason(name)]

    def unselected_eligible_reason(self, name: str) -> str:
        selection = self.selection
        placement = self.call.placement
        if name in selection.excluded:
            return selection.excluded[name]
        if selection.unsatisfied:
            return selection.unsatisfied
        if placement.spread:
            why = _why_not_spread(self.call, selection, name)
            if why:
                return why
            if placement.number_of_clusters is None or len(selection.selected) < placement.number_of_clusters:
                return f"spread limit: no valid choice of more clusters includes it; {self.score_line(name)}"
        return f"cut by numberOfClusters={placement.number_of_clusters}: {self.score_line(name)}"
