# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scores: each prioritizer's 0..100 value per eligible cluster, weighted and summed.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import dataclasses

from ansible_collections.tmc.multicluster.plugins.module_utils.placement.filters import (
    _Call,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    _COLUMN_GETTERS,
    ClusterView,
    _pick,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.prioritizers import Metric

# --------------------------------------------------------------------------
# Scores


def _score_vector(call: _Call, eligible: list[str]) -> tuple[list[float], list]:
    """Scores of the eligible clusters, and per metric the bounds ``(low, high, #low, #high)``.

    Each term is ``weight * normalised`` with normalised in 0..100 (min-max
    over the eligible clusters; 0 for all when they are all equal), computed
    as ``(value - low) * (weight * 100 / span)`` and summed in prioritizer
    order. :func:`_score_one` computes the very same floats for one cluster.
    """
    totals: list[float] | None = None
    bounds: list = []
    previous = call.previous
    for metric in call.placement.metrics:
        if metric.column is None:
            bounds.append(None)
            if previous:
                top = metric.weight * 100.0
                if totals is None:
                    totals = [top if n in previous else 0.0 for n in eligible]
                else:
                    totals = [t + (top if n in previous else 0.0) for t, n in zip(totals, eligible, strict=True)]
            continue
        values = _pick(call.snapshot.column(metric.column), eligible)
        low, high = min(values), max(values)
        bounds.append((low, high, values.count(low), values.count(high)))
        if low == high:
            continue
        terms = _terms(metric, low, high, values)
        totals = terms if totals is None else [t + x for t, x in zip(totals, terms, strict=True)]
    return (totals if totals is not None else [0.0] * len(eligible)), bounds


def _terms(metric: Metric, low: float, high: float, values: list[float]) -> list[float]:
    """The score formula, the one place it is written: ``weight * normalised`` per value, normalised
    0..100 by min-max over the eligible clusters (``low < high``), as ``(value - low) * (weight * 100 /
    span)`` (or from ``high`` when lower is better)."""
    scale = metric.weight * 100.0 / (high - low)
    return [(v - low) * scale for v in values] if metric.higher else [(high - v) * scale for v in values]


def _metric_value(metric: Metric, bound: tuple | None, previous: frozenset[str], view: ClusterView) -> float:
    """One cluster's normalised 0..100 value of one metric (for explanations): its term at weight 1."""
    if metric.column is None:
        return 100.0 if view.name in previous else 0.0
    low, high = bound[0], bound[1]
    if low == high:
        return 0.0
    return _terms(dataclasses.replace(metric, weight=1.0), low, high, [_COLUMN_GETTERS[metric.column](view)])[0]


def _score_one(call: _Call, bounds: list, view: ClusterView) -> float:
    """The score :func:`_score_vector` gives ``view``, from the same bounds and in the same float steps."""
    total = None
    for metric, bound in zip(call.placement.metrics, bounds, strict=True):
        if metric.column is None:
            if not call.previous:
                continue
            top = metric.weight * 100.0
            term = top if view.name in call.previous else 0.0
        else:
            low, high = bound[0], bound[1]
            if low == high:
                continue
            term = _terms(metric, low, high, [_COLUMN_GETTERS[metric.column](view)])[0]
        total = term if total is None else total + term
    return 0.0 if total is None else total


def rank_key(steady: bool, previous: frozenset[str], name: str, score: float) -> tuple:
    """Where a cluster ranks (ascending = better): under Steady the clusters of the previous decision
    first, then by score, highest first, then by name. The only place the order is written."""
    return (0 if steady and name in previous else 1, -score, name)
