"""When retention begins on a workload TMC already runs, who owns its replica count decides
whether the count is handed over first (reconcile/apply). The hand-over itself runs on the testbed:
tests/integration/test_workload_sync.py::test_retain_replicas_leaves_the_count_to_each_member."""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import apply


def _obj(*entries: tuple[str, str, dict]) -> dict:
    return {
        "metadata": {
            "managedFields": [
                {"manager": manager, "operation": operation, "fieldsV1": fields}
                for manager, operation, fields in entries
            ]
        }
    }


REPLICAS = ("spec", "replicas")
OWNS = {"f:spec": {"f:replicas": {}, "f:template": {}}}
NOT = {"f:spec": {"f:template": {}}}


def test_the_syncer_s_apply_owning_the_count_is_handed_over():
    assert apply._syncer_owns(_obj((apply.SYNCER, "Apply", OWNS)), REPLICAS)


def test_a_count_the_syncer_never_owned_is_left_alone():
    assert not apply._syncer_owns(_obj((apply.SYNCER, "Apply", NOT)), REPLICAS)
    assert not apply._syncer_owns(_obj((apply.INITIAL_REPLICAS_MANAGER, "Apply", OWNS)), REPLICAS)
    assert not apply._syncer_owns(_obj(("kube-controller-manager", "Update", OWNS)), REPLICAS)
    assert not apply._syncer_owns({"metadata": {}}, REPLICAS)


def test_the_kind_s_own_replica_path_is_read():
    deep = {"f:spec": {"f:scale": {"f:count": {}}}}
    assert apply._syncer_owns(_obj((apply.SYNCER, "Apply", deep)), ("spec", "scale", "count"))
    assert not apply._syncer_owns(_obj((apply.SYNCER, "Apply", deep)), REPLICAS)
