# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Selection: the top ``numberOfClusters``, or a choice that meets the spread constraints.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _Call,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    _TOPOLOGY_COLUMN,
    Snapshot,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    SpreadConstraint,
)

# --------------------------------------------------------------------------
# Selection


@dataclass
class _Selection:
    selected: list[str]
    unsatisfied: str | None = None
    sel_keys: dict[str, tuple] | None = None  # top-N: selected name -> rank key (-score, name)
    best_out: tuple | None = None  # top-N: rank key of the best eligible cluster not selected
    excluded: dict[str, str] = field(default_factory=dict)  # spread (detail): name -> reason
    counts: list[dict[str, int]] = field(default_factory=list)  # spread: per constraint, group -> selected
    groups: dict[str, tuple] = field(default_factory=dict)  # spread (detail): name -> group per constraint
    watermarks: dict[tuple, tuple | None] | None = None  # spread: bucket -> rank key of its first unused member


def _select_top(call: _Call, eligible: list[str], scores: dict[str, float]) -> _Selection:
    number = call.placement.number_of_clusters
    if number is None or number >= len(eligible):
        return _Selection(list(eligible))
    threshold = heapq.nlargest(number + 1, scores.values())[-1]
    top = sorted([(-s, n) for n, s in scores.items() if s >= threshold])
    chosen = top[:number]
    return _Selection([n for _score, n in chosen], sel_keys={k[1]: k for k in chosen}, best_out=top[number])


def _skew_ok(counts: dict[str, int], group: str, max_skew: int) -> bool:
    new = counts[group] + 1
    others = min((c for g, c in counts.items() if g != group), default=new)
    return new - min(others, new) <= max_skew


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


def _rank_bucket(members: set[str], scores: dict[str, float], limit: int | None) -> list[tuple[float, str]]:
    """Rank keys ``(-score, name)`` of a bucket in order; only the first ``limit`` when given."""
    if limit is not None and len(members) > limit:
        threshold = heapq.nlargest(limit, map(scores.__getitem__, members))[-1]
        return sorted([(-scores[n], n) for n in members if scores[n] >= threshold])[:limit]
    return sorted([(-scores[n], n) for n in members])


def _allowed_groups(spread: tuple[SpreadConstraint, ...], buckets: dict[tuple, list]) -> list[list[str]]:
    """Per constraint, the groups in order of their best cluster, cut to maxGroups."""
    heads = sorted((bucket[0], groups) for groups, bucket in buckets.items())
    allowed = []
    for i, c in enumerate(spread):
        order = list(dict.fromkeys(groups[i] for _head, groups in heads))
        allowed.append(order if c.max_groups is None else order[: c.max_groups])
    return allowed


def _unmet_min_groups(spread: tuple[SpreadConstraint, ...], buckets: Iterable[tuple]) -> str | None:
    buckets = list(buckets)
    for i, c in enumerate(spread):
        if c.min_groups is None:
            continue
        available = sorted({groups[i] for groups in buckets})
        if len(available) < c.min_groups:
            return (
                f"spread limit: minGroups={c.min_groups} for topologyKey {c.topology_key} cannot be met: "
                f"the eligible clusters span {len(available)} group(s) ({', '.join(available) or 'none'})"
            )
    return None


def _needy(spread: tuple[SpreadConstraint, ...], counts: list[dict[str, int]]) -> list[int]:
    return [i for i, c in enumerate(spread) if c.min_groups and sum(1 for v in counts[i].values() if v) < c.min_groups]


def _admissible(spread, counts: list[dict[str, int]], groups: tuple[str, ...], needy: list[int]) -> bool:
    if needy and not any(counts[i][groups[i]] == 0 for i in needy):
        return False
    return all(_skew_ok(counts[i], groups[i], c.max_skew) for i, c in enumerate(spread))


def _bucket(call: _Call, eligible: list[str], scores: dict[str, float], selection: _Selection, detail: bool):
    """Eligible clusters by their tuple of groups, each bucket as rank keys in order.

    A bucket never gives more than numberOfClusters, so only that many are ranked (unless ``detail``).
    """
    spread = call.placement.spread
    parts: list[tuple[tuple, set[str]]] = [((), set(eligible))]
    for c in spread:
        parts = _split(parts, call.snapshot, c.topology_key)
    limit = None if detail else call.placement.number_of_clusters
    buckets = {}
    for groups, members in parts:
        if None in groups:  # no value for a topology key: not spread, so not placed
            if detail:
                reason = (
                    f"spread limit: the cluster has no value for topologyKey {spread[groups.index(None)].topology_key}"
                )
                selection.excluded.update(dict.fromkeys(members, reason))
            continue
        buckets[groups] = _rank_bucket(members, scores, limit)
        if detail:
            selection.groups.update(dict.fromkeys(members, groups))
    return buckets


def _drop_disallowed(spread, buckets: dict[tuple, list], allowed: list[list[str]], selection, detail: bool):
    kept = {}
    for groups, bucket in buckets.items():
        bad = next((i for i, g in enumerate(groups) if g not in allowed[i]), None)
        if bad is None:
            kept[groups] = bucket
        elif detail:
            c = spread[bad]
            reason = (
                f"spread limit: {c.topology_key}={groups[bad]} is not among the maxGroups={c.max_groups} "
                f"groups chosen ({', '.join(allowed[bad])})"
            )
            for _rank, name in bucket:
                selection.excluded[name] = reason
    return kept


def _greedy(call: _Call, buckets: dict[tuple, list], selection: _Selection) -> None:
    """Take clusters in rank order while every constraint's skew (and minGroups first) allows."""
    spread = call.placement.spread
    number = call.placement.number_of_clusters
    total = sum(len(b) for b in buckets.values())
    limit = total if number is None else min(number, total)
    counts = selection.counts
    queues = {groups: deque(bucket) for groups, bucket in buckets.items()}
    taken = dict.fromkeys(buckets, 0)
    heap = [(queue[0], groups) for groups, queue in queues.items()]
    heapq.heapify(heap)
    while len(selection.selected) < limit and heap:
        needy = _needy(spread, counts)
        skipped, chosen = [], None
        while heap:
            item = heapq.heappop(heap)
            if _admissible(spread, counts, item[1], needy):
                chosen = item[1]
                break
            skipped.append(item)
        for item in skipped:
            heapq.heappush(heap, item)
        if chosen is None:
            break
        queue = queues[chosen]
        selection.selected.append(queue.popleft()[1])
        taken[chosen] += 1
        for i, group in enumerate(chosen):
            counts[i][group] += 1
        if queue:
            heapq.heappush(heap, (queue[0], chosen))
    if _needy(spread, counts):
        selection.unsatisfied = "spread limit: minGroups cannot be met together with the other spread constraints"
        selection.selected = []
    # The greedy only ever looked at the first taken+1 members of a bucket: a change further down cannot matter.
    selection.watermarks = {g: (b[taken[g]] if taken[g] < len(b) else None) for g, b in buckets.items()}


def _select_spread(call: _Call, eligible: list[str], scores: dict[str, float], detail: bool) -> _Selection:
    spread = call.placement.spread
    selection = _Selection([])
    everything = _bucket(call, eligible, scores, selection, detail)
    allowed = _allowed_groups(spread, everything)
    buckets = _drop_disallowed(spread, everything, allowed, selection, detail)
    selection.counts = [dict.fromkeys(groups, 0) for groups in allowed]
    selection.unsatisfied = _unmet_min_groups(spread, buckets)
    if not selection.unsatisfied:
        _greedy(call, buckets, selection)
        for groups, bucket in everything.items():  # a disallowed bucket matters through its head only
            if groups not in buckets:
                selection.watermarks[groups] = bucket[0]
    return selection


def _select(call: _Call, eligible: list[str], scores: dict[str, float], detail: bool = False) -> _Selection:
    if call.placement.spread:
        return _select_spread(call, eligible, scores, detail)
    return _select_top(call, eligible, scores)
