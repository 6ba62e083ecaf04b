# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement engine: which member clusters a WorkloadPlacement selects, and why.

Private to this collection (module_utils are not a public API). Pure: no I/O,
no Kubernetes calls and no implicit clock -- the time, when a decision depends
on it, is the explicit ``now`` argument. The same inputs always give the same
decisions, whatever the order of the cluster list and in whichever process.

Entry points
------------
``decide(placement, clusters, previous=None, namespace_labels=None, *, gates=None,
now=None, replicas=None, per_replica_request=None) -> PlacementResult``
    One-shot decision (the ``placement`` module, the ``place`` filter).
``PlacementIndex``
    The incremental form for the controller: clusters are parsed once and
    indexed by label and location; ``update_cluster`` / ``remove_cluster``
    return the keys of the placements whose decisions the change can alter;
    ``PlacementIndex.decide`` gets candidates from the indexes (set algebra)
    before any per-cluster work or CEL, and patches its last decision when it
    can prove the patch equal to a full decide. Its answers always equal
    :func:`decide`'s over the same clusters (a property test holds it to that).
``divide_replicas(total, decisions, per_replica_request=None)``
    Splits one workload's replica count over weighted decisions.
``parse_quantity``, ``cluster_view``, ``compile_placement``
    The building blocks, usable on their own.

Inputs
------
``placement`` is a WorkloadPlacement object (``metadata`` + ``spec``) or its
spec alone. ``clusters`` are ClusterRegistration objects (``metadata.name``,
``metadata.labels``, ``spec``, ``status``) or the simple form ``{name, labels,
location, allocatable, capacity, taints, unschedulable, namespaceSelector,
workloads}``. Each cluster is parsed once into a frozen :class:`ClusterView`:
cpu in cores (float), memory in bytes (int), pods (int); effective taints are
``spec.taints`` + ``status.taints``; declared ``spec.capacity`` overrides the
measured capacity and caps the allocatable.

How a decision is made
----------------------
1. **Filters.** A cluster is *eligible* when all of these hold, checked in this
   order: ``clusterSelector`` (matchLabels and matchExpressions In, NotIn,
   Exists, DoesNotExist); ``locations`` (the cluster's ``spec.location`` is
   listed); the cluster's ``spec.namespaceSelector`` matches the labels of the
   placement's namespace (which always carry ``kubernetes.io/metadata.name``);
   not cordoned (``unschedulable`` rejects unless a toleration matches the
   taint ``tmc.kcp.io/unschedulable:NoSchedule``); every taint tolerated (a
   NoExecute taint with ``timeAdded`` is tolerated only until ``timeAdded +
   tolerationSeconds``; the most permissive matching toleration counts; with
   no ``now`` a time-limited toleration counts as expired); no allocatable
   resource known to be zero ("not enough capacity"); and finally every CEL
   predicate true. A cluster in ``previous`` keeps its place despite
   NoSchedule taints and a cordon: like Kubernetes nodes, NoSchedule stops new
   placements and NoExecute evicts.
2. **Scores.** Each prioritizer gives every eligible cluster a value in
   0..100: ``Balance`` prefers fewer workloads (``status.workloads``) and
   ``Capacity`` more allocatable cpu and memory (the mean of the two), each
   min-max normalised over the eligible clusters (0 for all when they are all
   equal); ``Steady`` gives 100 to clusters in ``previous``, 0 to others. The
   score is the sum of weight x value, in the order Balance, Steady, Capacity.
   Without ``prioritizers`` the default is Balance(1) + Steady(1).
3. **Selection.** Clusters are ranked by score descending, then name
   ascending. Without spread constraints the first ``numberOfClusters`` are
   chosen (every eligible cluster when it is absent). With spread constraints
   selection is greedy in rank order: groups are the distinct values of the
   topology key (``location`` or a label key; clusters without a value are
   left out); ``maxGroups`` keeps the groups of the best-ranked clusters;
   until ``minGroups`` groups are used only clusters opening a new group are
   taken; a cluster is taken only if afterwards, in every constraint, the
   largest group count minus the smallest count over the allowed groups is at
   most ``maxSkew``. When ``minGroups`` cannot be met nothing is selected.
4. **Replicas.** ``Duplicated`` runs the whole workload on every cluster
   (weight 1). ``Divided`` gives each cluster a weight -- static
   ``weights[]`` (absent = 0), ``dynamic: AvailableCapacity`` (allocatable
   cpu in millicores, or the number of replicas that fit when a per-replica
   request is known), or 1 each -- and :func:`divide_replicas` splits a
   replica count by the largest-remainder rule.

Results
-------
:class:`PlacementResult` has ``decisions`` (``[{cluster, weight, replicas?,
reason}]``, by cluster name), ``explanations`` (``{cluster: {selected,
reasons}}`` for every cluster given, computed on first access) and
``to_status()`` (the ``status.decisions`` list of the API contract).

Rejection reasons start with a fixed category: ``label mismatch``,
``location``, ``namespace not allowed``, ``unschedulable``, ``taint not
tolerated``, ``not enough capacity``, ``predicate false``, ``predicate
error``, ``spread limit``, ``cut by numberOfClusters``.

Errors and gates
----------------
A spec that cannot be used raises :class:`api.SpecError` naming the field
(``spec.predicates[1]``, ``spec.spreadConstraints[0].maxGroups``, ...). With
the ``TMCAdvancedPlacement`` gate off, spread constraints, prioritizers,
predicates and replica weights (static or dynamic) raise
:class:`api.FeatureGateError` naming the gate.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import math
import operator
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from fractions import Fraction
from functools import cached_property
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, cel_predicates

ADVANCED_GATE = "TMCAdvancedPlacement"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
TAINT_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)
TOPOLOGY_LOCATION = "location"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DUPLICATED = "Duplicated"
DIVIDED = "Divided"
DYNAMIC_AVAILABLE_CAPACITY = "AvailableCapacity"
PRIORITIZERS = ("Balance", "Steady", "Capacity")
DEFAULT_PRIORITIZERS = (("Balance", 1), ("Steady", 1))
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

# --------------------------------------------------------------------------
# Kubernetes quantities

_QUANTITY_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_MAX_EXPONENT = 30


def parse_quantity(value: object, field: str = "quantity") -> Decimal:
    """A Kubernetes quantity (``100m``, ``2``, ``1.5``, ``4Gi``, ``512Mi``, ``1e3``, ``1k``) as an exact Decimal.

    Integers and floats are taken as plain numbers. Anything else raises
    :class:`api.SpecError` naming ``field``.
    """
    if isinstance(value, bool):
        raise api.SpecError(field, f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise api.SpecError(field, f"{value!r} is not a finite quantity")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise api.SpecError(field, f"{value!r} is not a quantity")
    match = _QUANTITY_RE.match(value.strip())
    if not match:
        raise api.SpecError(
            field, f"{value!r} is not a Kubernetes quantity (examples: 100m, 2, 1.5, 4Gi, 512Mi, 1e3, 1k)"
        )
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise api.SpecError(field, f"{value!r} is not a Kubernetes quantity") from None
    if exponent:
        power = int(exponent[1:])
        if abs(power) > _MAX_EXPONENT:
            raise api.SpecError(field, f"{value!r} is out of range")
        return amount.scaleb(power)
    return amount * _SUFFIXES[suffix or ""]


def parse_cpu(value: object, field: str = "cpu") -> float:
    """Cores as a float: ``100m`` -> 0.1, ``2`` -> 2.0."""
    return float(parse_quantity(value, field))


def _ceil_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def parse_memory(value: object, field: str = "memory") -> int:
    """Bytes as an int, rounded up: ``512Mi`` -> 536870912, ``1k`` -> 1000."""
    return _ceil_int(parse_quantity(value, field))


def parse_count(value: object, field: str = "pods") -> int:
    """A count (pods) as an int, rounded up."""
    return _ceil_int(parse_quantity(value, field))


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


def to_epoch(value: object, field: str = "now") -> float | None:
    """A time as epoch seconds: a datetime (naive = UTC), an RFC 3339 string, or a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise api.SpecError(field, f"{value!r} is not a time")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise api.SpecError(field, f"{value!r} is not an RFC 3339 time such as 2024-05-01T12:00:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    raise api.SpecError(field, f"{value!r} is not a time")


def _format_epoch(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def _fmt_number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


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
            None if cpu is None else parse_cpu(cpu, f"{field}.cpu"),
            None if memory is None else parse_memory(memory, f"{field}.memory"),
            None if pods is None else parse_count(pods, f"{field}.pods"),
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

    @cached_property
    def plain(self) -> bool:
        """True when only labels, location and predicates can reject this cluster."""
        return self.admission_key == PLAIN_ADMISSION

    @cached_property
    def admission_key(self) -> tuple:
        """What admission (namespace, cordon, taints, capacity) depends on: clusters share few of these."""
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
        return cel_predicates.make_context(self.cel_value)

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
    if "metadata" in obj:
        return _view_from_object(obj)
    return _view_from_simple(obj)


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
# The placement spec, compiled


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes matching: effect ("" = all), key ("" with Exists = all keys), value for Equal."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


@dataclass(frozen=True)
class SpreadConstraint:
    topology_key: str
    max_skew: int = 1
    min_groups: int | None = None
    max_groups: int | None = None


@dataclass(frozen=True)
class Predicate:
    index: int
    expression: str
    program: Any = field(compare=False, repr=False)

    @property
    def where(self) -> str:
        return f"spec.predicates[{self.index}]"


@dataclass(frozen=True)
class CompiledPlacement:
    """A placement spec validated and compiled once per generation."""

    key: str
    namespace: str | None
    uid: str | None
    generation: object
    selector: Selector | None
    locations: frozenset[str] | None
    predicates: tuple[Predicate, ...]
    number_of_clusters: int | None
    spread: tuple[SpreadConstraint, ...]
    replica_type: str
    weights: Mapping[str, int] | None
    dynamic: str | None
    tolerations: tuple[Toleration, ...]
    prioritizers: tuple[tuple[str, int], ...]

    @cached_property
    def tolerates_cordon(self) -> bool:
        return any(t.tolerates(UNSCHEDULABLE_TAINT) for t in self.tolerations)

    @cached_property
    def spread_label_keys(self) -> frozenset[str]:
        return frozenset(c.topology_key for c in self.spread if c.topology_key != TOPOLOGY_LOCATION)

    @cached_property
    def spread_on_location(self) -> bool:
        return any(c.topology_key == TOPOLOGY_LOCATION for c in self.spread)

    @cached_property
    def metrics(self) -> tuple:
        return _metrics(self.prioritizers)

    @cached_property
    def prioritizer_names(self) -> frozenset[str]:
        return frozenset(name for name, _weight in self.prioritizers)

    @cached_property
    def selector_keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.selector.requirements) if self.selector else frozenset()

    def match_depends_on(self, change: Any) -> bool:
        """Whether a cluster change (a _Change) can alter :meth:`matches`."""
        return bool(change.label_keys & self.selector_keys) or (change.location and self.locations is not None)

    def matches(self, view: ClusterView) -> bool:
        """clusterSelector and locations only (the part the indexes answer)."""
        if self.locations is not None and view.location not in self.locations:
            return False
        return self.selector is None or self.selector.matches(view.labels)


DEFAULT_PROGRAM_CACHE = cel_predicates.ProgramCache()


def _split_placement(placement: object) -> tuple[Mapping, Mapping]:
    if isinstance(placement, CompiledPlacement):  # pragma: no cover - guarded by callers
        raise TypeError("already compiled")
    placement = _mapping(placement, "placement")
    if "spec" in placement:
        return _mapping(placement.get("metadata"), "metadata"), _mapping(placement.get("spec"), "spec")
    return {}, placement


def placement_key(placement: object) -> str:
    """``namespace/name`` of a WorkloadPlacement object ("" for a bare spec)."""
    meta, _spec = _split_placement(placement)
    name, namespace = meta.get("name") or "", meta.get("namespace") or ""
    return f"{namespace}/{name}" if namespace and name else str(name)


def _require_gate(gates: api.FeatureGates, field: str) -> None:
    try:
        gates.require(ADVANCED_GATE)
    except api.FeatureGateError as exc:
        raise api.FeatureGateError(f"{field} needs feature gate {ADVANCED_GATE}: {exc}") from None


def _check_gates(spec: Mapping, gates: api.FeatureGates) -> None:
    gates.require(api.MASTER_GATE)
    rs = spec.get("replicaScheduling") or {}
    used = [
        ("spec.spreadConstraints", bool(spec.get("spreadConstraints"))),
        ("spec.prioritizers", bool(spec.get("prioritizers"))),
        ("spec.predicates", bool(spec.get("predicates"))),
        ("spec.replicaScheduling.weights", isinstance(rs, Mapping) and bool(rs.get("weights"))),
        ("spec.replicaScheduling.dynamic", isinstance(rs, Mapping) and bool(rs.get("dynamic"))),
    ]
    for name, in_use in used:
        if in_use:
            _require_gate(gates, name)


def _parse_tolerations(items: object) -> tuple[Toleration, ...]:
    out = []
    for i, obj in enumerate(_sequence(items, "spec.tolerations")):
        where = f"spec.tolerations[{i}]"
        obj = _mapping(obj, where)
        operator = obj.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            raise api.SpecError(f"{where}.operator", f"must be Equal or Exists, not {operator!r}")
        key = obj.get("key") or ""
        if not isinstance(key, str):
            raise api.SpecError(f"{where}.key", f"must be a string, not {key!r}")
        value = _label_value(obj.get("value"))
        if not key and operator != "Exists":
            raise api.SpecError(f"{where}.operator", "must be Exists when key is empty")
        if operator == "Exists" and value:
            raise api.SpecError(f"{where}.value", "must be empty with operator Exists")
        effect = obj.get("effect") or ""
        if effect not in ("",) + TAINT_EFFECTS:
            raise api.SpecError(f"{where}.effect", f"must be NoSchedule, NoExecute or empty, not {effect!r}")
        seconds = obj.get("tolerationSeconds")
        if seconds is not None:
            seconds = _int(seconds, f"{where}.tolerationSeconds", minimum=0)
            if effect != NO_EXECUTE:
                raise api.SpecError(f"{where}.tolerationSeconds", "is only allowed with effect NoExecute")
        out.append(Toleration(key, operator, value, effect, seconds))
    return tuple(out)


def _parse_spread(items: object) -> tuple[SpreadConstraint, ...]:
    out = []
    for i, obj in enumerate(_sequence(items, "spec.spreadConstraints")):
        where = f"spec.spreadConstraints[{i}]"
        obj = _mapping(obj, where)
        key = obj.get("topologyKey")
        if not isinstance(key, str) or not key:
            raise api.SpecError(f"{where}.topologyKey", "is required (location or a cluster label key)")
        max_skew = _int(obj.get("maxSkew", 1), f"{where}.maxSkew", minimum=1)
        min_groups = obj.get("minGroups")
        max_groups = obj.get("maxGroups")
        if min_groups is not None:
            min_groups = _int(min_groups, f"{where}.minGroups", minimum=1)
        if max_groups is not None:
            max_groups = _int(max_groups, f"{where}.maxGroups", minimum=1)
            if min_groups is not None and max_groups < min_groups:
                raise api.SpecError(f"{where}.maxGroups", f"must be >= minGroups ({min_groups}), not {max_groups}")
        out.append(SpreadConstraint(key, max_skew, min_groups, max_groups))
    return tuple(out)


def _parse_prioritizers(items: object) -> tuple[tuple[str, int], ...]:
    if not items:
        return DEFAULT_PRIORITIZERS
    merged: dict[str, int] = {}
    for i, obj in enumerate(_sequence(items, "spec.prioritizers")):
        where = f"spec.prioritizers[{i}]"
        obj = _mapping(obj, where)
        name = obj.get("name")
        if name not in PRIORITIZERS:
            raise api.SpecError(f"{where}.name", f"must be one of {', '.join(PRIORITIZERS)}, not {name!r}")
        if name in merged:
            raise api.SpecError(f"{where}.name", f"{name} is listed twice")
        merged[name] = _int(obj.get("weight", 1), f"{where}.weight", minimum=1, maximum=100)
    return tuple((name, merged[name]) for name in PRIORITIZERS if name in merged)


def _parse_replica_scheduling(obj: object) -> tuple[str, dict[str, int] | None, str | None]:
    where = "spec.replicaScheduling"
    obj = _mapping(obj, where)
    kind = obj.get("type") or DUPLICATED
    if kind not in (DUPLICATED, DIVIDED):
        raise api.SpecError(f"{where}.type", f"must be Duplicated or Divided, not {kind!r}")
    raw_weights, dynamic = obj.get("weights"), obj.get("dynamic")
    if kind == DUPLICATED and (raw_weights or dynamic):
        raise api.SpecError(where, "weights and dynamic are only allowed with type Divided")
    if raw_weights and dynamic:
        raise api.SpecError(where, "set weights or dynamic, not both")
    if dynamic and dynamic != DYNAMIC_AVAILABLE_CAPACITY:
        raise api.SpecError(f"{where}.dynamic", f"must be {DYNAMIC_AVAILABLE_CAPACITY}, not {dynamic!r}")
    weights = None
    if raw_weights:
        weights = {}
        for i, item in enumerate(_sequence(raw_weights, f"{where}.weights")):
            item = _mapping(item, f"{where}.weights[{i}]")
            cluster = item.get("cluster")
            if not isinstance(cluster, str) or not cluster:
                raise api.SpecError(f"{where}.weights[{i}].cluster", "is required")
            if cluster in weights:
                raise api.SpecError(f"{where}.weights[{i}].cluster", f"{cluster} is listed twice")
            weights[cluster] = _int(item.get("weight", 0), f"{where}.weights[{i}].weight", minimum=0)
    return kind, weights, dynamic or None


def _compile_predicates(items: object, owner: str, generation: object, cache: cel_predicates.ProgramCache):
    out = []
    for i, expression in enumerate(_sequence(items, "spec.predicates")):
        program = cache.get(owner, generation, expression, f"spec.predicates[{i}]")
        out.append(Predicate(i, expression, program))
    return tuple(out)


def compile_placement(
    placement: object,
    gates: api.FeatureGates | None = None,
    *,
    key: str | None = None,
    cache: cel_predicates.ProgramCache | None = None,
) -> CompiledPlacement:
    """Validate a WorkloadPlacement (object or spec) and compile its predicates.

    Raises :class:`api.SpecError` naming the field at fault, and
    :class:`api.FeatureGateError` when a feature behind a disabled gate is used.
    CEL programs come from ``cache`` (default: a module-wide LRU) keyed by
    ``(uid or name, generation, expression)``.
    """
    if isinstance(placement, CompiledPlacement):
        return placement
    gates = gates or api.FeatureGates.from_overrides()
    meta, spec = _split_placement(placement)
    _check_gates(spec, gates)
    namespace = meta.get("namespace") or None
    uid = meta.get("uid") or None
    generation = meta.get("generation")
    key = placement_key(placement) if key is None else key
    number = spec.get("numberOfClusters")
    if number is not None:
        number = _int(number, "spec.numberOfClusters", minimum=1)
    spread = _parse_spread(spec.get("spreadConstraints"))
    for i, c in enumerate(spread):
        if number is not None and c.min_groups is not None and c.min_groups > number:
            raise api.SpecError(
                f"spec.spreadConstraints[{i}].minGroups",
                f"is {c.min_groups} but numberOfClusters is {number}: at most {number} groups can be used",
            )
    locations = spec.get("locations")
    kind, weights, dynamic = _parse_replica_scheduling(spec.get("replicaScheduling"))
    return CompiledPlacement(
        key=key,
        namespace=namespace,
        uid=uid,
        generation=generation,
        selector=parse_selector(spec.get("clusterSelector"), "spec.clusterSelector"),
        locations=None
        if locations is None
        else frozenset(_label_value(v) for v in _sequence(locations, "spec.locations")),
        predicates=_compile_predicates(
            spec.get("predicates"), uid or key, generation, DEFAULT_PROGRAM_CACHE if cache is None else cache
        ),
        number_of_clusters=number,
        spread=spread,
        replica_type=kind,
        weights=weights,
        dynamic=dynamic,
        tolerations=_parse_tolerations(spec.get("tolerations")),
        prioritizers=_parse_prioritizers(spec.get("prioritizers")),
    )


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


# --------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class _Call:
    """Everything one decision depends on besides the candidate set."""

    placement: CompiledPlacement
    snapshot: Snapshot
    namespace_labels: Mapping[str, str]
    previous: frozenset[str]
    now: float | None

    @property
    def views(self) -> Mapping[str, ClusterView]:
        return self.snapshot.views


def _effective_namespace_labels(namespace: str | None, labels: Mapping | None) -> dict[str, str]:
    out = {NAMESPACE_NAME_LABEL: namespace} if namespace else {}
    out.update(_labels(labels, "namespace_labels"))
    return out


def previous_clusters(previous: object) -> frozenset[str]:
    """Cluster names from ``previous``: names, decision dicts, a status dict or a result."""
    if previous is None:
        return frozenset()
    if isinstance(previous, PlacementResult):
        return previous.cluster_set
    if isinstance(previous, Mapping):
        previous = previous.get("decisions") or ()
    items = previous if isinstance(previous, (set, frozenset)) else _sequence(previous, "previous")
    names = set()
    for item in items:
        name = item.get("cluster") if isinstance(item, Mapping) else item
        if not isinstance(name, str) or not name:
            raise api.SpecError("previous", f"expected cluster names or decisions, got {item!r}")
        names.add(name)
    return frozenset(names)


def _match_reasons(view: ClusterView, placement: CompiledPlacement) -> list[str]:
    reasons = []
    if placement.selector is not None:
        reasons += [f"label mismatch: clusterSelector {m}" for m in placement.selector.mismatches(view.labels)]
    if placement.locations is not None and view.location not in placement.locations:
        where = view.location or "(none)"
        reasons.append(f"location: {where} is not in locations [{', '.join(sorted(placement.locations))}]")
    return reasons


def _noexecute_reason(taint: Taint, matching: list[Toleration], now: float | None) -> str | None:
    """None when the matching tolerations still cover this NoExecute taint."""
    limits = [t.seconds for t in matching]
    if any(s is None for s in limits):
        return None
    seconds = max(limits)
    if taint.time_added is None:
        return None
    expires = taint.time_added + seconds
    if now is None:
        return (
            f"taint not tolerated: {taint} is tolerated for {seconds}s after {_format_epoch(taint.time_added)}, "
            "and no 'now' was given to tell whether that has passed"
        )
    if now >= expires:
        return f"taint not tolerated: {taint} tolerationSeconds={seconds} expired at {_format_epoch(expires)}"
    return None


def _taint_reasons(taints: tuple[Taint, ...], call: _Call, kept: bool) -> list[str]:
    reasons = []
    tolerations = call.placement.tolerations
    for taint in taints:
        if kept and taint.effect == NO_SCHEDULE:
            continue
        matching = [t for t in tolerations if t.tolerates(taint)]
        if not matching:
            reasons.append(f"taint not tolerated: {taint}")
        elif taint.effect == NO_EXECUTE:
            reason = _noexecute_reason(taint, matching, call.now)
            if reason:
                reasons.append(reason)
    return reasons


def _admission_reasons(view: ClusterView, call: _Call, kept: bool | None = None) -> list[str]:
    """Everything but labels, location and predicates that rejects a cluster.

    ``kept``: whether the cluster is in ``previous`` (default: look it up).
    """
    reasons = []
    if kept is None:
        kept = view.name in call.previous
    selector = view.namespace_selector
    if selector is not None and not selector.matches(call.namespace_labels):
        ns = call.placement.namespace or "(unknown)"
        reasons.append(
            f"namespace not allowed: the cluster's namespaceSelector ({selector.describe()}) "
            f"does not match namespace {ns}"
        )
    if view.unschedulable and not kept and not call.placement.tolerates_cordon:
        reasons.append(f"unschedulable: the cluster is cordoned and {UNSCHEDULABLE_TAINT} is not tolerated")
    if view.taints:
        reasons += _taint_reasons(view.taints, call, kept)
    zero = view.allocatable.known_zero()
    if zero:
        reasons.append(f"not enough capacity: allocatable {zero} is 0")
    return reasons


def _time_sensitive(view: ClusterView, call: _Call) -> bool:
    """Whether ``now`` can matter for this cluster (a timed NoExecute taint and a timed toleration)."""
    return any(t.effect == NO_EXECUTE and t.time_added is not None for t in view.taints) and any(
        t.seconds is not None for t in call.placement.tolerations
    )


def _admits(view: ClusterView, call: _Call, cache: dict) -> tuple[bool, bool]:
    """(admitted, time sensitive), memoised per admission class: clusters mostly share taint sets."""
    key = (view.admission_key, view.name in call.previous)
    found = cache.get(key)
    if found is None:
        found = (not _admission_reasons(view, call), _time_sensitive(view, call))
        cache[key] = found
    return found


def _predicate_note(view: ClusterView, predicates: tuple[Predicate, ...]) -> str | None:
    """None when every predicate is true; else why not. Results are memoised per view and expression."""
    results = view.predicate_results
    for predicate in predicates:
        outcome = results.get(predicate.expression)
        if outcome is None:
            outcome = cel_predicates.evaluate(predicate.program, view.cel_context)
            results[predicate.expression] = outcome
        ok, error = outcome
        if not ok:
            if error:
                return f"predicate error: {predicate.where} {predicate.expression!r}: {error}"
            return f"predicate false: {predicate.where} {predicate.expression!r}"
    return None


def _admit_each(call: _Call, candidates: Iterable[str]) -> tuple[list[str], bool]:
    views = call.views
    eligible = [n for n in candidates if views[n].plain]
    cache: dict = {}
    sensitive = False
    for name in candidates:
        view = views[name]
        if not view.plain:
            admitted, timed = _admits(view, call, cache)
            sensitive = sensitive or timed
            if admitted:
                eligible.append(name)
    return eligible, sensitive


def _admit_by_class(call: _Call, candidates: set[str], classes: Mapping[tuple, set[str]]) -> tuple[list[str], bool]:
    """Admission once per class of clusters sharing taints, cordon, namespaceSelector and zero resources."""
    eligible: list[str] = []
    sensitive = False
    previous = call.previous
    for key, members in classes.items():
        inside = candidates & members
        if not inside:
            continue
        if key == PLAIN_ADMISSION:
            eligible.extend(inside)
            continue
        view = call.views[next(iter(inside))]
        sensitive = sensitive or _time_sensitive(view, call)
        kept = inside & previous if previous else set()
        for subset, is_kept in ((inside - kept, False), (kept, True)):
            if subset and not _admission_reasons(view, call, is_kept):
                eligible.extend(subset)
    return eligible, sensitive


def _filter(
    call: _Call, candidates: Iterable[str], classes: Mapping[tuple, set[str]] | None
) -> tuple[list[str], dict[str, str], bool]:
    """Eligible names among label/location candidates, predicate notes, and whether ``now`` mattered.

    ``classes``: the index's admission classes (admission_key -> names), or
    None to check cluster by cluster.
    """
    if classes is None:
        eligible, sensitive = _admit_each(call, candidates)
    else:
        eligible, sensitive = _admit_by_class(call, candidates, classes)
    notes: dict[str, str] = {}
    predicates = call.placement.predicates
    if predicates and eligible:
        views = call.views
        kept = []
        for name in eligible:
            note = _predicate_note(views[name], predicates)
            if note is None:
                kept.append(name)
            else:
                notes[name] = note
        eligible = kept
    return eligible, notes, sensitive


def _eligible_one(view: ClusterView | None, call: _Call) -> tuple[bool, bool]:
    """(eligible, time sensitive) for a single cluster: the incremental path."""
    if view is None or not call.placement.matches(view):
        return False, False
    admitted, timed = (True, False) if view.plain else _admits(view, call, {})
    if admitted and call.placement.predicates:
        admitted = _predicate_note(view, call.placement.predicates) is None
    return admitted, timed


# --------------------------------------------------------------------------
# Scores


@dataclass(frozen=True)
class _Metric:
    """One normalised term of the score; Capacity contributes two (cpu and memory, half weight each)."""

    label: str
    weight: float
    column: str | None  # None: Steady (membership in previous, no normalisation)
    higher: bool = True


def _metrics(prioritizers: tuple[tuple[str, int], ...]) -> tuple[_Metric, ...]:
    out = []
    for name, weight in prioritizers:
        if name == "Balance":
            out.append(_Metric("Balance", float(weight), "workloads", higher=False))
        elif name == "Steady":
            out.append(_Metric("Steady", float(weight), None))
        else:
            out.append(_Metric("Capacity(cpu)", weight / 2.0, "cpu"))
            out.append(_Metric("Capacity(memory)", weight / 2.0, "memory"))
    return tuple(out)


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
        scale = metric.weight * 100.0 / (high - low)
        terms = [(v - low) * scale for v in values] if metric.higher else [(high - v) * scale for v in values]
        totals = terms if totals is None else [t + x for t, x in zip(totals, terms, strict=True)]
    return (totals if totals is not None else [0.0] * len(eligible)), bounds


def _metric_value(metric: _Metric, bound: tuple | None, previous: frozenset[str], view: ClusterView) -> float:
    """One cluster's normalised 0..100 value of one metric (for explanations)."""
    if metric.column is None:
        return 100.0 if view.name in previous else 0.0
    low, high = bound[0], bound[1]
    if low == high:
        return 0.0
    value = _COLUMN_GETTERS[metric.column](view)
    if metric.higher:
        return (value - low) * 100.0 / (high - low)
    return (high - value) * 100.0 / (high - low)


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
            scale = metric.weight * 100.0 / (high - low)
            value = _COLUMN_GETTERS[metric.column](view)
            term = (value - low) * scale if metric.higher else (high - value) * scale
        total = term if total is None else total + term
    return 0.0 if total is None else total


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


def _pick(column: Mapping, names: list[str]) -> list:
    """``[column[n] for n in names]``, with the lookups done in C."""
    if len(names) < 2:
        return [column[n] for n in names]
    return list(operator.itemgetter(*names)(column))


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


# --------------------------------------------------------------------------
# Results


@dataclass(eq=False, repr=False)
class PlacementResult:
    """The decisions for one placement; explanations are computed on first access.

    ``placement``: the placement's key (``namespace/name``).
    ``decisions``: ``[{cluster, weight, replicas?, reason}]`` sorted by cluster
    (treat as read-only: results of an index may share decision dicts; use
    :meth:`to_status` for copies). ``explanations``: ``{cluster: {"selected":
    bool, "reasons": [str]}}`` for every cluster given, sorted by name.
    ``message``: one line for a ``Scheduled`` condition. Two results are equal
    when their placement and decisions are.
    """

    placement: str
    decisions: list[dict[str, Any]]
    eligible_count: int = 0
    unsatisfied: str | None = None
    call: _Call | None = field(default=None, repr=False)

    @classmethod
    def of(cls, call: _Call, decisions: list[dict[str, Any]], eligible_count: int, unsatisfied: str | None = None):
        return cls(call.placement.key, decisions, eligible_count, unsatisfied, call)

    def __repr__(self) -> str:
        return f"PlacementResult({self.placement!r}, clusters={self.clusters!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlacementResult):
            return NotImplemented
        return self.placement == other.placement and self.decisions == other.decisions

    __hash__ = None  # type: ignore[assignment]

    @property
    def clusters(self) -> list[str]:
        return [d["cluster"] for d in self.decisions]

    @cached_property
    def cluster_set(self) -> frozenset[str]:
        return frozenset(d["cluster"] for d in self.decisions)

    @property
    def scheduled(self) -> bool:
        return bool(self.decisions)

    @property
    def message(self) -> str:
        if self.unsatisfied:
            return self.unsatisfied
        total = len(self.call.views)
        if not self.decisions:
            return f"no eligible cluster among {total}"
        return f"{len(self.decisions)} of {self.eligible_count} eligible clusters selected ({total} clusters)"

    def to_status(self) -> list[dict[str, Any]]:
        """The ``status.decisions`` list of the API contract: ``{cluster, weight, replicas?, reason}``."""
        keys = ("cluster", "weight", "replicas", "reason")
        return [{k: d[k] for k in keys if k in d} for d in self.decisions]

    def replicas_for(self, total: int, per_replica_request: Mapping | None = None) -> dict[str, int]:
        """Split one workload's ``total`` replicas over these decisions (see :func:`divide_replicas`).

        Duplicated placements run ``total`` on every cluster.
        """
        if self.call.placement.replica_type == DUPLICATED:
            return {d["cluster"]: total for d in self.decisions}
        views = self.call.views
        enriched = [
            {"cluster": d["cluster"], "weight": d["weight"], "allocatable": views[d["cluster"]].allocatable}
            for d in self.decisions
        ]
        return {d["cluster"]: d["replicas"] for d in divide_replicas(total, enriched, per_replica_request)}

    @cached_property
    def explanations(self) -> dict[str, dict[str, Any]]:
        return _Explainer(self).explain_all()


class _Explainer:
    """Re-derives every step (deterministically) to say why each cluster is in or out."""

    def __init__(self, result: PlacementResult):
        self.result = result
        call = self.call = result.call
        placement = call.placement
        candidates = [n for n, v in call.views.items() if placement.matches(v)]
        self.eligible, self.notes, _time_sensitive = _filter(call, candidates, None)
        totals, self.bounds = _score_vector(call, self.eligible) if self.eligible else ([], [])
        self.scores = dict(zip(self.eligible, totals, strict=True))
        self.selection = _select(call, self.eligible, self.scores, detail=True) if self.eligible else None
        self.selected = {d["cluster"]: d for d in result.decisions}

    @cached_property
    def rank(self) -> dict[str, int]:
        ranked = sorted(self.eligible, key=lambda n: (-self.scores[n], n))
        return {n: i + 1 for i, n in enumerate(ranked)}

    def explain_all(self) -> dict[str, dict[str, Any]]:
        return {name: self.explain(name) for name in sorted(self.call.views)}

    def explain(self, name: str) -> dict[str, Any]:
        if name in self.selected:
            return {"selected": True, "reasons": self.selected_reasons(name)}
        return {"selected": False, "reasons": self.rejected_reasons(name)}

    def score_line(self, name: str) -> str:
        view = self.call.views[name]
        parts = [
            f"{m.label} {_fmt_number(m.weight)}x{_fmt_number(_metric_value(m, b, self.call.previous, view))}"
            for m, b in zip(self.call.placement.metrics, self.bounds, strict=True)
        ]
        total = _fmt_number(self.scores[name])
        return f"score {total} ({' + '.join(parts)}), rank {self.rank[name]} of {len(self.rank)}"

    def selected_reasons(self, name: str) -> list[str]:
        placement, view = self.call.placement, self.call.views[name]
        reasons = []
        if placement.selector is not None and placement.selector.requirements:
            reasons.append(f"matches clusterSelector ({placement.selector.describe()})")
        if placement.locations is not None:
            reasons.append(f"location {view.location} is in locations")
        if view.namespace_selector is not None:
            reasons.append("namespace allowed by the cluster's namespaceSelector")
        if view.unschedulable:
            kept = name in self.call.previous and not placement.tolerates_cordon
            reasons.append("cordoned, but kept: it was already selected" if kept else "cordon tolerated")
        for taint in view.taints:
            if any(t.tolerates(taint) for t in placement.tolerations):
                reasons.append(f"taint tolerated: {taint}")
            else:
                reasons.append(f"taint {taint} does not evict: the cluster was already selected")
        if placement.predicates:
            reasons.append(f"all {len(placement.predicates)} predicate(s) true")
        if name in self.scores:
            reasons.append(self.score_line(name))
        groups = self.selection.groups.get(name) if self.selection else None
        if groups:
            reasons.append(
                "spread: " + ", ".join(f"{c.topology_key}={g}" for c, g in zip(placement.spread, groups, strict=True))
            )
        decision = self.selected[name]
        if placement.replica_type == DIVIDED:
            line = f"Divided: weight {decision['weight']}"
            if "replicas" in decision:
                line += f", replicas {decision['replicas']}"
            reasons.append(line)
        return reasons

    def rejected_reasons(self, name: str) -> list[str]:
        view = self.call.views[name]
        reasons = _match_reasons(view, self.call.placement) + _admission_reasons(view, self.call)
        if reasons:
            return reasons
        if name in self.notes:
            return [self.notes[name]]
        if name not in self.scores:  # pragma: no cover - every path above records a reason
            return ["not selected"]
        return [self.unselected_eligible_reason(name)]

    def unselected_eligible_reason(self, name: str) -> str:
        selection = self.selection
        placement = self.call.placement
        if name in selection.excluded:
            return selection.excluded[name]
        if selection.unsatisfied:
            return selection.unsatisfied
        if placement.spread:
            groups = selection.groups[name]
            for i, c in enumerate(placement.spread):
                counts = selection.counts[i]
                if not _skew_ok(counts, groups[i], c.max_skew):
                    low = min(counts.values())
                    return (
                        f"spread limit: {c.topology_key}={groups[i]} already has {counts[groups[i]]} selected "
                        f"cluster(s) and the least-used group {low}; maxSkew is {c.max_skew}"
                    )
        return f"cut by numberOfClusters={placement.number_of_clusters}: {self.score_line(name)}"


# --------------------------------------------------------------------------
# Deciding


@dataclass
class _State:
    """What the index keeps of a decision to patch it when one cluster changes."""

    mode: str  # "all" (every eligible cluster selected), "top" (numberOfClusters), "spread"
    previous: frozenset[str]
    namespace_labels: Mapping[str, str]
    now: float | None
    time_sensitive: bool
    replicas: int | None
    request: Resources | None
    eligible: set[str]
    bounds: list
    sel_keys: dict[str, tuple] | None  # top: selected name -> rank key
    best_out: tuple | None  # top: rank key of the best eligible cluster left out
    watermarks: dict[tuple, tuple | None] | None  # spread: see _greedy
    spread_selected: frozenset[str]
    result: PlacementResult
    dirty: set[str] = field(default_factory=set)  # names whose decision may differ from result's


def _evaluate(
    call: _Call,
    candidates: Iterable[str],
    classes: Mapping[tuple, set[str]] | None,
    replicas: int | None,
    request: Resources | None,
) -> tuple[PlacementResult, _State | None]:
    """Filters, scores, selection and decisions over the label/location candidates."""
    eligible, _notes, sensitive = _filter(call, candidates, classes)
    if not eligible:
        return PlacementResult.of(call, [], 0), None
    totals, bounds = _score_vector(call, eligible)
    scores = dict(zip(eligible, totals, strict=True))
    selection = _select(call, eligible, scores)
    decisions = _decisions(call, selection.selected, replicas, request)
    result = PlacementResult.of(call, decisions, len(eligible), selection.unsatisfied)
    result.cluster_set = frozenset(selection.selected)
    if selection.unsatisfied:
        return result, None
    mode = "spread" if call.placement.spread else "all" if selection.sel_keys is None else "top"
    state = _State(
        mode=mode,
        previous=call.previous,
        namespace_labels=call.namespace_labels,
        now=call.now,
        time_sensitive=sensitive,
        replicas=replicas,
        request=request,
        eligible=set(eligible),
        bounds=bounds,
        sel_keys=selection.sel_keys,
        best_out=selection.best_out,
        watermarks=selection.watermarks,
        spread_selected=frozenset(selection.selected) if call.placement.spread else frozenset(),
        result=result,
    )
    return result, state


def _request(per_replica_request: object) -> Resources | None:
    if per_replica_request is None or isinstance(per_replica_request, Resources):
        return per_replica_request
    return Resources.parse(per_replica_request, "per_replica_request")


def _replicas(replicas: object) -> int | None:
    if replicas is None:
        return None
    return _int(replicas, "replicas", minimum=0)


def decide(
    placement: object,
    clusters: Iterable[object],
    previous: object = None,
    namespace_labels: Mapping | None = None,
    *,
    gates: api.FeatureGates | None = None,
    now: object = None,
    replicas: int | None = None,
    per_replica_request: Mapping | None = None,
) -> PlacementResult:
    """Decide where one placement goes.

    ``placement``: a WorkloadPlacement object or spec (or a CompiledPlacement).
    ``clusters``: ClusterRegistration objects, simple-form dicts or ClusterViews.
    ``previous``: the previous decisions (names, decision dicts, a status with
    ``decisions``, or a PlacementResult) -- for ``Steady`` and for keeping
    clusters that only became NoSchedule-tainted or cordoned.
    ``namespace_labels``: labels of the placement's namespace, for the
    clusters' ``namespaceSelector``.
    ``now``: the current time (datetime, RFC 3339 string or epoch seconds), for
    NoExecute ``tolerationSeconds``. ``replicas``: when given, each decision
    also carries its replica count (Divided: split by weight). ``per_replica_request``:
    ``{cpu, memory}`` of one replica, for ``dynamic: AvailableCapacity`` and
    to cap each cluster's share.
    """
    compiled = compile_placement(placement, gates)
    snapshot = Snapshot(cluster_views(clusters))
    call = _Call(
        compiled,
        snapshot,
        _effective_namespace_labels(compiled.namespace, namespace_labels),
        previous_clusters(previous),
        to_epoch(now),
    )
    candidates = [name for name, view in snapshot.views.items() if compiled.matches(view)]
    result, _state = _evaluate(call, candidates, None, _replicas(replicas), _request(per_replica_request))
    return result


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
        del sel[worst[1]]
        dirty.add(worst[1])
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
    """True when the greedy would replay exactly.

    The greedy (see _greedy) takes the best admissible bucket head at each
    step and only ever looks at a bucket's first ``taken + 1`` members (the
    watermark is the last of those). A member ranked after the watermark lost
    every comparison it could take part in, so removing or adding one changes
    no step. The watermark itself may be an untaken head that keeps its group
    alive (and so the skew minimum low, or a maxGroups ranking): removing it
    needs a full decide, like any change before it, a new bucket or an
    exhausted one. Watermarks are not moved here: a stale one is lower, hence
    more cautious.
    """
    marks = state.watermarks
    for view, key in ((removed, old_key), (added, new_key)):
        if view is None:
            continue
        groups = _groups_of(placement, view)
        if None in groups:
            continue  # clusters without a topology value take no part in spreading
        if groups not in marks:
            return False  # a new bucket: new groups
        mark = marks[groups]
        if mark is None or key <= mark:
            return False
    return True


def _patch(state: _State, before: _Call, after: _Call, old, new, dirty: set) -> bool:
    """Apply one cluster change (``old`` under ``before`` -> ``new`` under ``after``) to a state.

    False when only a full decide can tell what happens; the state is then
    unusable. Otherwise the state equals what a full decide would keep.
    """
    name = (new or old).name
    was = name in state.eligible
    now_ok, timed = _eligible_one(new, after)
    if timed and not state.time_sensitive:
        state.time_sensitive, state.now = True, after.now
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
        old_key = (-_score_one(before, bounds, old), name) if was else None
        new_key = (-_score_one(after, bounds, new), name) if now_ok else None
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


def _patched_decisions(state: _State, call: _Call, dirty: set[str]) -> list[dict[str, Any]]:
    selected = _selected(state)
    if state.replicas is not None and call.placement.replica_type == DIVIDED:
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
            if state.replicas is not None:
                entry["replicas"] = state.replicas
            entry["reason"] = reason
            decisions.insert(i, entry)
    return decisions


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
        uses = compiled.prioritizer_names
        if change.workloads and "Balance" in uses:
            return True
        return change.resources and ("Capacity" in uses or compiled.dynamic is not None)

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
        cache: cel_predicates.ProgramCache | None = None,
    ):
        self.gates = gates or api.FeatureGates.from_overrides()
        self.cache = cel_predicates.ProgramCache() if cache is None else cache
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
        result = PlacementResult.of(call, _patched_decisions(state, call, state.dirty), len(state.eligible))
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
