"""What the daemons' caches keep: compacted SyncWorks compare like full ones; slim objects lose only managedFields."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import status
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import reflector
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import aggregate, common
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import plan as planning

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
manifests = st.fixed_dictionaries(
    {
        "apiVersion": st.just("apps/v1"),
        "kind": st.just("Deployment"),
        "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "b"])}),
        "spec": json_values,
    }
)
specs = st.fixed_dictionaries(
    {
        "cluster": st.sampled_from(["m1", "m2"]),
        "placement": st.sampled_from(["p", "q"]),
        "deletionPolicy": st.sampled_from(["Delete", "Orphan"]),
        "manifest": manifests,
    }
)


def _work(spec: dict) -> dict:
    return {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "SyncWork",
        "metadata": {"name": "w", "namespace": "tmc-cluster-m1", "labels": {"l": "1"}},
        "spec": spec,
        "status": {"applied": True},
    }


@given(specs, specs)
def test_a_compacted_syncwork_differs_from_a_desired_one_exactly_when_the_full_one_does(desired, current):
    full = _work(current)
    compacted = planning.compact_work(copy.deepcopy(full))
    assert "manifest" not in compacted["spec"]
    assert planning.work_differs(_work(desired), compacted) == planning.work_differs(_work(desired), full)
    assert not planning.work_differs(_work(current), compacted)


def test_compaction_keeps_what_the_controller_reads():
    full = _work({"cluster": "m1", "placement": "p", "source": {"kind": "Deployment", "name": "a"}, "manifest": {}})
    full["metadata"].update(
        {
            "uid": "9d3c",
            "creationTimestamp": "2026-11-24T08:00:00Z",
            "annotations": {"tmc.kcp.io/manifest-hash": "ab12"},
            "generation": 2,
            "resourceVersion": "7",
            "deletionTimestamp": "2026-11-24T08:01:00Z",
            "finalizers": ["tmc.kcp.io/syncer"],
        }
    )
    compacted = planning.compact_work(copy.deepcopy(full))
    assert common.source_of(compacted) == common.source_of(full)
    assert compacted["spec"]["cluster"] == "m1" and compacted["status"] == full["status"]
    assert compacted["metadata"] == {
        "name": "w",
        "namespace": "tmc-cluster-m1",
        "labels": {"l": "1"},
        "generation": 2,
        "resourceVersion": "7",
        "deletionTimestamp": "2026-11-24T08:01:00Z",
        "finalizers": ["tmc.kcp.io/syncer"],
    }


conditions = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Applied", "Available", "Degraded"]),
            "status": st.sampled_from(["True", "False", "Unknown", "maybe"]),
            "message": st.text(max_size=5),
            "lastTransitionTime": st.just("2026-11-23T18:00:00Z"),
        },
        optional={"reason": st.sampled_from(["KindNotServed", "RefusedByMember", ""])},
    ),
    max_size=4,
)
statuses = st.fixed_dictionaries(
    {},
    optional={
        "applied": st.booleans(),
        "available": st.booleans(),
        "observedGeneration": st.integers(0, 3),
        "downstreamStatus": st.dictionaries(st.sampled_from(["replicas", "availableReplicas"]), st.integers(0, 3)),
        "conditions": conditions,
        "message": st.text(max_size=5),
        "downstreamFingerprint": st.text(max_size=5),
        "appliedManifestHash": st.text(max_size=5),
    },
)


@given(statuses, st.integers(1, 3), st.sampled_from(["m1", "m2"]))
def test_a_compacted_status_summarizes_and_aggregates_like_the_full_one(current, generation, cluster):
    full = _work({"cluster": cluster, "placement": "p", "source": {"kind": "Deployment", "name": "a"}, "manifest": {}})
    full["metadata"]["generation"] = generation
    full["status"] = current
    compacted = planning.compact_work(copy.deepcopy(full))
    assert status.work_state(compacted) == status.work_state(full)
    assert status.summarize([compacted]) == status.summarize([full])
    assert compacted["status"].get("downstreamStatus") == current.get("downstreamStatus")
    # What the source's status gets from this cluster (with a Degraded SyncWork's reason and message).
    assert aggregate.cluster_status(compacted) == aggregate.cluster_status(full)


@given(json_values)
def test_a_slim_object_is_the_original_without_managed_fields(value):
    obj = {"metadata": {"name": "x", "managedFields": [{"manager": "m"}]}, "data": value}
    slim = reflector._slim(copy.deepcopy(obj))
    del obj["metadata"]["managedFields"]
    assert slim == obj
