# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incremental form for the controller: clusters indexed once, decisions patched when provably equal.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, cel_cost, prioritizers
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.division import (
    _decision_reason,
    _decision_weight,
    _decisions,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.engine import (
    _evaluate,
    _replicas,
    _request,
    _State,
    by_affinity,
    previous_clusters,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.explain import (
    PlacementResult,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _Call,
    _effective_namespace_labels,
    _eligible_one,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    _COLUMN_GETTERS,
    ClusterView,
    Resources,
    Snapshot,
    cluster_view,
    cluster_views,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.quantity import (
    to_epoch,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.scoring import (
    _score_one,
    rank_key,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    CompiledPlacement,
    compile_placement,
    placement_key,
)

# --------------------------------------------------------------------------
# The incremental form


def _patched_bounds(metrics, bounds: list, removed: ClusterView | None, added: ClusterView | None) -> list | None:
    """Bounds after one cluster left and/or joined; None when a bound itself would move."""
    out = []
    for metric, bound in zip(metrics, bounds, strict=True):
        if bound is None:
            out.append(None)
            continue
        low, high, n_low, n_high = bound
        getter = _COLUMN_GETTERS[metric.column]
        if removed is not None:
            value = getter(removed)
            n_low -= value == low
            n_high -= value == high
        if added is not None:
            value = getter(added)
            if value < low or value > high:
                return None
            n_low += value == low
            n_high += value == high
        if n_low <= 0 or n_high <= 0:
            return None
        out.append((low, high, n_low, n_high))
    return out


def _patch_top(state: _State, name: str, was: bool, old_key: tuple | None, new_key: tuple | None, dirty: set) -> bool:
    # best_out only ever needs to be a lower bound of the best key left out: when the runner-up
    # leaves, the stale bound makes later patches more cautious, never wrong.
    sel, best_out = state.sel_keys, state.best_out
    if was and name in sel:
        if new_key is None or new_key > best_out:
            return False  # who replaces it is only known to a full decide
        sel[name] = new_key
        return True
    if new_key is None:
        return True
    worst = max(sel.values())
    if new_key < worst:
        del sel[worst[-1]]
        dirty.add(worst[-1])
        sel[name] = new_key
        state.best_out = min(best_out, worst)
    else:
        state.best_out = min(best_out, new_key)
    return True


def _groups_of(placement: CompiledPlacement, view: ClusterView) -> tuple:
    return tuple(view.topology_value(c.topology_key) for c in placement.spread)


def _patch_spread(
    state: _State, placement: CompiledPlacement, removed, added, old_key: tuple | None, new_key: tuple | None
) -> bool:
    """True when the exact spread search would return the same choice.

    The search (``spread_search``) walks the clusters in rank order up to the last one it takes (the
    watermark). When it reached as many clusters as asked for, kept as many as there are, and never
    had to close a cell, no cluster ranked after the watermark took part in any answer: removing one
    cannot make the choice invalid (the choice is its own witness), adding one cannot turn any answer
    (every one was yes) and cannot raise the size or the kept count. A change in a cell that appears
    or empties changes the groups, hence the skew rule: that needs a full decide, like any change at
    or before the watermark.
    """
    if not state.patchable:
        return False
    sizes = state.cell_sizes
    changes = []
    for view, key, delta in ((removed, old_key, -1), (added, new_key, 1)):
        if view is None:
            continue
        groups = _groups_of(placement, view)
        if None in groups:
            continue  # clusters without a topology value take no part in spreading
        if groups not in sizes or key <= state.watermark or (delta < 0 and sizes[groups] <= 1):
            return False
        changes.append((groups, delta))
    for groups, delta in changes:
        sizes[groups] += delta
    return True


def _patch(state: _State, before: _Call, after: _Call, old, new, dirty: set) -> bool:
    """Apply one cluster change (``old`` under ``before`` -> ``new`` under ``after``) to a state.

    False when only a full decide can tell what happens; the state is then
    unusable. Otherwise the state equals what a full decide would keep.
    """
    name = (new or old).name
    was = name in state.eligible
    now_ok, timed, new_steps = _eligible_one(new, after)
    if timed and not state.time_sensitive:
        state.time_sensitive, state.now = True, after.now
    if after.placement.predicates:  # the predicates' budget is over every cluster they run on
        old_steps = _eligible_one(old, before)[2]
        state.predicate_steps += new_steps - old_steps
        if state.predicate_steps > cel_cost.PLACEMENT_STEPS:
            return False  # a full decide says so, explained
    if not was and not now_ok:
        return True
    if state.mode == "all":  # every eligible cluster is selected: scores do not matter
        number = after.placement.number_of_clusters
        if now_ok and not was and number is not None and len(state.eligible) >= number:
            return False  # one more would make it a top-N choice
    else:
        metrics = after.placement.metrics
        bounds = _patched_bounds(metrics, state.bounds, old if was else None, new if now_ok else None)
        if bounds is None:
            return False
        steady = after.placement.steady
        old_key = rank_key(steady, before.previous, name, _score_one(before, bounds, old)) if was else None
        new_key = rank_key(steady, after.previous, name, _score_one(after, bounds, new)) if now_ok else None
        if state.mode == "top":
            ok = _patch_top(state, name, was, old_key, new_key, dirty)
        else:
            removed, added = (old if was else None), (new if now_ok else None)
            ok = _patch_spread(state, after.placement, removed, added, old_key, new_key)
        if not ok:
            return False
        state.bounds = bounds
    if now_ok:
        state.eligible.add(name)
    else:
        state.eligible.discard(name)
    dirty.add(name)
    return True


def _selected(state: _State) -> Any:
    """The selected names of a state, as something supporting ``in``."""
    if state.mode == "all":
        return state.eligible
    return state.sel_keys if state.mode == "top" else state.spread_selected


def _patched_decisions(state: _State, call: _Call, dirty: set[str]) -> tuple[list[dict[str, Any]], Any]:
    """The decisions after the patch, and their division when replicas are asked for."""
    selected = _selected(state)
    if state.replicas is not None or call.placement.dynamic:
        # Replica counts, room and the dynamic weights' note depend on the whole selection.
        return _decisions(call, selected, state.replicas, state.request)
    decisions = list(state.result.decisions)
    by_name = operator.itemgetter("cluster")
    reason = _decision_reason(call.placement)
    for name in sorted(dirty):
        i = bisect.bisect_left(decisions, name, key=by_name)
        if i < len(decisions) and decisions[i]["cluster"] == name:
            del decisions[i]
        if name in selected:
            entry: dict[str, Any] = {
                "cluster": name,
                "weight": _decision_weight(call.placement, call.views[name], state.request),
            }
            entry["reason"] = reason
            decisions.insert(i, entry)
    return decisions, None


def _replay(state: _State, pending: list, call: _Call) -> bool:
    """Bring a state up to ``call``: the pending cluster changes, then a change of ``previous``."""
    state.dirty = set()
    same = state.previous is call.previous or state.previous == call.previous
    before = call if same else dataclasses.replace(call, previous=state.previous)
    for old, new in pending:
        if not _patch(state, before, before, old, new, state.dirty):
            return False
    if not same:
        for name in sorted(state.previous ^ call.previous):
            view = call.views.get(name)
            if view is not None and not _patch(state, before, call, view, view, state.dirty):
                return False
        state.previous = call.previous
    return True


@dataclass(frozen=True)
class _Change:
    label_keys: frozenset[str]
    location: bool
    admission: bool
    resources: bool
    workloads: bool


def _diff(old: ClusterView, new: ClusterView) -> _Change:
    keys = {k for k in old.labels.keys() | new.labels.keys() if old.labels.get(k) != new.labels.get(k)}
    return _Change(
        label_keys=frozenset(keys),
        location=old.location != new.location,
        admission=old.admission_key != new.admission_key,
        resources=old.allocatable != new.allocatable or old.capacity != new.capacity,
        workloads=old.workloads != new.workloads,
    )


_MAX_PENDING = 64


def _view_anchors(view: ClusterView) -> list[tuple]:
    anchors = [("location", view.location)]
    for key, value in view.labels.items():
        anchors.append(("label", key, value))
        anchors.append(("key", key))
    return anchors


@dataclass
class _Entry:
    compiled: CompiledPlacement
    namespace_labels: dict[str, str]
    anchors: tuple = ()  # index keys a matching cluster must have (see PlacementIndex._choose_anchors)
    state: _State | None = None
    pending: list[tuple[ClusterView | None, ClusterView | None]] = field(default_factory=list)

    def affected_by(self, old: ClusterView | None, new: ClusterView | None, change: _Change | None) -> bool:
        """Can a change of one cluster from ``old`` to ``new`` alter this placement's decisions?

        Only clusters matching clusterSelector and locations take part in a
        decision (filters, normalisation, spread groups), so a cluster that
        matches neither before nor after cannot; one that matches both only
        through the features this placement uses.
        """
        compiled = self.compiled
        if compiled.affinities and (change is None or compiled.match_depends_on(change)):
            return True  # which term a cluster belongs to may change: decide again
        was = old is not None and compiled.matches(old)
        if change is not None and not compiled.match_depends_on(change):
            now = was
        else:
            now = new is not None and compiled.matches(new)
        if was != now:
            return True
        if not was or change is None:
            return False
        if change.admission or compiled.predicates:
            return True
        if change.label_keys & compiled.spread_label_keys or (change.location and compiled.spread_on_location):
            return True
        if prioritizers.rescored_by(compiled.prioritizer_names, change):
            return True
        return bool(change.resources) and compiled.dynamic is not None  # dynamic weights: free pod slots

    def note(self, old: ClusterView | None, new: ClusterView | None) -> None:
        if self.state is None:
            return
        self.pending.append((old, new))
        if len(self.pending) > _MAX_PENDING:
            self.state, self.pending = None, []


class PlacementIndex:
    """Clusters and placements for the controller, kept up to date one change at a time.

    Clusters are parsed once into views and indexed by label (key -> value ->
    names), label key and location, so :meth:`decide` finds the clusters
    matching a placement's clusterSelector and locations by set algebra; only
    those get per-cluster checks, and CEL runs only on clusters that pass every
    other filter (results are memoised per cluster view and expression).

    :meth:`update_cluster` and :meth:`remove_cluster` return the keys of the
    placements whose decisions the change can alter (found through the same
    indexes: a placement is anchored on its most selective positive
    requirement). For each placement the index also keeps what it needs to
    patch the last decision when clusters or ``previous`` change -- the
    eligible set, the normalisation bounds, the top-N boundary, and for
    spread the point up to which each group was examined -- and falls back to
    a full decide whenever a patch cannot be proven equal to one (a bound or
    the top-N boundary moves, a spread group's examined members change, or
    ``now`` (when it matters), replicas or namespace labels differ).

    Not thread-safe (CEL contexts and memoised results live on the views).
    """

    def __init__(
        self,
        clusters: Iterable[object] = (),
        placements: Iterable[object] = (),
        *,
        gates: api.FeatureGates | None = None,
        cache: cel.ProgramCache | None = None,
    ):
        self.gates = gates or api.FeatureGates.from_overrides()
        self.cache = cel.ProgramCache() if cache is None else cache
        self._by_label: dict[str, dict[str, set[str]]] = {}
        self._has_key: dict[str, set[str]] = {}
        self._by_location: dict[str, set[str]] = {}
        self._classes: dict[tuple, set[str]] = {}  # admission_key -> names
        self._entries: dict[str, _Entry] = {}
        self._anchored: dict[tuple, set[str]] = {}
        self._unanchored: set[str] = set()
        views = cluster_views(clusters)
        for view in views.values():
            self._index(view)
        self._snapshot = Snapshot(views)
        for placement in placements:
            self.set_placement(placement)

    # ---- clusters

    @property
    def clusters(self) -> Mapping[str, ClusterView]:
        """The current views by name (a snapshot: later changes make a new mapping)."""
        return self._snapshot.views

    def _index(self, view: ClusterView) -> None:
        name = view.name
        for key, value in view.labels.items():
            self._by_label.setdefault(key, {}).setdefault(value, set()).add(name)
            self._has_key.setdefault(key, set()).add(name)
        self._by_location.setdefault(view.location, set()).add(name)
        self._classes.setdefault(view.admission_key, set()).add(name)

    def _unindex(self, view: ClusterView) -> None:
        name = view.name
        for key, value in view.labels.items():
            values = self._by_label[key]
            values[value].discard(name)
            if not values[value]:
                del values[value]
            self._has_key[key].discard(name)
            if not self._has_key[key]:
                del self._has_key[key]
                del self._by_label[key]
        self._by_location[view.location].discard(name)
        if not self._by_location[view.location]:
            del self._by_location[view.location]
        members = self._classes[view.admission_key]
        members.discard(name)
        if not members:
            del self._classes[view.admission_key]

    def update_cluster(self, cluster: object) -> frozenset[str]:
        """Add or replace a cluster; the keys of the placements whose decisions it can change."""
        new = cluster_view(cluster)
        old = self._snapshot.views.get(new.name)
        if old == new:
            return frozenset()
        if old is not None:
            self._unindex(old)
        self._index(new)
        self._snapshot = self._snapshot.replaced(new)
        return self._affected(old, new)

    def remove_cluster(self, name: str) -> frozenset[str]:
        """Forget a cluster; the keys of the placements it was a candidate of."""
        old = self._snapshot.views.get(name)
        if old is None:
            return frozenset()
        self._unindex(old)
        self._snapshot = self._snapshot.removed(name)
        return self._affected(old, None)

    def affected(self, old: ClusterView | None, new: ClusterView | None) -> frozenset[str]:
        """Placements whose decisions a change of one cluster from ``old`` to ``new`` can alter."""
        change = _diff(old, new) if old is not None and new is not None else None
        keys = set(self._unanchored)
        for view in (old, new):
            if view is None:
                continue
            for anchor in _view_anchors(view):
                found = self._anchored.get(anchor)
                if found:
                    keys |= found
        entries = self._entries
        return frozenset(key for key in keys if entries[key].affected_by(old, new, change))

    def _anchor_size(self, anchor: tuple) -> int:
        if anchor[0] == "label":
            return len(self._by_label.get(anchor[1], {}).get(anchor[2], ()))
        if anchor[0] == "key":
            return len(self._has_key.get(anchor[1], ()))
        return len(self._by_location.get(anchor[1], ()))

    def _choose_anchors(self, compiled: CompiledPlacement) -> tuple:
        """The most selective positive requirement (or the locations): every matching cluster has one of its keys.

        () = no positive requirement: the placement is checked on every change.
        """
        options = []
        for req in compiled.selector.requirements if compiled.selector else ():
            if req.operator == "In":
                options.append(tuple(("label", req.key, v) for v in sorted(req.values)))
            elif req.operator == "Exists":
                options.append((("key", req.key),))
        if compiled.locations is not None:
            options.append(tuple(("location", loc) for loc in sorted(compiled.locations)))
        if not options:
            return ()
        if any(not option for option in options):
            return (("never",),)  # empty locations: nothing can match
        return min(options, key=lambda option: (sum(self._anchor_size(a) for a in option), option))

    def _attach(self, key: str, entry: _Entry) -> None:
        self._detach(key)
        self._entries[key] = entry
        entry.anchors = self._choose_anchors(entry.compiled)
        if not entry.anchors:
            self._unanchored.add(key)
        for anchor in entry.anchors:
            self._anchored.setdefault(anchor, set()).add(key)

    def _detach(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._unanchored.discard(key)
        for anchor in entry.anchors:
            keys = self._anchored.get(anchor)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._anchored[anchor]

    def _affected(self, old: ClusterView | None, new: ClusterView | None) -> frozenset[str]:
        keys = self.affected(old, new)
        for key in keys:
            self._entries[key].note(old, new)
        return keys

    # ---- placements

    @property
    def placements(self) -> tuple[str, ...]:
        return tuple(sorted(self._entries))

    def set_placement(
        self, placement: object, namespace_labels: Mapping | None = None, *, key: str | None = None
    ) -> str:
        """Add or replace a placement (compiled once per generation); returns its key."""
        key = placement_key(placement) if key is None else key
        if not key:
            raise api.SpecError("metadata.name", "a placement in an index needs a name (or pass key=)")
        compiled = compile_placement(placement, self.gates, key=key, cache=self.cache)
        labels = _effective_namespace_labels(compiled.namespace, namespace_labels)
        entry = self._entries.get(key)
        if entry is None or entry.compiled != compiled or entry.namespace_labels != labels:
            self._attach(key, _Entry(compiled, labels))
        return key

    def remove_placement(self, key: str) -> None:
        self._detach(key)

    def update_namespace(self, namespace: str, labels: Mapping | None) -> frozenset[str]:
        """New labels for a namespace: the placements in it (their namespaceSelector checks change)."""
        keys = []
        for key, entry in self._entries.items():
            if entry.compiled.namespace == namespace:
                entry.namespace_labels = _effective_namespace_labels(namespace, labels)
                entry.state, entry.pending = None, []
                keys.append(key)
        return frozenset(keys)

    def compiled(self, key: str) -> CompiledPlacement:
        return self._entries[key].compiled

    def candidates(self, placement: CompiledPlacement) -> set[str]:
        """Names matching clusterSelector and locations, by set algebra over the indexes (a new set)."""
        positives: list[list[set[str]]] = []  # each: a union of parts that must hold
        negatives: list[set[str]] = []
        empty: set[str] = set()
        for req in placement.selector.requirements if placement.selector else ():
            if req.operator in ("In", "NotIn"):
                values = self._by_label.get(req.key, {})
                parts = [values[v] for v in req.values if v in values]
                if req.operator == "In":
                    positives.append(parts)
                else:
                    negatives += parts
            elif req.operator == "Exists":
                positives.append([self._has_key.get(req.key, empty)])
            else:
                negatives.append(self._has_key.get(req.key, empty))
        if placement.locations is not None:
            positives.append([self._by_location[loc] for loc in placement.locations if loc in self._by_location])
        if not positives:
            result = set(self._snapshot.views)
        else:
            positives.sort(key=lambda parts: sum(map(len, parts)))
            result = set().union(*positives[0])
            for parts in positives[1:]:  # intersect the small result with each part: never build a big union
                if not result:
                    break
                result = result.intersection(parts[0]) if len(parts) == 1 else set().union(*(result & p for p in parts))
        for negative in negatives:
            result = result - negative  # CPython picks the cheaper side to iterate
        return result

    def decide(
        self,
        placement: object,
        previous: object = None,
        *,
        namespace_labels: Mapping | None = None,
        now: object = None,
        replicas: int | None = None,
        per_replica_request: Mapping | None = None,
    ) -> PlacementResult:
        """Decide a placement given by key (or as an object, which is added to the index first).

        Equal to :func:`decide` over the index's clusters with the same arguments.
        """
        if isinstance(placement, str):
            if placement not in self._entries:
                raise KeyError(f"no placement {placement!r} in the index")
            entry = self._entries[placement]
        else:
            entry = self._entries[self.set_placement(placement, namespace_labels)]
        labels = entry.namespace_labels
        if namespace_labels is not None and isinstance(placement, str):
            labels = _effective_namespace_labels(entry.compiled.namespace, namespace_labels)
        call = _Call(entry.compiled, self._snapshot, labels, previous_clusters(previous), to_epoch(now))
        replicas, request = _replicas(replicas), _request(per_replica_request)
        if entry.compiled.affinities:
            result, entry.state = by_affinity(call, self.candidates, self._classes, replicas, request)
            entry.pending = []
            return result
        result = self._patched(entry, call, replicas, request)
        if result is None:
            result, entry.state = _evaluate(call, self.candidates(entry.compiled), self._classes, replicas, request)
        entry.pending = []
        return result

    @staticmethod
    def _patched(entry: _Entry, call: _Call, replicas: int | None, request: Resources | None):
        state = entry.state
        if state is None:
            return None
        usable = (
            state.namespace_labels == call.namespace_labels
            and state.replicas == replicas
            and state.request == request
            and (not state.time_sensitive or state.now == call.now)
        )
        if not usable or not _replay(state, entry.pending, call):
            entry.state = None
            return None
        old = state.result
        decisions, division = _patched_decisions(state, call, state.dirty)
        result = PlacementResult.of(call, decisions, len(state.eligible), None, division, request)
        selected = _selected(state)
        joined = {n for n in state.dirty if n in selected}
        left = state.dirty - joined
        before = old.cluster_set
        if joined <= before and not (left & before):
            result.cluster_set = before  # same membership: share the set (cheap `previous` next time)
        else:
            result.cluster_set = (before - left) | joined
        state.result = result
        return result

    def decide_all(
        self, previous: Mapping[str, object] | None = None, *, now: object = None
    ) -> dict[str, PlacementResult]:
        """Every placement, by key; ``previous`` maps keys to their previous decisions."""
        previous = previous or {}
        return {key: self.decide(key, previous.get(key), now=now) for key in sorted(self._entries)}
