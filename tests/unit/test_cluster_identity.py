"""Cluster identity (pure rules) and what TMC removes from an object it lets go of."""

from __future__ import annotations

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import identity, release


def reg(name, cluster_id=None, endpoint=None, created="2026-01-01T00:00:00Z", deleting=False):
    meta = {"name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-02T00:00:00Z"
    out = {"metadata": meta, "spec": {"endpoint": endpoint} if endpoint else {}}
    if cluster_id:
        out["status"] = {"clusterID": cluster_id}
    return out


def test_a_member_registered_under_a_second_name_is_refused_naming_the_first():
    existing = [reg("east", "uid-1", "https://10.0.0.1:6443")]
    with pytest.raises(identity.IdentityConflict, match="already registered as ClusterRegistration 'east'"):
        identity.check_registration(existing, "west", "uid-1", "https://10.0.0.9:6443", rekey=False)
    # rekey does not allow two registrations of one member: only a migration of one registration
    with pytest.raises(identity.IdentityConflict, match="'east'"):
        identity.check_registration(existing, "west", "uid-1", None, rekey=True)


def test_without_a_recorded_identity_the_same_endpoint_is_the_same_member():
    existing = [reg("east", None, "https://10.0.0.1:6443")]
    with pytest.raises(identity.IdentityConflict, match="endpoint https://10.0.0.1:6443"):
        identity.check_registration(existing, "west", "uid-1", "https://10.0.0.1:6443", rekey=False)
    # two identities known and different: different clusters, even behind one URL (a proxy)
    known = [reg("east", "uid-2", "https://proxy:6443")]
    identity.check_registration(known, "west", "uid-1", "https://proxy:6443", rekey=False)


def test_re_pointing_a_registration_at_another_member_needs_rekey():
    existing = [reg("east", "uid-1", "https://10.0.0.1:6443")]
    with pytest.raises(identity.IdentityConflict, match="rekey: true"):
        identity.check_registration(existing, "east", "uid-2", "https://10.0.0.2:6443", rekey=False)
    identity.check_registration(existing, "east", "uid-2", "https://10.0.0.2:6443", rekey=True)
    identity.check_registration(existing, "east", "uid-1", "https://10.0.0.7:6443", rekey=False)  # new URL only


def test_a_registration_being_deleted_does_not_hold_its_member():
    identity.check_registration([reg("east", "uid-1", deleting=True)], "west", "uid-1", None, rekey=False)


def test_conflicts_flag_every_registration_but_the_oldest():
    regs = [
        reg("b", "uid-1", created="2026-01-02T00:00:00Z"),
        reg("a", "uid-1", created="2026-01-03T00:00:00Z"),
        reg("c", "uid-1", created="2026-01-01T00:00:00Z"),
        reg("d", "uid-2"),
        reg("e"),
    ]
    assert identity.conflicts(regs) == {"b": "c", "a": "c"}


def test_the_member_record_refuses_another_registration_or_hub():
    mine = identity.MemberRecord("uid-1", "hub-1", "east", "ConfigMap tmc-system/tmc-cluster-properties")
    identity.check_record(mine, "east", "hub-1", rekey=False)
    east = [reg("east")]  # a Pull registration: no identity recorded on the hub, only the member knows
    with pytest.raises(identity.IdentityConflict, match="already registered as ClusterRegistration 'east'"):
        identity.check_record(mine, "west", "hub-1", False, east, "uid-1")
    # stale records: the registration is gone, or a rekey moved it to another member
    identity.check_record(mine, "west", "hub-1", False, [], "uid-1")
    identity.check_record(mine, "west", "hub-1", False, [reg("east", "uid-9")], "uid-1")
    with pytest.raises(identity.IdentityConflict, match="another cluster set"):
        identity.check_record(mine, "east", "hub-2", rekey=False)
    identity.check_record(mine, "west", "hub-2", rekey=True)
    identity.check_record(identity.MemberRecord(), "west", "hub-1", rekey=False)


def test_release_patch_removes_every_tmc_mark_and_the_syncers_field_ownership():
    obj = {
        "metadata": {
            "name": "web",
            "resourceVersion": "42",
            "labels": {"app": "web", "tmc.kcp.io/managed": "true", "tmc.kcp.io/cluster": "east"},
            "annotations": {"tmc.kcp.io/source": "ns/web/uid", "team": "a"},
            "managedFields": [
                {"manager": "tmc-syncer", "operation": "Apply"},
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status"},
            ],
        }
    }
    patch = release.release_patch(obj)
    assert patch[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    assert {"op": "remove", "path": "/metadata/labels/tmc.kcp.io~1managed"} in patch
    assert {"op": "remove", "path": "/metadata/labels/tmc.kcp.io~1cluster"} in patch
    assert {"op": "remove", "path": "/metadata/annotations/tmc.kcp.io~1source"} in patch
    kept = next(op for op in patch if op["path"] == "/metadata/managedFields")["value"]
    assert [entry["manager"] for entry in kept] == ["kube-controller-manager"]
    assert not any("app" in op["path"] or "team" in op["path"] for op in patch)


def test_release_patch_clears_managed_fields_owned_by_tmc_alone_and_is_none_when_nothing_is_tmcs():
    only = {"metadata": {"name": "x", "resourceVersion": "1", "managedFields": [{"manager": "tmc-syncer"}]}}
    assert release.release_patch(only)[-1] == {"op": "replace", "path": "/metadata/managedFields", "value": [{}]}
    assert release.release_patch({"metadata": {"name": "x", "labels": {"app": "x"}}}) is None


@pytest.mark.parametrize(
    ("obj", "keeps"),
    [
        ({"kind": "ServiceAccount", "metadata": {"name": "default"}}, False),
        ({"kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"}}, False),
        ({"kind": "ConfigMap", "metadata": {"name": "app"}}, True),
        ({"kind": "ReplicaSet", "metadata": {"name": "web-1", "ownerReferences": [{"kind": "Deployment"}]}}, False),
        ({"kind": "PersistentVolumeClaim", "metadata": {"name": "data-db-0"}}, True),
        ({"kind": "Pod", "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, False),
    ],
)
def test_what_keeps_a_namespace(obj, keeps):
    assert release._keeps_namespace(obj) is keeps
