# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement spec, validated and compiled once per generation.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, cel_cost
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import prioritizers as registry
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    ADVANCED_GATE,
    DEFAULT_PRIORITIZERS,
    DIVIDED,
    DUPLICATED,
    DYNAMIC_AVAILABLE_CAPACITY,
    NO_EXECUTE,
    PRIORITIZERS,
    TAINT_EFFECTS,
    TOPOLOGY_LOCATION,
    UNSCHEDULABLE_TAINT,
    ClusterView,
    Selector,
    Taint,
    _int,
    _label_value,
    _mapping,
    _sequence,
    parse_selector,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.validate import validate_spec

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
    cost: cel_cost.Cost | None = field(default=None, compare=False, repr=False)

    def steps(self, labels: int, taints: int) -> int:
        """Iterations one evaluation takes for a cluster with this many labels and taints (cel_cost)."""
        return 0 if self.cost is None else self.cost.steps(labels, taints)

    @property
    def where(self) -> str:
        return f"spec.predicates[{self.index}]"


@dataclass(frozen=True)
class AffinityTerm:
    """One term of ``clusterAffinities``: which clusters it allows."""

    index: int
    name: str
    selector: Selector | None
    locations: frozenset[str] | None

    @property
    def where(self) -> str:
        return f"clusterAffinities[{self.index}] ({self.name})"


@dataclass(frozen=True)
class CompiledPlacement:
    """A placement spec validated and compiled once per generation.

    With ``affinities`` (``clusterAffinities``) the placement is decided once per term, in order
    (:meth:`for_term`): each variant has the term's selector and locations and ``term`` set.
    """

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
    affinities: tuple[AffinityTerm, ...] = ()
    term: AffinityTerm | None = None  # the clusterAffinities term this variant decides for

    def for_term(self, term: AffinityTerm) -> CompiledPlacement:
        """This placement restricted to one clusterAffinities term."""
        return dataclasses.replace(self, selector=term.selector, locations=term.locations, affinities=(), term=term)

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
    def metrics(self) -> tuple[registry.Metric, ...]:
        return registry.metrics(self.prioritizers)

    @cached_property
    def prioritizer_names(self) -> frozenset[str]:
        return frozenset(name for name, _weight in self.prioritizers)

    @cached_property
    def steady(self) -> bool:
        """Whether decisions are kept (the Steady prioritizer, in the default set): see ``rank_key``."""
        return registry.keeps_previous(self.prioritizer_names)

    @cached_property
    def selector_keys(self) -> frozenset[str]:
        keys = frozenset(r.key for r in self.selector.requirements) if self.selector else frozenset()
        for term in self.affinities:
            keys |= frozenset(r.key for r in term.selector.requirements) if term.selector else frozenset()
        return keys

    def match_depends_on(self, change: Any) -> bool:
        """Whether a cluster change (a _Change) can alter :meth:`matches` (or, with clusterAffinities,
        which term a cluster belongs to)."""
        located = self.locations is not None or any(t.locations is not None for t in self.affinities)
        return bool(change.label_keys & self.selector_keys) or (change.location and located)

    def matches(self, view: ClusterView) -> bool:
        """clusterSelector and locations only (the part the indexes answer)."""
        if self.locations is not None and view.location not in self.locations:
            return False
        return self.selector is None or self.selector.matches(view.labels)


DEFAULT_PROGRAM_CACHE = cel.ProgramCache()


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
        ("spec.clusterAffinities", bool(spec.get("clusterAffinities"))),
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


def _compile_predicates(items: object, owner: str, generation: object, cache: cel.ProgramCache):
    out = []
    for i, expression in enumerate(_sequence(items, "spec.predicates")):
        where = f"spec.predicates[{i}]"
        program = cache.get(owner, generation, expression, where)
        try:
            cost = cel_cost.check(expression)  # before it ever runs: a nest too deep or too costly is refused
        except ValueError as err:
            raise api.SpecError(where, f"the CEL expression {expression!r} {err}") from None
        out.append(Predicate(i, expression, program, cost))
    return tuple(out)


def compile_placement(
    placement: object,
    gates: api.FeatureGates | None = None,
    *,
    key: str | None = None,
    cache: cel.ProgramCache | None = None,
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
    spec = validate_spec(spec)  # as the API server does: the CRD's own schema and CEL rules
    _check_gates(spec, gates)
    namespace = meta.get("namespace") or None
    uid = meta.get("uid") or None
    generation = meta.get("generation")
    key = placement_key(placement) if key is None else key
    number = spec.get("numberOfClusters")
    if number is not None:
        number = _int(number, "spec.numberOfClusters", minimum=1)
    spread = _parse_spread(spec.get("spreadConstraints"))
    locations = spec.get("locations")
    kind, weights, dynamic = _parse_replica_scheduling(spec.get("replicaScheduling"))
    return CompiledPlacement(
        key=key,
        namespace=namespace,
        uid=uid,
        generation=generation,
        selector=parse_selector(spec.get("clusterSelector"), "spec.clusterSelector"),
        locations=_locations(locations, "spec.locations"),
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
        affinities=_parse_affinities(spec.get("clusterAffinities")),
    )


def _locations(items: object, field: str) -> frozenset[str] | None:
    """Absent or empty: every location (the CRD's contract)."""
    return frozenset(_label_value(v) for v in _sequence(items, field)) or None


def _parse_affinities(items: object) -> tuple[AffinityTerm, ...]:
    out = []
    for i, obj in enumerate(_sequence(items, "spec.clusterAffinities")):
        where = f"spec.clusterAffinities[{i}]"
        obj = _mapping(obj, where)
        selector = parse_selector(obj.get("clusterSelector"), f"{where}.clusterSelector")
        out.append(AffinityTerm(i, str(obj.get("name")), selector, _locations(obj.get("locations"), where)))
    return tuple(out)
