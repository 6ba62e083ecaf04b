"""A registration's status is written only when it changed (a repeated cluster_registration run reports ok)."""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters

STORED = {"clusterID": "x", "conditions": [{"type": "Ready", "status": "True"}]}


def test_an_empty_status_field_is_the_same_as_an_absent_one():
    """Server-side apply of ``taints: []`` over taints with items removes the field: a status that only
    differs there is not written again (the run after an uncordon reported a change, the next one not)."""
    assert clusters._same_status(STORED, {**STORED, "taints": []})
    assert clusters._same_status({**STORED, "taints": []}, STORED)


def test_a_real_difference_is_still_one():
    assert not clusters._same_status(STORED, {**STORED, "taints": [{"key": "k", "effect": "NoSchedule"}]})
    assert not clusters._same_status(STORED, {**STORED, "clusterID": "y"})
