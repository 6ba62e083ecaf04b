# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``tmc.multicluster.place`` filter: placement decisions offline (documented in place.yml)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.tmc.multicluster.plugins.module_utils import api, placement


def _gates(feature_gates):
    if feature_gates is None:
        return api.FeatureGates.from_overrides()
    if isinstance(feature_gates, str):
        return api.FeatureGates.from_flag(feature_gates)
    if isinstance(feature_gates, Mapping):
        return api.FeatureGates.from_overrides(dict(feature_gates))
    raise AnsibleFilterError(
        f"place: feature_gates must be a dict or a string such as 'TMC=true', not {feature_gates!r}"
    )


# Each argument, the types it takes, and how to say so.
_ARGUMENTS = {
    "previous": ((list, tuple, set, frozenset, Mapping), "a list of cluster names or decisions, or a status"),
    "namespace_labels": ((Mapping,), "a dict of label keys to values"),
    "now": ((str, int, float, datetime), "an RFC 3339 time such as 2024-05-01T12:00:00Z, or epoch seconds"),
    "replicas": ((int,), "an integer >= 0"),
    "per_replica_request": ((Mapping,), "a dict such as {cpu: 500m, memory: 1Gi}"),
    "explain": ((bool,), "true or false"),
}


def _check_types(**arguments) -> None:
    """AnsibleFilterError naming the argument for any wrong type (None means absent)."""
    for name, value in arguments.items():
        types, words = _ARGUMENTS[name]
        if value is None:
            continue
        if isinstance(value, bool) and bool not in types:
            raise AnsibleFilterError(f"place: {name} must be {words}, not {value!r}")
        if not isinstance(value, types):
            raise AnsibleFilterError(f"place: {name} must be {words}, not {type(value).__name__} {value!r}")


def _cluster_list(clusters) -> list:
    if clusters is None:
        return []
    if isinstance(clusters, Mapping):
        return list(clusters.values())
    if isinstance(clusters, (str, bytes)) or not isinstance(clusters, Sequence):
        raise AnsibleFilterError(
            f"place: its input (the clusters) must be a list of clusters or a dict of them by name, "
            f"not {type(clusters).__name__} {clusters!r}"
        )
    return list(clusters)


def place(
    clusters,
    policy,
    previous=None,
    namespace_labels=None,
    now=None,
    replicas=None,
    per_replica_request=None,
    feature_gates=None,
    explain=False,
):
    """Decide where a WorkloadPlacement (object or spec) goes among ``clusters``."""
    clusters = _cluster_list(clusters)
    if not isinstance(policy, Mapping):
        raise AnsibleFilterError(f"place: the policy must be a WorkloadPlacement or its spec (a dict), not {policy!r}")
    _check_types(
        previous=previous,
        namespace_labels=namespace_labels,
        now=now,
        replicas=replicas,
        per_replica_request=per_replica_request,
        explain=explain,
    )
    try:
        result = placement.decide(
            dict(policy),
            clusters,
            previous,
            namespace_labels,
            gates=_gates(feature_gates),
            now=now,
            replicas=replicas,
            per_replica_request=per_replica_request,
        )
    except api.TMCError as exc:
        raise AnsibleFilterError(f"place: {exc}") from exc
    decisions = result.to_status()
    if not explain:
        return decisions
    status, reason, message = result.condition()
    return {
        "decisions": decisions,
        "explanations": result.explanations,
        "message": message,
        "scheduled": {"status": status, "reason": reason, "message": message},
    }


class FilterModule:
    """Placement filters of tmc.multicluster."""

    def filters(self):
        return {"place": place}
