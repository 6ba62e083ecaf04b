# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apportionment: seats (replicas) to parties (clusters) by weight, one seat at a time.

Private to this collection (module_utils are not a public API). Pure integer
arithmetic; no dependency on the rest of the engine.

Why one seat at a time: a method that hands out the replicas of size ``h + 1``
by adding one replica to the allocation of size ``h`` is *house monotone* by
construction -- scaling a workload up never takes a replica from any cluster,
scaling down never gives one. Largest remainder (Hamilton) is not (the Alabama
paradox: a scale-up could take a cluster's only replica away).

Which party gets the next seat: the one with the highest Webster (Sainte-Laguë)
priority ``w / (2s + 1)`` (``s`` its seats so far; ties go to the party listed
first, the engine lists clusters by name) among the *eligible* parties. Plain
Webster can drift more than one replica from a party's exact share ``h * w / W``
when one weight dominates (a big cluster next to many small ones: common with
capacity weights). So eligibility is Still's quota test (M. Still, "A class of
new methods for congressional apportionment", SIAM J. Appl. Math. 1979, as
presented by Balinski and Young, *Fair Representation*): a party may take the
seat when that keeps it within its upper quota ``ceil(h' * w / W)`` and leaves
every party able to reach its lower quota ``floor(h' * w / W)`` at every later
size ``h'`` up to the one where this party's own lower quota would catch up
with it. Still proved the eligible set is never empty and the result always
within quota. This module's property tests check it: house monotone, every
share within one replica of the exact quota, sums exact.

Capacity: a party may have a cap (how many replicas fit). Once a cap binds,
quotas stop meaning anything (the capped party cannot reach its share), and the
remaining seats go by Webster priority among the parties with room. When every
party with weight is full the rest goes by Webster priority regardless
(over-commit), so the sum stays exact -- the caller reports it.

Cost: O(total * (log n + lookahead)) with the lookahead amortised small; totals
above ``EXACT_LIMIT`` use the plain Webster divisor method directly (house
monotone too, but without the quota guarantee), so a huge replica count cannot
hold the CPU.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

EXACT_LIMIT = 10_000


def integer_weights(weights: Sequence[Fraction | int]) -> tuple[int, ...]:
    """The same proportions as non-negative integers."""
    fractions = [Fraction(w) for w in weights]
    denominator = 1
    for f in fractions:
        denominator = denominator * f.denominator // _gcd(denominator, f.denominator)
    return tuple(int(f * denominator) for f in fractions)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def apportion(total: int, weights: Sequence[int], caps: Sequence[int | None] | None = None) -> tuple[int, ...]:
    """Seats per party (same order as ``weights``); parties of weight 0 get none unless every weight is 0,
    then the seats are split as if all weighed 1. See the module docstring for the rule."""
    n = len(weights)
    if n == 0 or total <= 0:
        return (0,) * n
    weights = tuple(weights) if any(weights) else (1,) * n
    caps = tuple(caps) if caps is not None else (None,) * n
    if total > EXACT_LIMIT:
        return _webster_direct(total, weights, caps)
    return _chain(weights, caps).seats_at(total)


@lru_cache(maxsize=256)
def _chain(weights: tuple[int, ...], caps: tuple[int | None, ...]) -> _Chain:
    """One chain per weights and caps, extended on demand: a scale from 10 to 11 replicas costs one seat."""
    return _Chain(weights, caps)


class _Priority:
    """Webster priority w / (2s + 1) of party ``i``, ordered highest first, then the first listed.

    Compared as floats, and exactly (cross-multiplied integers) only when the floats are equal.
    """

    __slots__ = ("i", "value", "w", "odd")

    def __init__(self, i: int, w: int, seats: int):
        self.i, self.w, self.odd = i, w, 2 * seats + 1
        self.value = w / self.odd

    def __lt__(self, other: _Priority) -> bool:
        if self.value != other.value:
            return self.value > other.value
        mine, theirs = self.w * other.odd, other.w * self.odd
        return mine > theirs if mine != theirs else self.i < other.i


class _Chain:
    def __init__(self, weights: tuple[int, ...], caps: tuple[int | None, ...]):
        self.w = weights
        self.W = sum(weights)
        self.caps = caps
        self.seats = [0] * len(weights)
        self.order: list[int] = []  # the party given seat 1, 2, ...
        self.quota_mode = True  # until a cap binds
        self.parties = [i for i, w in enumerate(weights) if w > 0]
        self.heap = [_Priority(i, weights[i], 0) for i in self.parties]
        heapq.heapify(self.heap)
        self.full: set[int] = set()

    def seats_at(self, total: int) -> tuple[int, ...]:
        while len(self.order) < total:
            self._give(len(self.order) + 1)
        if total == len(self.order):
            return tuple(self.seats)
        counts = [0] * len(self.w)
        for i in self.order[:total]:
            counts[i] += 1
        return tuple(counts)

    def _give(self, house: int) -> None:
        skipped = []
        chosen = None
        while self.heap:
            entry = heapq.heappop(self.heap)
            i = entry.i
            cap = self.caps[i]
            if cap is not None and self.seats[i] >= cap and len(self.full) < len(self.parties):
                self.full.add(i)
                self.quota_mode = False  # a cap binds: quotas no longer describe what can be done
                skipped.append(entry)
                continue
            if not self.quota_mode or len(self.full) == len(self.parties) or self._eligible(i, house):
                chosen = i
                break
            skipped.append(entry)
        if chosen is None:  # every party with weight is full: over-commit by priority; the caller reports it
            if len(self.full) < len(self.parties):  # pragma: no cover - Still's theorem
                raise AssertionError("no eligible party")
            entry = min(skipped)
            skipped.remove(entry)
            chosen = entry.i
        self.seats[chosen] += 1
        self.order.append(chosen)
        for entry in skipped:
            heapq.heappush(self.heap, entry)
        heapq.heappush(self.heap, _Priority(chosen, self.w[chosen], self.seats[chosen]))

    def _eligible(self, i: int, house: int) -> bool:
        """Still's test for giving seat number ``house`` to party ``i``."""
        w, W, seats = self.w, self.W, self.seats
        if seats[i] * W >= house * w[i]:  # would exceed the upper quota ceil(house * w_i / W)
            return False
        # The size at which party i's own lower quota would reach seats[i] + 1: up to there, every
        # party must still be able to reach its lower quota with the seats that remain to be given.
        horizon = -(-(seats[i] + 1) * W // w[i])
        return self._lower_quotas_reachable(i, house, horizon)

    def _lower_quotas_reachable(self, i: int, house: int, horizon: int) -> bool:
        """With party i given seat ``house``: for every size h in house..horizon the seats the parties
        still lack to reach their lower quotas floor(h * w_j / W) are at most h - house."""
        w, W = self.w, self.W
        events = []  # (size at which party j's lower quota passes its seats by one more, j, that level)
        for j in self.parties:
            have = self.seats[j] + (1 if j == i else 0)
            at = -(-(have + 1) * W // w[j])  # smallest h with floor(h * w_j / W) >= have + 1
            if at <= horizon:
                events.append((at, j, have + 1))
        if not events:
            return True
        heapq.heapify(events)
        lacking = 0
        while events:
            at, j, level = heapq.heappop(events)
            lacking += 1
            if lacking > at - house:
                return False
            following = -(-(level + 1) * W // w[j])
            if following <= horizon:
                heapq.heappush(events, (following, j, level + 1))
        return True


def _webster_direct(total: int, weights: tuple[int, ...], caps: tuple[int | None, ...]) -> tuple[int, ...]:
    """Plain Webster for large totals: the same order of seats, computed from a divisor.

    The seats of a divisor method at size h are the h largest ``w_i / (k + 1/2)``; instead of taking
    them one by one, find the divisor by bisection, then take the last few by priority. Caps: a capped
    party keeps at most its cap while others have room, as in the chain.
    """
    parties = [i for i, w in enumerate(weights) if w > 0]
    seats = [0] * len(weights)
    remaining, active = total, list(parties)
    while remaining > 0 and active:
        share = _webster_block(remaining, [weights[i] for i in active])
        over = [(i, caps[i]) for i, s in zip(active, share, strict=True) if caps[i] is not None and s > caps[i]]
        if not over:
            for i, s in zip(active, share, strict=True):
                seats[i] += s
            return tuple(seats)
        for i, cap in over:
            seats[i] = cap
            remaining -= cap
        active = [i for i in active if i not in dict(over)]
    if remaining > 0:  # everyone full: over-commit
        extra = _webster_block(remaining, [weights[i] for i in parties])
        for i, s in zip(parties, extra, strict=True):
            seats[i] += s
    return tuple(seats)


def _webster_block(total: int, weights: list[int]) -> list[int]:
    """Plain Webster (Sainte-Laguë) for ``total`` seats: a divisor by bisection, then the rest by priority."""
    W = sum(weights)
    # With divisor D = W / total, rounding each quota total*w/W to the nearest gives about total seats.
    seats = [(2 * total * w + W) // (2 * W) for w in weights]  # round half up of total * w / W
    given = sum(seats)
    if given < total:
        heap = [(-Fraction(w, 2 * s + 1), k) for k, (w, s) in enumerate(zip(weights, seats, strict=True))]
        heapq.heapify(heap)
        for _step in range(total - given):
            _p, k = heapq.heappop(heap)
            seats[k] += 1
            heapq.heappush(heap, (-Fraction(weights[k], 2 * seats[k] + 1), k))
    elif given > total:
        heap = [(Fraction(w, 2 * s - 1), -k) for k, (w, s) in enumerate(zip(weights, seats, strict=True)) if s > 0]
        heapq.heapify(heap)
        for _step in range(given - total):
            _p, negative = heapq.heappop(heap)
            k = -negative
            seats[k] -= 1
            if seats[k] > 0:
                heapq.heappush(heap, (Fraction(weights[k], 2 * seats[k] - 1), -k))
    return seats
