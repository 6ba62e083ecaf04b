# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TMC API's names: group, kinds, labels, annotations, feature gates, errors.

This is the innermost layer of the engine (DESIGN.md section 1) with ``kinds``, the
registry of synced kinds; it imports nothing else of the collection. module_utils are private to this collection:
they are not a public API and may change in any release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.tmc.multicluster.plugins.module_utils import kinds

GROUP = "tmc.kcp.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

KIND_CLUSTER = "ClusterRegistration"
KIND_PLACEMENT = "WorkloadPlacement"
KIND_SYNCWORK = "SyncWork"
PLURAL_CLUSTER = "clusterregistrations"
PLURAL_PLACEMENT = "workloadplacements"
PLURAL_SYNCWORK = "syncworks"

SYSTEM_NAMESPACE = "tmc-system"
CLUSTER_NAMESPACE_PREFIX = "tmc-cluster-"
HEARTBEAT_LEASE_PREFIX = "cluster-"
FIELD_MANAGER = "tmc-syncer"
CONTROLLER_FIELD_MANAGER = "tmc-controller"

LABEL_MANAGED = f"{GROUP}/managed"
LABEL_CLUSTER = f"{GROUP}/cluster"
LABEL_PLACEMENT = f"{GROUP}/placement"
ANNOTATION_SOURCE = f"{GROUP}/source"
ANNOTATION_CREATED_NAMESPACE = f"{GROUP}/created-namespace"
# On a ClusterRegistration being deregistered: Orphan (its objects stay on the member) or Delete (drained).
# The controller and the syncer stand down for the cluster while it is there.
ANNOTATION_DEREGISTRATION = f"{GROUP}/deregistration"
# When a SyncWork's desired state was written to the hub (RFC 3339, milliseconds): the syncer measures
# the sync SLI from it (tmc_sync_latency_seconds). Set at write time, never compared.
ANNOTATION_WRITTEN_AT = f"{GROUP}/written-at"
# The W3C trace context of the pass that wrote a SyncWork's desired state (OpenTelemetry; tracing.py).
ANNOTATION_TRACEPARENT = f"{GROUP}/traceparent"
FINALIZER_SYNCER = f"{GROUP}/syncer"
TAINT_UNREACHABLE = f"{GROUP}/unreachable"
TAINT_UNSCHEDULABLE = f"{GROUP}/unschedulable"

# What a WorkloadPlacement without ``resources`` places, as (group, kind): see ``kinds``.
DEFAULT_RESOURCES = kinds.DEFAULT_RESOURCES


def cluster_namespace(cluster: str) -> str:
    """The hub namespace that holds one member cluster's SyncWorks."""
    return CLUSTER_NAMESPACE_PREFIX + cluster


def heartbeat_lease_name(cluster: str) -> str:
    """The Lease in tmc-system that the cluster's syncer renews."""
    return HEARTBEAT_LEASE_PREFIX + cluster


def source_annotation(namespace: str, name: str, uid: str) -> str:
    return f"{namespace}/{name}/{uid}"


# --------------------------------------------------------------------------
# Errors


class TMCError(Exception):
    """Base of every error the engine raises; the message says what to fix."""


class FeatureGateError(TMCError):
    """A feature gate is unknown, malformed, or switched off."""


class SpecError(TMCError):
    """A spec that cannot be used as written; names the field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


# --------------------------------------------------------------------------
# Feature gates (DESIGN.md section 3)


@dataclass(frozen=True)
class FeatureGate:
    name: str
    default: bool
    description: str
    owner: str = "@jessesanford"
    version: str = "0.1"


MASTER_GATE = "TMC"

FEATURE_GATES: Mapping[str, FeatureGate] = {
    g.name: g
    for g in (
        FeatureGate(MASTER_GATE, True, "Transparent Multi-Cluster as a whole; off switches every TMC gate off."),
        FeatureGate("TMCAdvancedPlacement", True, "Spread constraints, weights, prioritizers and CEL predicates."),
        FeatureGate("TMCStatusAggregation", True, "Aggregating member status onto hub sources."),
        FeatureGate("TMCFailover", True, "Moving workloads off clusters tainted NoExecute."),
        FeatureGate("TMCObservability", True, "Prometheus metrics and OpenTelemetry tracing."),
    )
}

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _as_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FeatureGateError(f"feature gate {name!r} has value {value!r}; use true or false")


def _check_known(name: str) -> None:
    if name not in FEATURE_GATES:
        known = ", ".join(sorted(FEATURE_GATES))
        raise FeatureGateError(f"unknown feature gate {name!r}; known gates are {known}")


def parse_feature_gates(text: str | None) -> dict[str, bool]:
    """Parse the daemon flag form ``TMC=true,TMCFailover=false`` into a dict."""
    overrides: dict[str, bool] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise FeatureGateError(f"feature gate {name!r} has no value; write {name}=true or {name}=false")
        _check_known(name)
        overrides[name] = _as_bool(name, value)
    return overrides


@dataclass(frozen=True)
class FeatureGates:
    """The effective gates: defaults, then overrides, then the master rule."""

    enabled: Mapping[str, bool]

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, object] | None = None) -> FeatureGates:
        effective = {name: gate.default for name, gate in FEATURE_GATES.items()}
        for name, value in (overrides or {}).items():
            _check_known(name)
            effective[name] = _as_bool(name, value)
        if not effective[MASTER_GATE]:
            effective = {name: False for name in effective}
        return cls(effective)

    @classmethod
    def from_flag(cls, text: str | None) -> FeatureGates:
        return cls.from_overrides(parse_feature_gates(text))

    def is_enabled(self, name: str) -> bool:
        _check_known(name)
        return bool(self.enabled[name])

    def require(self, name: str = MASTER_GATE) -> None:
        """Raise a FeatureGateError naming the gate when it is off."""
        _check_known(name)
        if not self.enabled[name]:
            if not self.enabled[MASTER_GATE] and name != MASTER_GATE:
                raise FeatureGateError(
                    f"feature gate {name} is off because the master gate {MASTER_GATE} is off; set {MASTER_GATE}=true"
                )
            raise FeatureGateError(f"feature gate {name} is off; set {name}=true to use this")

    def as_flag(self) -> str:
        return ",".join(f"{n}={'true' if v else 'false'}" for n, v in sorted(self.enabled.items()))
