# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Selection: the top ``numberOfClusters``, or a choice that meets the spread constraints.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils.placement import spread_search as search
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _Call,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    _TOPOLOGY_COLUMN,
    Snapshot,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.scoring import rank_key
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    SpreadConstraint,
)

# --------------------------------------------------------------------------
# Selection


@dataclass
class _Selection:
    selected: list[str]
    unsatisfied: str | None = None
    sel_keys: dict[str, tuple] | None = None  # top-N: selected name -> rank key
    best_out: tuple | None = None  # top-N: rank key of the best eligible cluster not selected
    excluded: dict[str, str] = field(default_factory=dict)  # spread (detail): name -> reason
    counts: list[dict[str, int]] = field(default_factory=list)  # spread: per constraint, group -> selected
    groups: dict[str, tuple] = field(default_factory=dict)  # spread (detail): name -> group per constraint
    note: str | None = None  # spread: the search was cut short
    # spread, for the index: patches are exact only for changes ranked after the watermark (see index)
    watermark: tuple | None = None
    patchable: bool = False
    cell_sizes: dict[tuple, int] | None = None  # spread: groups -> eligible clusters in that cell


def _ranker(call: _Call, scores: dict[str, float]):
    steady, previous = call.placement.steady, call.previous
    return lambda name: rank_key(steady, previous, name, scores[name])


def _best_keys(call: _Call, names, scores: dict[str, float], limit: int | None) -> list[tuple]:
    """The first ``limit`` rank keys among ``names`` (all when None), best first.

    Builds keys only for the few that can be among them: under Steady the kept clusters (they rank
    first), plus every other cluster scoring at least the ``limit``-th best score of ``names`` -- the
    ``m``-th best of the others has at most ``limit - m`` kept ones above it, so it is in.
    """
    key = _ranker(call, scores)
    if limit is None or len(names) <= limit:
        return sorted(map(key, names))
    kept = [n for n in call.previous if n in scores and n in names] if call.placement.steady else []
    if len(kept) >= limit:
        return sorted(map(key, kept))[:limit]
    threshold = heapq.nlargest(limit, map(scores.__getitem__, names))[-1]
    pool = {n for n in names if scores[n] >= threshold}
    pool.update(kept)
    return sorted(map(key, pool))[:limit]


def _select_top(call: _Call, eligible: list[str], scores: dict[str, float]) -> _Selection:
    """The first ``numberOfClusters`` in rank order (``rank_key``: under Steady the kept ones first)."""
    number = call.placement.number_of_clusters
    if number is None or number >= len(eligible):
        return _Selection(list(eligible))
    top = _best_keys(call, eligible, scores, number + 1)
    chosen = top[:number]
    return _Selection([k[-1] for k in chosen], sel_keys={k[-1]: k for k in chosen}, best_out=top[number])


def _split(parts: list[tuple[tuple, set[str]]], snapshot: Snapshot, key: str) -> list[tuple[tuple, set[str]]]:
    """Refine (groups, names) parts by one more topology key (None = no value)."""
    name = _TOPOLOGY_COLUMN + key
    by_value = snapshot.groups(name)
    out = []
    for prefix, members in parts:
        if len(by_value) * 4 > len(members):  # many values: go cluster by cluster
            column = snapshot.column(name)
            split: dict = defaultdict(set)
            for cluster in members:
                split[column[cluster]].add(cluster)
            out += [(prefix + (value,), names) for value, names in split.items()]
        else:  # few values: set intersections, in C
            for value, names in by_value.items():
                inside = members & names
                if inside:
                    out.append((prefix + (value,), inside))
    return out


def _cells(call: _Call, eligible: list[str], scores: dict[str, float], selection: _Selection, detail: bool):
    """The eligible clusters as cells (same group under every constraint), for the exact search.

    A cell never gives more than numberOfClusters, so only that many are ranked (unless ``detail``).
    Returns the search's Cells and, per cell, its groups as values.
    """
    spread = call.placement.spread
    parts: list[tuple[tuple, set[str]]] = [((), set(eligible))]
    for c in spread:
        parts = _split(parts, call.snapshot, c.topology_key)
    limit = None if detail else call.placement.number_of_clusters
    values: list[dict] = [{} for _c in spread]  # per constraint: group value -> index
    keys, groups, members, kept = [], [], [], []
    selection.cell_sizes = {}
    for group_values, names in sorted(parts, key=lambda part: tuple("" if v is None else v for v in part[0])):
        if None in group_values:  # no value for a topology key: not spread, so not placed
            if detail:
                c = spread[group_values.index(None)]
                reason = f"spread limit: the cluster has no value for topologyKey {c.topology_key}"
                selection.excluded.update(dict.fromkeys(names, reason))
            continue
        ranked = _best_keys(call, names, scores, limit)
        keys.append(group_values)
        groups.append(tuple(values[i].setdefault(v, len(values[i])) for i, v in enumerate(group_values)))
        members.append(ranked)
        kept.append(sum(1 for k in ranked if k[0] == 0))
        selection.cell_sizes[group_values] = len(names)
        if detail:
            selection.groups.update(dict.fromkeys(names, group_values))
    rules = [search.Rule(c.max_skew, c.min_groups, c.max_groups) for c in spread]
    cells = search.Cells(groups, members, kept, rules, [len(v) for v in values])
    return cells, keys, values


def _unmet_min_groups(spread: tuple[SpreadConstraint, ...], values: list[dict]) -> str | None:
    for i, c in enumerate(spread):
        if c.min_groups is not None and len(values[i]) < c.min_groups:
            available = sorted(values[i])
            return (
                f"spread limit: minGroups={c.min_groups} for topologyKey {c.topology_key} cannot be met: "
                f"the eligible clusters span {len(available)} group(s) ({', '.join(available) or 'none'})"
            )
    return None


def _select_spread(call: _Call, eligible: list[str], scores: dict[str, float], detail: bool) -> _Selection:
    """The best valid choice under the spread constraints (``spread_search``)."""
    spread = call.placement.spread
    selection = _Selection([])
    cells, keys, values = _cells(call, eligible, scores, selection, detail)
    selection.counts = [dict.fromkeys(v, 0) for v in values]
    selection.unsatisfied = _unmet_min_groups(spread, values)
    if selection.unsatisfied:
        return selection
    number = call.placement.number_of_clusters
    try:
        outcome = search.select(cells, number)
    except search.BudgetExceeded:
        selection.unsatisfied = (
            f"spread limit: no valid choice found within the search budget ({search.SEARCH_BUDGET} steps); "
            "narrow the candidates (clusterSelector, locations) or loosen the spread constraints"
        )
        return selection
    if outcome is None:
        selection.unsatisfied = (
            "spread limit: no choice of clusters meets every spread constraint "
            f"({_describe(spread)}) among the {sum(cells.sizes)} eligible clusters"
        )
        return selection
    for cell, n in enumerate(outcome.counts):
        selection.selected += [k[-1] for k in cells.members[cell][:n]]
        for i, group in enumerate(keys[cell]):
            selection.counts[i][group] += n
    if not outcome.exact:
        selection.note = (
            f"the spread search stopped at its budget ({search.SEARCH_BUDGET} steps): this valid choice "
            "may not be the best ranked one"
        )
    selection.watermark = outcome.watermark
    selection.patchable = outcome.exact and outcome.closures == 0 and outcome.best_possible
    return selection


def _describe(spread: tuple[SpreadConstraint, ...]) -> str:
    parts = []
    for c in spread:
        text = f"{c.topology_key} maxSkew={c.max_skew}"
        if c.min_groups is not None:
            text += f" minGroups={c.min_groups}"
        if c.max_groups is not None:
            text += f" maxGroups={c.max_groups}"
        parts.append(text)
    return "; ".join(parts)


def _why_not_spread(call: _Call, selection: _Selection, name: str) -> str | None:
    """Why an eligible cluster was left out by the spread constraints, or None (then: numberOfClusters)."""
    groups = selection.groups.get(name)
    if groups is None:
        return None
    for i, c in enumerate(call.placement.spread):
        counts = selection.counts[i]
        group = groups[i]
        used = sum(1 for v in counts.values() if v)
        if not counts[group] and c.max_groups is not None and used >= c.max_groups:
            chosen = ", ".join(sorted(g for g, v in counts.items() if v))
            return (
                f"spread limit: {c.topology_key}={group} would be group {used + 1}, over maxGroups={c.max_groups} "
                f"(groups chosen: {chosen})"
            )
        in_play = len(counts) if c.max_groups is None else min(c.max_groups, len(counts))
        after = counts[group] + 1
        others = [v for g, v in counts.items() if v and g != group]
        low = 0 if used + (counts[group] == 0) < in_play else min([*others, after])
        if after - low > c.max_skew:
            return (
                f"spread limit: {c.topology_key}={group} already has {counts[group]} selected cluster(s) "
                f"and the least-used group {low}; maxSkew is {c.max_skew}"
            )
    return None


def _select(call: _Call, eligible: list[str], scores: dict[str, float], detail: bool = False) -> _Selection:
    if call.placement.spread:
        return _select_spread(call, eligible, scores, detail)
    return _select_top(call, eligible, scores)
