# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``tmc.multicluster.place`` filter: placement decisions offline (documented in place.yml)."""

from __future__ import annotations

from collections.abc import Mapping

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
    if clusters is None:
        clusters = []
    if isinstance(clusters, Mapping):
        clusters = list(clusters.values())
    if not isinstance(policy, Mapping):
        raise AnsibleFilterError(f"place: the policy must be a WorkloadPlacement or its spec (a dict), not {policy!r}")
    try:
        result = placement.decide(
            dict(policy),
            list(clusters),
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
    return {"decisions": decisions, "explanations": result.explanations, "message": result.message}


class FilterModule:
    """Placement filters of tmc.multicluster."""

    def filters(self):
        return {"place": place}
