# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replicas: how a Divided workload's replicas are split over the selected clusters.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _Call,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    DUPLICATED,
    ClusterView,
    Resources,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    CompiledPlacement,
)

# --------------------------------------------------------------------------
# Replicas


def _largest_remainder(total: int, weights: Sequence[tuple[str, Fraction]]) -> dict[str, int]:
    """floor(total*w/W) each, then one more to the largest remainders (ties: name ascending)."""
    whole = sum(w for _name, w in weights)
    if total <= 0 or not weights:
        return {name: 0 for name, _weight in weights}
    if whole == 0:
        weights = [(name, Fraction(1)) for name, _weight in weights]
        whole = Fraction(len(weights))
    shares = {}
    remainders = []
    for name, w in weights:
        quota = total * w / whole
        base = math.floor(quota)
        shares[name] = base
        remainders.append((-(quota - base), name))
    left = total - sum(shares.values())
    for _remainder, name in sorted(remainders)[:left]:
        shares[name] += 1
    return shares


def _replica_cap(allocatable: Mapping | None, request: Resources | None, where: str) -> int | None:
    if request is None or allocatable is None:
        return None
    alloc = allocatable if isinstance(allocatable, Resources) else Resources.parse(allocatable, where)
    caps = []
    if request.cpu and alloc.cpu is not None:
        caps.append(math.floor(Decimal(repr(alloc.cpu)) / Decimal(repr(request.cpu))))
    if request.memory and alloc.memory is not None:
        caps.append(alloc.memory // request.memory)
    if alloc.pods is not None:
        caps.append(alloc.pods)
    return max(0, min(caps)) if caps else None


def _weight(value: object, where: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, Decimal)):
        raise api.SpecError(where, f"weight must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise api.SpecError(where, f"weight must be finite, not {value!r}")
    weight = Fraction(value)
    if weight < 0:
        raise api.SpecError(where, f"weight must be >= 0, not {value!r}")
    return weight


def divide_replicas(
    total: int, decisions: Sequence[Mapping], per_replica_request: Mapping | Resources | None = None
) -> list[dict]:
    """Split ``total`` replicas over weighted decisions; returns copies with ``replicas`` set.

    Rule (largest remainder, also called Hamilton's method): with weights
    ``w_i`` summing to ``W``, cluster ``i`` first gets ``floor(total * w_i / W)``;
    the few replicas left (fewer than the number of clusters) go one each to
    the clusters with the largest remainders ``total * w_i / W - floor(...)``,
    ties broken by cluster name ascending. So every share is within one
    replica of its exact quota, the shares sum exactly to ``total`` and none is
    negative. Weight 0 gets nothing -- unless every weight is 0, then the
    split is equal. No decisions: nothing is placed (an empty list).

    With ``per_replica_request`` (``{cpu, memory}`` quantities) and an
    ``allocatable`` mapping in a decision, a cluster gets at most as many
    replicas as fit (and at most its pods); the excess is split over the
    others by the same rule (water-filling). If all clusters with weight are
    full the rest is split by weight regardless (weight-0 clusters still get
    nothing), so the sum stays exact.
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise api.SpecError("replicas", f"must be an integer >= 0, not {total!r}")
    request = per_replica_request
    if request is not None and not isinstance(request, Resources):
        request = Resources.parse(request, "per_replica_request")
    items = []
    seen = set()
    for i, decision in enumerate(decisions):
        where = f"decisions[{i}]"
        name = decision.get("cluster")
        if not isinstance(name, str) or not name:
            raise api.SpecError(f"{where}.cluster", "is required")
        if name in seen:
            raise api.SpecError(f"{where}.cluster", f"{name} appears twice")
        seen.add(name)
        weight = _weight(decision.get("weight", 1), f"{where}.weight")
        items.append((name, weight, _replica_cap(decision.get("allocatable"), request, f"{where}.allocatable")))
    shares = _water_fill(total, items)
    out = []
    for decision in decisions:
        copy = dict(decision)
        copy["replicas"] = shares.get(decision["cluster"], 0)
        out.append(copy)
    return out


def _water_fill(total: int, items: list[tuple[str, Fraction, int | None]]) -> dict[str, int]:
    shares = dict.fromkeys((name for name, _weight, _cap in items), 0)
    if not items or total == 0:
        return shares
    positive = [(n, w, c) for n, w, c in items if w > 0] or [(n, Fraction(1), c) for n, _weight, c in items]
    active, remaining = positive, total
    while active and remaining > 0:
        trial = _largest_remainder(remaining, [(n, w) for n, w, _cap in active])
        over = [(n, c) for n, _weight, c in active if c is not None and trial[n] > c]
        if not over:
            for name, count in trial.items():
                shares[name] += count
            return shares
        full = {n for n, _cap in over}
        for name, cap in over:
            shares[name] = cap
            remaining -= cap
        active = [item for item in active if item[0] not in full]
    if remaining > 0:  # everyone is full: overcommit by weight so the sum stays exact
        for name, count in _largest_remainder(remaining, [(n, w) for n, w, _cap in positive]).items():
            shares[name] += count
    return shares


def _dynamic_weight(view: ClusterView, request: Resources | None) -> int:
    if request is not None:
        cap = _replica_cap(view.allocatable, request, view.name)
        if cap is not None:
            return cap
    return int((view.allocatable.cpu or 0.0) * 1000)


def _decision_weight(placement: CompiledPlacement, view: ClusterView, request: Resources | None) -> int:
    if placement.replica_type == DUPLICATED:
        return 1
    if placement.weights is not None:
        return placement.weights.get(view.name, 0)
    if placement.dynamic:
        return _dynamic_weight(view, request)
    return 1


def _decision_reason(placement: CompiledPlacement) -> str:
    if placement.number_of_clusters is None:
        reason = "Selected: eligible (no numberOfClusters limit)"
    else:
        reason = f"Selected: ranked within numberOfClusters={placement.number_of_clusters}"
    if placement.spread:
        reason += "; spread by " + ", ".join(c.topology_key for c in placement.spread)
    return reason


def _decisions(
    call: _Call, selected: Iterable[str], replicas: int | None, request: Resources | None
) -> list[dict[str, Any]]:
    placement, views = call.placement, call.views
    reason = _decision_reason(placement)
    names = sorted(selected)
    weights = [_decision_weight(placement, views[n], request) for n in names]
    if replicas is None:
        return [{"cluster": n, "weight": w, "reason": reason} for n, w in zip(names, weights, strict=True)]
    if placement.replica_type == DUPLICATED:
        counts = [replicas] * len(names)
    else:
        enriched = [
            {"cluster": n, "weight": w, "allocatable": views[n].allocatable}
            for n, w in zip(names, weights, strict=True)
        ]
        counts = [d["replicas"] for d in divide_replicas(replicas, enriched, request)]
    return [
        {"cluster": n, "weight": w, "replicas": r, "reason": reason}
        for n, w, r in zip(names, weights, counts, strict=True)
    ]
