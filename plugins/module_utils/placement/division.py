# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replicas: how a Divided workload's replicas are split over the selected clusters.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.apportion import apportion, integer_weights
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


def _replica_cap(allocatable: Mapping | Resources | None, request: Resources | None, where: str) -> int | None:
    """How many replicas fit: free pod slots (allocatable pods), and with a per-replica request also
    allocatable cpu / request and memory / request; None when nothing is known."""
    if allocatable is None:
        return None
    alloc = allocatable if isinstance(allocatable, Resources) else Resources.parse(allocatable, where)
    caps = []
    if request is not None and request.cpu and alloc.cpu is not None:
        caps.append(math.floor(Decimal(repr(alloc.cpu)) / Decimal(repr(request.cpu))))
    if request is not None and request.memory and alloc.memory is not None:
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


@dataclass(frozen=True)
class Division:
    """One workload's replicas over the selected clusters, and where they do not fit.

    ``shares``: cluster -> replicas (every cluster given, 0 included). ``room``: cluster -> how many
    replicas fit there (None: the cluster reports no capacity). ``over``: cluster -> replicas placed
    beyond its room (an over-commit: they will wait on that cluster for capacity).
    """

    total: int
    shares: dict[str, int]
    room: dict[str, int | None]
    over: dict[str, int]

    @property
    def shortfall(self) -> str | None:
        """One line with the numbers when the replicas do not fit, else None."""
        if not self.over:
            return None
        excess = sum(self.over.values())
        where = ", ".join(f"{c} {self.shares[c]} for room {self.room[c]}" for c in sorted(self.over))
        fits = self.total - excess if len(set(self.shares.values()) | {self.total}) > 1 else None
        head = f"{self.total} replicas" + (f", room for {fits}" if fits is not None else "")
        return f"{head}: {excess} over capacity ({where})"


def divide(total: int, items: Sequence[tuple[str, Fraction, int | None]], duplicated: bool = False) -> Division:
    """Split ``total`` replicas over ``(cluster, weight, room)`` items (see :func:`divide_replicas`).

    ``duplicated``: every cluster runs ``total`` (the room is still checked and reported).
    """
    items = sorted(items)  # ties go by cluster name, whatever order the caller lists them in
    names = [name for name, _weight, _room in items]
    room = {name: cap for name, _weight, cap in items}
    if duplicated:
        shares = dict.fromkeys(names, total)
    else:
        weights = integer_weights([w for _name, w, _cap in items]) if items else ()
        counts = apportion(total, weights, [cap for _name, _w, cap in items])
        shares = dict(zip(names, counts, strict=True))
    over = {n: shares[n] - room[n] for n in names if room[n] is not None and shares[n] > room[n]}
    return Division(total, shares, room, over)


def divide_replicas(
    total: int, decisions: Sequence[Mapping], per_replica_request: Mapping | Resources | None = None
) -> list[dict]:
    """Split ``total`` replicas over weighted decisions; returns copies with ``replicas`` set.

    Rule (Webster / Sainte-Laguë, one replica at a time, within quota; see
    ``placement/apportion.py``): each next replica goes to the cluster with the
    highest ``w / (2s + 1)`` (``s`` its replicas so far; ties by name, as the
    decisions are listed by name) among those it keeps within one replica of
    their exact share ``total * w / W``. So scaling up never takes a replica
    from a cluster and scaling down never gives one (house monotonicity), every
    share is within one replica of its exact quota, the shares sum exactly to
    ``total`` and none is negative. Weight 0 gets nothing -- unless every
    weight is 0, then the split is equal. No decisions: nothing is placed.

    Room: with an ``allocatable`` mapping in a decision, a cluster takes at
    most as many replicas as fit -- its free pod slots (allocatable pods), and
    with ``per_replica_request`` (``{cpu, memory}`` quantities) its allocatable
    cpu and memory over the request. Once a cluster is full the next replicas
    go to the others by Webster priority; when every cluster with weight is
    full the rest is split by priority regardless (over-commit, so the sum
    stays what was asked) and :func:`divide` reports it.
    """
    request = _request(per_replica_request)
    division = divide(_total(total), _items(decisions, request))
    out = []
    for decision in decisions:
        copy = dict(decision)
        copy["replicas"] = division.shares.get(decision["cluster"], 0)
        out.append(copy)
    return out


def _total(total: object) -> int:
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise api.SpecError("replicas", f"must be an integer >= 0, not {total!r}")
    return total


def _request(per_replica_request: object) -> Resources | None:
    if per_replica_request is None or isinstance(per_replica_request, Resources):
        return per_replica_request
    return Resources.parse(per_replica_request, "per_replica_request")


def _items(decisions: Sequence[Mapping], request: Resources | None) -> list[tuple[str, Fraction, int | None]]:
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
    return items


def _dynamic_weight(view: ClusterView, request: Resources | None) -> int | None:
    """``dynamic: AvailableCapacity``: how many replicas fit (free pod slots, and cpu and memory over a
    per-replica request when one is known); None when the cluster reports no capacity."""
    return _replica_cap(view.allocatable, request, view.name)


def _decision_weight(placement: CompiledPlacement, view: ClusterView, request: Resources | None) -> int:
    if placement.replica_type == DUPLICATED:
        return 1
    if placement.weights is not None:
        return placement.weights.get(view.name, 0)
    if placement.dynamic:
        weight = _dynamic_weight(view, request)
        return 0 if weight is None else weight
    return 1


def _weight_note(
    placement: CompiledPlacement, views: Mapping[str, ClusterView], names: Sequence[str], request: Resources | None
) -> str | None:
    """Why dynamic weights are what they are when capacity is unknown (said in every decision's reason)."""
    if placement.replica_type == DUPLICATED or placement.weights is not None or not placement.dynamic:
        return None
    unknown = [n for n in names if _dynamic_weight(views[n], request) is None]
    if not unknown:
        return None
    if len(unknown) == len(names):
        return "no selected cluster reports capacity: replicas split evenly"
    return f"no capacity reported by {', '.join(unknown)}: weight 0 there"


def _decision_reason(placement: CompiledPlacement) -> str:
    if placement.number_of_clusters is None:
        reason = "Selected: eligible (no numberOfClusters limit)"
    else:
        reason = f"Selected: ranked within numberOfClusters={placement.number_of_clusters}"
    if placement.spread:
        reason += "; spread by " + ", ".join(c.topology_key for c in placement.spread)
    if placement.term is not None:
        reason += f"; clusterAffinities term {placement.term.name}"
    return reason


def divide_for(
    placement: CompiledPlacement,
    views: Mapping[str, ClusterView],
    names: Sequence[str],
    total: int,
    request: Resources | None,
) -> Division:
    """One workload's ``total`` replicas over the selected ``names`` (Duplicated: ``total`` each)."""
    items = [
        (n, Fraction(_decision_weight(placement, views[n], request)), _replica_cap(views[n].allocatable, request, n))
        for n in names
    ]
    return divide(total, items, duplicated=placement.replica_type == DUPLICATED)


def _decisions(
    call: _Call, selected: Iterable[str], replicas: int | None, request: Resources | None
) -> tuple[list[dict[str, Any]], Division | None]:
    """The decisions (by cluster name) and, with ``replicas``, how they divide."""
    placement, views = call.placement, call.views
    names = sorted(selected)
    reason = _decision_reason(placement)
    note = _weight_note(placement, views, names, request)
    if note:
        reason = f"{reason}; {note}"
    weights = [_decision_weight(placement, views[n], request) for n in names]
    if replicas is None:
        return [{"cluster": n, "weight": w, "reason": reason} for n, w in zip(names, weights, strict=True)], None
    division = divide_for(placement, views, names, replicas, request)
    decisions = [
        {"cluster": n, "weight": w, "replicas": division.shares[n], "reason": reason}
        for n, w in zip(names, weights, strict=True)
    ]
    return decisions, division
