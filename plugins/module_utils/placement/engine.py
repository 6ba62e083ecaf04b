# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``decide``: one placement over a list of clusters, from scratch.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.division import (
    _decisions,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.explain import (
    PlacementResult,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _Call,
    _effective_namespace_labels,
    _filter,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    Resources,
    Snapshot,
    _int,
    _sequence,
    cluster_views,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.quantity import (
    to_epoch,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.scoring import (
    _score_vector,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    CompiledPlacement,
    compile_placement,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spread import (
    _select,
)


def previous_clusters(previous: object) -> frozenset[str]:
    """Cluster names from ``previous``: names, decision dicts, a status dict or a result."""
    if previous is None:
        return frozenset()
    if isinstance(previous, PlacementResult):
        return previous.cluster_set
    if isinstance(previous, Mapping):
        previous = previous.get("decisions") or ()
    items = previous if isinstance(previous, (set, frozenset)) else _sequence(previous, "previous")
    names = set()
    for item in items:
        name = item.get("cluster") if isinstance(item, Mapping) else item
        if not isinstance(name, str) or not name:
            raise api.SpecError("previous", f"expected cluster names or decisions, got {item!r}")
        names.add(name)
    return frozenset(names)


# --------------------------------------------------------------------------
# Deciding


@dataclass
class _State:
    """What the index keeps of a decision to patch it when one cluster changes."""

    mode: str  # "all" (every eligible cluster selected), "top" (numberOfClusters), "spread"
    previous: frozenset[str]
    namespace_labels: Mapping[str, str]
    now: float | None
    time_sensitive: bool
    replicas: int | None
    request: Resources | None
    eligible: set[str]
    bounds: list
    sel_keys: dict[str, tuple] | None  # top: selected name -> rank key
    best_out: tuple | None  # top: rank key of the best eligible cluster left out
    watermark: tuple | None  # spread: rank key of the last cluster the search took
    patchable: bool  # spread: whether a change ranked after the watermark provably changes nothing
    cell_sizes: dict[tuple, int] | None  # spread: eligible clusters per cell (groups under every constraint)
    predicate_steps: int  # what the predicates cost in this decision (cel_cost): a patch keeps it in budget
    spread_selected: frozenset[str]
    result: PlacementResult
    dirty: set[str] = field(default_factory=set)  # names whose decision may differ from result's


def _evaluate(
    call: _Call,
    candidates: Iterable[str],
    classes: Mapping[tuple, set[str]] | None,
    replicas: int | None,
    request: Resources | None,
) -> tuple[PlacementResult, _State | None]:
    """Filters, scores, selection and decisions over the label/location candidates."""
    eligible, _notes, sensitive, steps = _filter(call, candidates, classes)
    if not eligible:
        return PlacementResult.of(call, [], 0, None, None, request), None
    totals, bounds = _score_vector(call, eligible)
    scores = dict(zip(eligible, totals, strict=True))
    selection = _select(call, eligible, scores)
    decisions, division = _decisions(call, selection.selected, replicas, request)
    result = PlacementResult.of(call, decisions, len(eligible), selection.unsatisfied, division, request)
    result.cluster_set = frozenset(selection.selected)
    result.search_note = selection.note
    if selection.unsatisfied:
        return result, None
    mode = "spread" if call.placement.spread else "all" if selection.sel_keys is None else "top"
    state = _State(
        mode=mode,
        previous=call.previous,
        namespace_labels=call.namespace_labels,
        now=call.now,
        time_sensitive=sensitive,
        replicas=replicas,
        request=request,
        eligible=set(eligible),
        bounds=bounds,
        sel_keys=selection.sel_keys,
        best_out=selection.best_out,
        watermark=selection.watermark,
        patchable=selection.patchable,
        cell_sizes=selection.cell_sizes,
        predicate_steps=steps,
        spread_selected=frozenset(selection.selected) if call.placement.spread else frozenset(),
        result=result,
    )
    return result, state


def _request(per_replica_request: object) -> Resources | None:
    if per_replica_request is None or isinstance(per_replica_request, Resources):
        return per_replica_request
    return Resources.parse(per_replica_request, "per_replica_request")


def _replicas(replicas: object) -> int | None:
    if replicas is None:
        return None
    return _int(replicas, "replicas", minimum=0)


def decide(
    placement: object,
    clusters: Iterable[object],
    previous: object = None,
    namespace_labels: Mapping | None = None,
    *,
    gates: api.FeatureGates | None = None,
    now: object = None,
    replicas: int | None = None,
    per_replica_request: Mapping | None = None,
) -> PlacementResult:
    """Decide where one placement goes.

    ``placement``: a WorkloadPlacement object or spec (or a CompiledPlacement).
    ``clusters``: ClusterRegistration objects, simple-form dicts or ClusterViews.
    ``previous``: the previous decisions (names, decision dicts, a status with
    ``decisions``, or a PlacementResult) -- for ``Steady`` and for keeping
    clusters that only became NoSchedule-tainted or cordoned.
    ``namespace_labels``: labels of the placement's namespace, for the
    clusters' ``namespaceSelector``.
    ``now``: the current time (datetime, RFC 3339 string or epoch seconds), for
    NoExecute ``tolerationSeconds``. ``replicas``: when given, each decision
    also carries its replica count (Divided: split by weight). ``per_replica_request``:
    ``{cpu, memory}`` of one replica, for ``dynamic: AvailableCapacity`` and
    to cap each cluster's share.
    """
    compiled = compile_placement(placement, gates)
    snapshot = Snapshot(cluster_views(clusters))
    call = _Call(
        compiled,
        snapshot,
        _effective_namespace_labels(compiled.namespace, namespace_labels),
        previous_clusters(previous),
        to_epoch(now),
    )
    replicas, request = _replicas(replicas), _request(per_replica_request)
    if compiled.affinities:
        result, _state = by_affinity(call, _matching(snapshot), None, replicas, request)
        return result
    result, _state = _evaluate(call, _matching(snapshot)(compiled), None, replicas, request)
    return result


def _matching(snapshot: Snapshot):
    def candidates(placement: CompiledPlacement) -> list[str]:
        return [name for name, view in snapshot.views.items() if placement.matches(view)]

    return candidates


def by_affinity(
    call: _Call,
    candidates_for,
    classes: Mapping[tuple, set[str]] | None,
    replicas: int | None,
    request: Resources | None,
) -> tuple[PlacementResult, _State | None]:
    """``clusterAffinities``: the terms in order; the first whose decision fully meets the spec wins.

    When none does, the first term that chooses any cluster is used (its condition says what is
    short), else the last term's empty answer. The result's notes name the term used and why each
    earlier one failed. No incremental state: every change decides again, term by term.
    """
    failed: list[str] = []
    fallback = None
    result = None
    for term in call.placement.affinities:
        variant = dataclasses.replace(call, placement=call.placement.for_term(term))
        result, _state = _evaluate(variant, candidates_for(variant.placement), classes, replicas, request)
        state, _reason, message = result.condition()
        if state == "True":
            result.affinity_notes = [*failed, f"clusterAffinities: {term.where} is used"]
            return result, None
        failed.append(f"clusterAffinities: {term.where} cannot meet the spec: {message}")
        if fallback is None and result.decisions:
            fallback = result
    chosen = fallback or result
    term = chosen.call.placement.term
    chosen.affinity_notes = [*failed, f"clusterAffinities: no term meets the spec; {term.where} is used"]
    return chosen, None
