# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prioritizers: what a placement can rank its eligible clusters by, in a registry.

A prioritizer gives each eligible cluster one or more *metrics*: a column of the fleet snapshot normalised
to 0..100 over the eligible clusters (min-max; higher or lower is better), or, for ``Steady``, membership
in the previous decision. ``scoring`` weighs and sums them in the registry's order (the order is part of
the result: float sums). Adding a prioritizer is one class here, registered with ``@register``, plus its
name in the CRD's ``spec.prioritizers[].name`` enum (a unit test holds the two to each other).

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Metric:
    """One normalised term of the score."""

    label: str
    weight: float
    column: str | None  # a snapshot column; None: membership in the previous decision (Steady)
    higher: bool = True


class Prioritizer:
    """One way to rank clusters: its metrics at a weight, and which cluster changes re-score it."""

    name: ClassVar[str]
    keeps_previous: ClassVar[bool] = False  # the previous decision's clusters rank first (scoring.rank_key)

    def metrics(self, weight: int) -> tuple[Metric, ...]:
        raise NotImplementedError

    def rescored_by(self, change) -> bool:
        """Whether a cluster's ``change`` (an index.ClusterChange) can change this prioritizer's values."""
        return False


REGISTRY: dict[str, Prioritizer] = {}


def register(cls: type[Prioritizer]) -> type[Prioritizer]:
    if cls.name in REGISTRY:
        raise ValueError(f"prioritizer {cls.name} registered twice")
    REGISTRY[cls.name] = cls()
    return cls


@register
class Balance(Prioritizer):
    """Fewer workloads (``status.workloads``) is better."""

    name = "Balance"

    def metrics(self, weight: int) -> tuple[Metric, ...]:
        return (Metric("Balance", float(weight), "workloads", higher=False),)

    def rescored_by(self, change) -> bool:
        return bool(change.workloads)


@register
class Steady(Prioritizer):
    """The clusters of the previous decision score full marks, and rank first."""

    name = "Steady"
    keeps_previous = True

    def metrics(self, weight: int) -> tuple[Metric, ...]:
        return (Metric("Steady", float(weight), None),)


@register
class Capacity(Prioritizer):
    """More allocatable CPU and memory is better (half the weight each)."""

    name = "Capacity"

    def metrics(self, weight: int) -> tuple[Metric, ...]:
        return (Metric("Capacity(cpu)", weight / 2.0, "cpu"), Metric("Capacity(memory)", weight / 2.0, "memory"))

    def rescored_by(self, change) -> bool:
        return bool(change.resources)


NAMES = tuple(REGISTRY)  # the registry's order: how scores are summed and spec lists are normalised
DEFAULT = (("Balance", 1), ("Steady", 1))


def metrics(prioritizers: tuple[tuple[str, int], ...]) -> tuple[Metric, ...]:
    """The metrics of ``(name, weight)`` pairs, in their order."""
    return tuple(m for name, weight in prioritizers for m in REGISTRY[name].metrics(weight))


def keeps_previous(names) -> bool:
    return any(REGISTRY[name].keeps_previous for name in names)


def rescored_by(names, change) -> bool:
    return any(REGISTRY[name].rescored_by(change) for name in names)
