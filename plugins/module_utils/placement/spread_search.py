# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exact spread selection: a valid choice whenever one exists, the best one by a stated order.

Private to this collection (module_utils are not a public API). Pure; knows
nothing of clusters but their rank keys and their groups.

The problem. Eligible clusters fall into *cells*: the clusters with the same
group under every spread constraint (``(region, zone)`` for two keys). A
choice is valid when, for every constraint over its groups G (the groups with
an eligible cluster), with ``k = min(maxGroups, |G|)`` and U the groups used:

- ``minGroups <= |U| <= maxGroups``;
- skew: when ``|U| = k``, the largest count minus the smallest count in U is
  at most ``maxSkew``; when ``|U| < k`` some group that could be used is empty,
  so every count is at most ``maxSkew`` (Kubernetes' topology spread counts
  empty eligible domains the same way).

Which valid choice: the most clusters (up to ``numberOfClusters``); among
those, the most clusters kept from the previous decision (under Steady);
among those, the best ranked, compared best first (rank keys ascending).
Without ``numberOfClusters`` the most kept come first, then the most
clusters: no number asks for more clusters, so nothing running is moved to
get them (a bigger group appearing elsewhere does not pull a workload over). Within
a cell the clusters are interchangeable for validity, so a best choice always
takes a prefix of each cell's ranking: the search is over how many each cell
gives (a count vector), never over subsets of clusters.

How. (1) A greedy in rank order proposes a choice; when it is valid with the
most clusters and the most kept, it is the *witness* the next step starts
from. Otherwise a branch and bound over count vectors finds the best size and
kept count. (2) The clusters are walked in rank order; each is taken when a
valid choice of that size and kept count still exists with everything taken so
far plus it (the witness answers at once when it already has room; else a
bounded depth-first search over the cells finds a new one), else its cell is
closed. The result is exactly the best choice. Every search step counts
against a budget (``SEARCH_BUDGET``); when it runs out the greedy's choice is
used if it is valid, with a note saying the search was cut, else nothing is
chosen, with that reason. A property test holds the result to a brute force
over every subset of small fleets.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

SEARCH_BUDGET = 50_000  # count-vector nodes per decision


class BudgetExceeded(Exception):
    """The search used its budget (``SEARCH_BUDGET`` nodes) without an answer."""


@dataclass(frozen=True)
class Rule:
    """One spread constraint, over group indexes."""

    max_skew: int
    min_groups: int | None
    max_groups: int | None


@dataclass
class Cells:
    """The cells of one decision: per cell its groups (one index per rule), its ranked members and kept count."""

    groups: list[tuple[int, ...]]
    members: list[list[tuple]]  # rank keys, best first
    kept: list[int]  # how many of a cell's members are kept (they rank first within the cell)
    rules: list[Rule]
    group_count: list[int]  # per rule: how many groups have an eligible cluster
    in_play: list[int] = field(default_factory=list)  # per rule: k = min(maxGroups, group_count)

    def __post_init__(self):
        self.in_play = [
            count if r.max_groups is None else min(r.max_groups, count)
            for r, count in zip(self.rules, self.group_count, strict=True)
        ]

    @property
    def sizes(self) -> list[int]:
        return [len(m) for m in self.members]

    def group_counts(self, counts: Sequence[int]) -> list[list[int]]:
        out = [[0] * n for n in self.group_count]
        for cell, n in enumerate(counts):
            if n:
                for rule, group in enumerate(self.groups[cell]):
                    out[rule][group] += n
        return out

    def valid(self, counts: Sequence[int]) -> bool:
        for r, per_group in enumerate(self.group_counts(counts)):
            if not _rule_holds(self.rules[r], per_group, self.in_play[r]):
                return False
        return True

    def kept_of(self, counts: Sequence[int]) -> int:
        return sum(min(n, k) for n, k in zip(counts, self.kept, strict=True))


def _rule_holds(rule: Rule, per_group: Sequence[int], in_play: int) -> bool:
    used = [c for c in per_group if c]
    if rule.min_groups is not None and len(used) < rule.min_groups:
        return False
    if rule.max_groups is not None and len(used) > rule.max_groups:
        return False
    if not used:
        return True
    if len(used) < in_play:
        return max(used) <= rule.max_skew
    return max(used) - min(used) <= rule.max_skew


@dataclass
class Outcome:
    counts: list[int]  # per cell, how many (its first ones) are chosen
    exact: bool = True  # False: the search budget ran out, the greedy's choice is used
    closures: int = 0  # cells closed because taking one more could not lead to the best choice
    watermark: tuple | None = None  # rank key of the last cluster taken
    best_possible: bool = False  # as many clusters as asked for, and as many kept as there are


class Search:
    """Best size and kept count, and feasibility for the walk, over count vectors (bounded)."""

    def __init__(self, cells: Cells, budget: int | None = None):
        self.cells = cells
        self.budget = SEARCH_BUDGET if budget is None else budget
        self.nodes = 0
        # Cells in order of their best member, so the first solutions found look like the greedy's.
        self.order = sorted(range(len(cells.groups)), key=lambda c: cells.members[c][0])

    def _tick(self) -> None:
        self.nodes += 1
        if self.nodes > self.budget:
            raise BudgetExceeded

    def best(self, limit: int | None) -> tuple[int, int, list[int]] | None:
        """The most clusters (at most ``limit``), then the most kept -- without ``limit`` the most kept,
        then the most clusters: ``(size, kept, counts)``; None: none valid."""
        kept_first = limit is None  # the order of the objective (see the module docstring)
        sizes = self.cells.sizes
        zeros = [0] * len(sizes)
        found: list = [None]

        def visit(t: int, counts: list[int], total: int, kept: int) -> None:
            self._tick()
            rest = self.order[t:]
            upper_total = total + sum(sizes[c] for c in rest)
            if limit is not None:
                upper_total = min(upper_total, limit)
            upper_kept = min(upper_total, kept + sum(self.cells.kept[c] for c in rest))
            if found[0] is not None:
                size, have = found[0][:2]
                if (
                    ((upper_kept, upper_total) <= (have, size))
                    if kept_first
                    else ((upper_total, upper_kept) <= (size, have))
                ):
                    return
            if not self._possible(counts, t, zeros, sizes, limit, total):
                return
            if t == len(self.order):
                if total and self.cells.valid(counts):
                    found[0] = (total, kept, list(counts))
                return
            cell = self.order[t]
            room = sizes[cell] if limit is None else min(sizes[cell], limit - total)
            for n in range(room, -1, -1):
                counts[cell] = n
                visit(t + 1, counts, total + n, kept + min(n, self.cells.kept[cell]))
            counts[cell] = 0

        visit(0, [0] * len(sizes), 0, 0)
        return found[0]

    def feasible(self, lower: list[int], upper: list[int], size: int, kept: int) -> list[int] | None:
        """A valid count vector with ``lower <= counts <= upper``, ``size`` clusters and at least ``kept``
        kept; None when there is none."""

        def visit(t: int, counts: list[int], total: int, have: int) -> list[int] | None:
            self._tick()
            rest = self.order[t:]
            if total + sum(lower[c] for c in rest) > size or total + sum(upper[c] for c in rest) < size:
                return None
            if have + sum(min(upper[c], self.cells.kept[c]) for c in rest) < kept:
                return None
            if not self._possible(counts, t, lower, upper, size, total):
                return None
            if t == len(self.order):
                return list(counts) if self.cells.valid(counts) else None
            cell = self.order[t]
            for n in range(min(upper[cell], size - total), lower[cell] - 1, -1):
                counts[cell] = n
                got = visit(t + 1, counts, total + n, have + min(n, self.cells.kept[cell]))
                if got is not None:
                    return got
            counts[cell] = 0
            return None

        return visit(0, [0] * len(lower), 0, 0)

    def _possible(self, counts, t: int, lower, upper, limit: int | None, total: int) -> bool:
        """Whether the cells decided so far (``order[:t]`` in ``counts``) can still end valid, with the
        others between ``lower`` and ``upper``: minGroups, maxGroups and skew, necessary conditions."""
        cells = self.cells
        decided = self.order[:t]
        rest = self.order[t:]
        for r, rule in enumerate(cells.rules):
            low = [0] * cells.group_count[r]
            high = [0] * cells.group_count[r]
            for c in decided:
                g = cells.groups[c][r]
                low[g] += counts[c]
                high[g] += counts[c]
            for c in rest:
                g = cells.groups[c][r]
                low[g] += lower[c]
                high[g] += upper[c]
            if limit is not None:
                high = [min(h, limit) for h in high]
            surely = sum(1 for v in low if v)
            maybe = sum(1 for v in high if v)
            if rule.max_groups is not None and surely > rule.max_groups:
                return False
            if rule.min_groups is not None and maybe < rule.min_groups:
                return False
            top = max(low, default=0)
            k = cells.in_play[r]
            few_possible = top <= rule.max_skew and surely < k
            floor = max(1, top - rule.max_skew)
            reachable = sum(1 for v in high if v >= floor)
            full_possible = (
                reachable >= k
                and all(h >= floor for h, lo in zip(high, low, strict=True) if lo)
                and (limit is None or k * floor <= limit)  # k groups of at least `floor` each must fit
            )
            if not (few_possible or full_possible):
                return False
        return True


def greedy(cells: Cells, limit: int | None) -> list[int]:
    """Clusters in rank order, each taken while the constraints, on what is taken so far, allow it."""
    counts = [0] * len(cells.groups)
    per_group = [[0] * n for n in cells.group_count]
    heap = [(members[0], cell) for cell, members in enumerate(cells.members) if members]
    heapq.heapify(heap)
    total = 0
    skipped = []
    while heap and (limit is None or total < limit):
        needy = [
            r
            for r, rule in enumerate(cells.rules)
            if rule.min_groups and sum(1 for v in per_group[r] if v) < rule.min_groups
        ]
        key, cell = heapq.heappop(heap)
        if not _admissible(cells, per_group, cell, needy):
            skipped.append((key, cell))
            continue
        for item in skipped:
            heapq.heappush(heap, item)
        skipped = []
        counts[cell] += 1
        total += 1
        for r, g in enumerate(cells.groups[cell]):
            per_group[r][g] += 1
        if counts[cell] < len(cells.members[cell]):
            heapq.heappush(heap, (cells.members[cell][counts[cell]], cell))
    return counts


def _admissible(cells: Cells, per_group: list[list[int]], cell: int, needy: list[int]) -> bool:
    groups = cells.groups[cell]
    if needy and not any(per_group[r][groups[r]] == 0 for r in needy):
        return False
    for r, rule in enumerate(cells.rules):
        counts = per_group[r]
        new = counts[groups[r]] + 1
        used = sum(1 for v in counts if v) + (counts[groups[r]] == 0)
        if rule.max_groups is not None and used > rule.max_groups:
            return False
        others = [v for g, v in enumerate(counts) if v and g != groups[r]]
        low = 0 if used < cells.in_play[r] else min([*others, new])
        if new - low > rule.max_skew:
            return False
    return True


def select(cells: Cells, limit: int | None, budget: int | None = None) -> Outcome | None:
    """The best valid choice (see the module docstring); None when no choice is valid."""
    if not cells.groups:
        return None
    proposal = greedy(cells, limit)
    search = Search(cells, budget)
    most = sum(cells.sizes) if limit is None else min(limit, sum(cells.sizes))
    try:
        size = sum(proposal)
        if size and cells.valid(proposal) and size == most and cells.kept_of(proposal) == min(most, sum(cells.kept)):
            target = (size, cells.kept_of(proposal), proposal)
        else:
            target = search.best(limit)
            if target is None:
                return None
        outcome = _walk(cells, search, *target)
        outcome.best_possible = limit is not None and target[0] == limit and target[1] == min(limit, sum(cells.kept))
        return outcome
    except BudgetExceeded:
        if sum(proposal) and cells.valid(proposal):
            return Outcome(proposal, exact=False, watermark=None)
        raise


def _walk(cells: Cells, search: Search, size: int, kept: int, witness: list[int]) -> Outcome:
    """Take clusters in rank order while a choice of ``size`` with ``kept`` stays reachable."""
    counts = [0] * len(cells.groups)
    upper = cells.sizes
    heap = [(members[0], cell) for cell, members in enumerate(cells.members) if members]
    heapq.heapify(heap)
    taken = 0
    outcome = Outcome(counts)
    while heap and taken < size:
        key, cell = heapq.heappop(heap)
        if witness[cell] <= counts[cell]:
            lower = list(counts)
            lower[cell] += 1
            found = search.feasible(lower, upper, size, kept)
            if found is None:
                upper = list(upper)
                upper[cell] = counts[cell]  # closed: its next members can never be part of the best choice
                outcome.closures += 1
                continue
            witness = found
        counts[cell] += 1
        taken += 1
        outcome.watermark = key
        if counts[cell] < len(cells.members[cell]):
            heapq.heappush(heap, (cells.members[cell][counts[cell]], cell))
    return outcome
