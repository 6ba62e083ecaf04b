# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What placement reads of the fleet: field helpers, label selectors, resources, taints,
cluster views and snapshots (views plus the per-cluster columns hot loops read).

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, prioritizers
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.quantity import (
    _ceil_int,
    bounded_quantity,
    to_epoch,
)

ADVANCED_GATE = "TMCAdvancedPlacement"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
TAINT_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)
TOPOLOGY_LOCATION = "location"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DUPLICATED = "Duplicated"
DIVIDED = "Divided"
DYNAMIC_AVAILABLE_CAPACITY = "AvailableCapacity"
PRIORITIZERS = prioritizers.NAMES
DEFAULT_PRIORITIZERS = prioritizers.DEFAULT
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

# --------------------------------------------------------------------------
# Small helpers


def _label_value(value: object) -> str:
    """Label values are strings; YAML booleans become ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _labels(obj: object, field: str) -> dict[str, str]:
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise api.SpecError(field, f"must be a mapping of label keys to values, not {type(obj).__name__}")
    return {str(k): _label_value(v) for k, v in obj.items()}


def _mapping(obj: object, field: str) -> Mapping:
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise api.SpecError(field, f"must be a mapping, not {type(obj).__name__}")
    return obj


def _sequence(obj: object, field: str) -> Sequence:
    if obj is None:
        return ()
    if isinstance(obj, (str, bytes, Mapping)) or not isinstance(obj, Sequence):
        raise api.SpecError(field, f"must be a list, not {type(obj).__name__}")
    return obj


def _int(obj: object, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise api.SpecError(field, f"must be an integer, not {obj!r}")
    if minimum is not None and obj < minimum:
        raise api.SpecError(field, f"must be >= {minimum}, not {obj}")
    if maximum is not None and obj > maximum:
        raise api.SpecError(field, f"must be <= {maximum}, not {obj}")
    return obj


# --------------------------------------------------------------------------
# Label selectors


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key operator values``."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op == "In":
            return labels.get(self.key) in self.values
        if op == "NotIn":
            return labels.get(self.key) not in self.values
        if op == "Exists":
            return self.key in labels
        return self.key not in labels

    def describe(self) -> str:
        if self.operator in ("In", "NotIn"):
            return f"{self.key} {self.operator} [{', '.join(sorted(self.values))}]"
        return f"{self.key} {self.operator}"


@dataclass(frozen=True)
class Selector:
    """A label selector (matchLabels become ``In`` requirements). Empty matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for r in self.requirements:
            op = r.operator
            if op == "In":
                if labels.get(r.key) not in r.values:
                    return False
            elif op == "NotIn":
                if labels.get(r.key) in r.values:
                    return False
            elif (r.key in labels) != (op == "Exists"):
                return False
        return True

    def mismatches(self, labels: Mapping[str, str]) -> list[str]:
        """One sentence per requirement the labels fail."""
        out = []
        for r in self.requirements:
            if not r.matches(labels):
                has = f"{r.key}={labels[r.key]}" if r.key in labels else f"no {r.key} label"
                out.append(f"requires {r.describe()}, cluster has {has}")
        return out

    def describe(self) -> str:
        return ", ".join(r.describe() for r in self.requirements) or "everything"


def parse_selector(obj: object, field: str) -> Selector | None:
    """A LabelSelector dict as a :class:`Selector`; None when absent."""
    if obj is None:
        return None
    obj = _mapping(obj, field)
    requirements = [
        Requirement(key, "In", frozenset([value]))
        for key, value in sorted(_labels(obj.get("matchLabels"), f"{field}.matchLabels").items())
    ]
    for i, expr in enumerate(_sequence(obj.get("matchExpressions"), f"{field}.matchExpressions")):
        requirements.append(_parse_requirement(expr, f"{field}.matchExpressions[{i}]"))
    return Selector(tuple(requirements))


def _parse_requirement(expr: object, field: str) -> Requirement:
    expr = _mapping(expr, field)
    key = expr.get("key")
    if not isinstance(key, str) or not key:
        raise api.SpecError(f"{field}.key", "is required")
    operator = expr.get("operator")
    if operator not in SELECTOR_OPERATORS:
        raise api.SpecError(f"{field}.operator", f"must be one of {', '.join(SELECTOR_OPERATORS)}, not {operator!r}")
    values = [_label_value(v) for v in _sequence(expr.get("values"), f"{field}.values")]
    if operator in ("In", "NotIn") and not values:
        raise api.SpecError(f"{field}.values", f"must not be empty with operator {operator}")
    if operator in ("Exists", "DoesNotExist") and values:
        raise api.SpecError(f"{field}.values", f"must be empty with operator {operator}")
    return Requirement(key, operator, frozenset(values))


# --------------------------------------------------------------------------
# Clusters


@dataclass(frozen=True)
class Resources:
    """cpu (cores), memory (bytes), pods; None = not reported."""

    cpu: float | None = None
    memory: int | None = None
    pods: int | None = None

    @classmethod
    def parse(cls, obj: object, field: str) -> Resources:
        obj = _mapping(obj, field)
        cpu, memory, pods = obj.get("cpu"), obj.get("memory"), obj.get("pods")
        return cls(
            None if cpu is None else float(bounded_quantity(cpu, "cpu", f"{field}.cpu")),
            None if memory is None else _ceil_int(bounded_quantity(memory, "memory", f"{field}.memory")),
            None if pods is None else _ceil_int(bounded_quantity(pods, "pods", f"{field}.pods")),
        )

    def or_else(self, other: Resources) -> Resources:
        """Field by field: this value when known, else ``other``'s."""
        return Resources(
            other.cpu if self.cpu is None else self.cpu,
            other.memory if self.memory is None else self.memory,
            other.pods if self.pods is None else self.pods,
        )

    def capped(self, ceiling: Resources) -> Resources:
        """Field by field: the smaller of this value and ``ceiling`` when both are known."""

        def cap(mine, top):
            return mine if top is None or mine is None else min(mine, top)

        return Resources(cap(self.cpu, ceiling.cpu), cap(self.memory, ceiling.memory), cap(self.pods, ceiling.pods))

    def known_zero(self) -> str | None:
        """The first resource known to be zero (or less), else None."""
        for name in ("pods", "cpu", "memory"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                return name
        return None

    def as_cel(self) -> dict:
        return {
            "cpu": float(self.cpu or 0.0),
            "memory": int(self.memory or 0),
            "pods": int(self.pods or 0),
        }


NO_RESOURCES = Resources()
PLAIN_ADMISSION = ((), False, None, None)  # ClusterView.admission_key of a cluster any placement admits


@dataclass(frozen=True)
class Taint:
    """A cluster taint; ``time_added`` in epoch seconds."""

    key: str
    value: str = ""
    effect: str = NO_SCHEDULE
    time_added: float | None = None

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"

    def as_cel(self) -> dict:
        return {"key": self.key, "value": self.value, "effect": self.effect}


UNSCHEDULABLE_TAINT = Taint(api.TAINT_UNSCHEDULABLE, "", NO_SCHEDULE)


def parse_taint(obj: object, field: str) -> Taint:
    obj = _mapping(obj, field)
    key = obj.get("key")
    if not isinstance(key, str) or not key:
        raise api.SpecError(f"{field}.key", "is required")
    effect = obj.get("effect")
    if effect not in TAINT_EFFECTS:
        raise api.SpecError(f"{field}.effect", f"must be NoSchedule or NoExecute, not {effect!r}")
    return Taint(key, _label_value(obj.get("value")), effect, to_epoch(obj.get("timeAdded"), f"{field}.timeAdded"))


@dataclass(frozen=True)
class ClusterView:
    """What placement needs of one ClusterRegistration, parsed once. Treat ``labels`` as read-only."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    location: str = ""
    allocatable: Resources = NO_RESOURCES
    capacity: Resources = NO_RESOURCES
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    namespace_selector: Selector | None = None
    workloads: int = 0
    # Why the cluster's data cannot be read (a quantity out of range, a malformed taint): such a
    # cluster is ineligible for every placement, with this reason, and never fails the others.
    unreadable: str | None = None

    @cached_property
    def plain(self) -> bool:
        """True when only labels, location and predicates can reject this cluster."""
        return self.admission_key == PLAIN_ADMISSION

    @cached_property
    def admission_key(self) -> tuple:
        """What admission (namespace, cordon, taints, capacity) depends on: clusters share few of these."""
        if self.unreadable is not None:
            return ("unreadable", self.unreadable)
        return (self.taints, self.unschedulable, self.namespace_selector, self.allocatable.known_zero())

    @cached_property
    def predicate_results(self) -> dict:
        """Memoised CEL outcomes by expression (a view never changes, so neither do they)."""
        return {}

    @cached_property
    def cel_value(self) -> dict:
        """The ``cluster`` variable of CEL predicates (docs/api-reference/contract.md)."""
        return {
            "name": self.name,
            "labels": dict(self.labels),
            "location": self.location,
            "allocatable": self.allocatable.as_cel(),
            "capacity": self.capacity.as_cel(),
            "taints": [t.as_cel() for t in self.taints],
            "unschedulable": self.unschedulable,
        }

    @cached_property
    def cel_context(self) -> Any:
        return cel.make_context(self.cel_value)

    def topology_value(self, key: str) -> str | None:
        """The cluster's group for a spread topology key (``location`` or a label key)."""
        value = self.location if key == TOPOLOGY_LOCATION else self.labels.get(key)
        return value or None


def _cluster_name(obj: Mapping, field: str) -> str:
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise api.SpecError(f"{field}.name", "is required")
    return name


def _taints(items: object, field: str) -> list[Taint]:
    return [parse_taint(t, f"{field}[{i}]") for i, t in enumerate(_sequence(items, field))]


def _unique(taints: Iterable[Taint]) -> tuple[Taint, ...]:
    return tuple(dict.fromkeys(taints))


def _view_from_object(obj: Mapping) -> ClusterView:
    meta = _mapping(obj.get("metadata"), "metadata")
    name = _cluster_name(meta, "metadata")
    where = f"clusters[{name}]"
    spec = _mapping(obj.get("spec"), f"{where}.spec")
    status = _mapping(obj.get("status"), f"{where}.status")
    declared = Resources.parse(spec.get("capacity"), f"{where}.spec.capacity")
    capacity = declared.or_else(Resources.parse(status.get("capacity"), f"{where}.status.capacity"))
    allocatable = Resources.parse(status.get("allocatable"), f"{where}.status.allocatable")
    allocatable = allocatable.or_else(capacity).capped(declared)
    taints = _taints(spec.get("taints"), f"{where}.spec.taints") + _taints(
        status.get("taints"), f"{where}.status.taints"
    )
    workloads = status.get("workloads") or 0
    return ClusterView(
        name=name,
        labels=_labels(meta.get("labels"), f"{where}.metadata.labels"),
        location=_label_value(spec.get("location")),
        allocatable=allocatable,
        capacity=capacity,
        taints=_unique(taints),
        unschedulable=bool(spec.get("unschedulable", False)),
        namespace_selector=parse_selector(spec.get("namespaceSelector"), f"{where}.spec.namespaceSelector"),
        workloads=_int(workloads, f"{where}.status.workloads", minimum=0),
    )


def _view_from_simple(obj: Mapping) -> ClusterView:
    name = _cluster_name(obj, "clusters[]")
    where = f"clusters[{name}]"
    capacity = Resources.parse(obj.get("capacity"), f"{where}.capacity")
    allocatable = Resources.parse(obj.get("allocatable"), f"{where}.allocatable").or_else(capacity)
    return ClusterView(
        name=name,
        labels=_labels(obj.get("labels"), f"{where}.labels"),
        location=_label_value(obj.get("location")),
        allocatable=allocatable,
        capacity=capacity,
        taints=_unique(_taints(obj.get("taints"), f"{where}.taints")),
        unschedulable=bool(obj.get("unschedulable", False)),
        namespace_selector=parse_selector(obj.get("namespaceSelector"), f"{where}.namespaceSelector"),
        workloads=_int(obj.get("workloads") or 0, f"{where}.workloads", minimum=0),
    )


def cluster_view(obj: object) -> ClusterView:
    """Parse a ClusterRegistration object, or the simple form, into a :class:`ClusterView`."""
    if isinstance(obj, ClusterView):
        return obj
    if not isinstance(obj, Mapping):
        raise api.SpecError("clusters[]", f"each cluster must be a mapping, not {type(obj).__name__}")
    parse, meta = (
        (_view_from_object, _mapping(obj.get("metadata"), "metadata"))
        if "metadata" in obj
        else (
            _view_from_simple,
            obj,
        )
    )
    name = _cluster_name(meta, "metadata" if parse is _view_from_object else "clusters[]")
    try:
        return parse(obj)
    except api.SpecError as err:
        return _unreadable_view(name, meta, obj, str(err))


def _unreadable_view(name: str, meta: Mapping, obj: Mapping, reason: str) -> ClusterView:
    """A cluster whose data the engine cannot read: labels and location kept (when readable) for
    the explanation, ineligible everywhere with ``reason``."""
    try:
        labels = _labels(meta.get("labels"), "labels")
    except api.SpecError:
        labels = {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else obj
    return ClusterView(name=name, labels=labels, location=_label_value(spec.get("location")), unreadable=reason)


def decision_inputs_changed(old: object, new: object) -> bool:
    """Whether a change of one ClusterRegistration (``old`` -> ``new`` objects) can alter a decision.

    Compares what the engine reads of the cluster (labels, location, taints, cordon,
    namespaceSelector, capacity, allocatable, and whether it is readable at all), except
    ``status.workloads``: the controller rewrites it after every decision and only the Balance
    score reads it, at the next decision. A cluster appearing or going always counts.
    """
    if old is None or new is None:
        return True
    before, after = cluster_view(old), cluster_view(new)
    return dataclasses.replace(before, workloads=0) != dataclasses.replace(after, workloads=0)


def cluster_views(clusters: Iterable[object]) -> dict[str, ClusterView]:
    """Views by name; a duplicate name is a SpecError (the answer would depend on list order)."""
    if isinstance(clusters, Mapping):
        clusters = clusters.values()
    views: dict[str, ClusterView] = {}
    for obj in clusters or ():
        view = cluster_view(obj)
        if view.name in views and views[view.name] != view:
            raise api.SpecError(f"clusters[{view.name}]", "the same cluster name appears twice with different content")
        views[view.name] = view
    return views


# --------------------------------------------------------------------------
# Snapshots: the views plus the per-cluster columns that hot loops read


def _workloads(view: ClusterView) -> int:
    return view.workloads


def _cpu(view: ClusterView) -> float:
    return view.allocatable.cpu or 0.0


def _memory(view: ClusterView) -> int:
    return view.allocatable.memory or 0


_COLUMN_GETTERS = {"workloads": _workloads, "cpu": _cpu, "memory": _memory}
_TOPOLOGY_COLUMN = "topology:"


def _column_getter(name: str):
    getter = _COLUMN_GETTERS.get(name)
    if getter is not None:
        return getter
    key = name[len(_TOPOLOGY_COLUMN) :]

    def topology(view: ClusterView, key: str = key) -> str | None:
        return view.topology_value(key)

    return topology


_ABSENT = object()


class Snapshot:
    """Cluster views by name, plus columns (name -> value) and groups (value -> names) built on demand.

    Copy-on-write: a change makes a new snapshot sharing what did not change.
    A decision keeps the snapshot it was made on, so its explanations never
    mix old and new cluster data.
    """

    __slots__ = ("views", "_columns", "_groups")

    def __init__(self, views: dict[str, ClusterView], columns: dict | None = None, groups: dict | None = None):
        self.views = views
        self._columns = {} if columns is None else columns
        self._groups = {} if groups is None else groups

    def column(self, name: str) -> dict:
        column = self._columns.get(name)
        if column is None:
            getter = _column_getter(name)
            column = {n: getter(v) for n, v in self.views.items()}
            self._columns[name] = column
        return column

    def groups(self, name: str) -> dict:
        """A column inverted: value -> set of cluster names (None: clusters without a value)."""
        groups = self._groups.get(name)
        if groups is None:
            groups = {}
            for cluster, value in self.column(name).items():
                groups.setdefault(value, set()).add(cluster)
            self._groups[name] = groups
        return groups

    def _moved(self, cluster: str, new_value_of) -> tuple[dict, dict]:
        columns, groups = {}, {}
        for name, column in self._columns.items():
            old = column.get(cluster, _ABSENT)
            new = _ABSENT if new_value_of is None else new_value_of(name)
            if old == new and old is not _ABSENT:
                columns[name] = column
                if name in self._groups:
                    groups[name] = self._groups[name]
                continue
            column = dict(column)
            if new is _ABSENT:
                column.pop(cluster, None)
            else:
                column[cluster] = new
            columns[name] = column
            if name in self._groups:
                groups[name] = _regroup(self._groups[name], cluster, old, new)
        return columns, groups

    def replaced(self, view: ClusterView) -> Snapshot:
        views = dict(self.views)
        views[view.name] = view
        columns, groups = self._moved(view.name, lambda name: _column_getter(name)(view))
        return Snapshot(views, columns, groups)

    def removed(self, cluster: str) -> Snapshot:
        views = dict(self.views)
        views.pop(cluster, None)
        columns, groups = self._moved(cluster, None)
        return Snapshot(views, columns, groups)


def _regroup(groups: dict, cluster: str, old: object, new: object) -> dict:
    groups = dict(groups)
    if old is not _ABSENT:
        members = groups[old] - {cluster}
        if members:
            groups[old] = members
        else:
            del groups[old]
    if new is not _ABSENT:
        groups[new] = groups.get(new, set()) | {cluster}
    return groups


def _pick(column: Mapping, names: list[str]) -> list:
    """``[column[n] for n in names]``, with the lookups done in C."""
    if len(names) < 2:
        return [column[n] for n in names]
    return list(operator.itemgetter(*names)(column))
