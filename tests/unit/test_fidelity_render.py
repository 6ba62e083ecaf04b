"""Rendering keeps a member's copy faithful: what the hub generated stays on the hub, and what a
member owns (an autoscaled replica count) is left out of the manifest TMC applies.

docs/concepts/sync.md ("What TMC owns, and what it leaves to members") states these rules.
"""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds, render

UID = "5b0e6a8c-1111-4c39-9e0f-3c1d2a7b9a10"


def _deployment(replicas=3):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": UID, "generation": 4},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }


def _hub_job():
    """A Job as a hub's API server returns it: generated selector, and (Job defaulting on read) the
    template's generated labels repeated as the Job's own."""
    generated = {
        "controller-uid": UID,
        "batch.kubernetes.io/controller-uid": UID,
        "job-name": "migrate",
        "batch.kubernetes.io/job-name": "migrate",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "shop", "uid": UID, "labels": dict(generated)},
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
            "template": {
                "metadata": {"labels": {**generated, "app": "migrate"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "i"}]},
            },
        },
    }


def test_a_retained_replica_count_is_left_out_of_the_manifest():
    manifest = render.render_manifest(_deployment(), "member1", retain_replicas=True)
    assert "replicas" not in manifest["spec"]
    assert manifest["spec"]["template"]["spec"]["containers"][0]["image"] == "i"


@given(st.integers(0, 50), st.integers(0, 50))
def test_neither_a_share_nor_an_override_puts_a_retained_count_back(share, override):
    overrides = [
        {"clusters": ["member1"], "jsonPatch": [{"op": "replace", "path": "/spec/replicas", "value": override}]}
    ]
    manifest = render.render_manifest(
        _deployment(), "member1", replicas=share, overrides=overrides, retain_replicas=True
    )
    assert kinds.replica_count(manifest) is None


def test_without_retention_the_share_is_set():
    assert render.render_manifest(_deployment(), "member1", replicas=2)["spec"]["replicas"] == 2


def test_the_syncwork_carries_the_count_to_set_at_creation():
    source = _deployment()
    manifest = render.render_manifest(source, "member1", retain_replicas=True)
    work = render.build_syncwork(source, "member1", manifest, "web", initial_replicas=3)
    assert work["spec"]["initialReplicas"] == 3
    assert "initialReplicas" not in render.build_syncwork(source, "member1", manifest, "web")["spec"]


def test_no_hub_identity_reaches_a_member_job():
    manifest = render.render_manifest(_hub_job(), "member1")
    without_reference = copy.deepcopy(manifest)
    del without_reference["metadata"]["annotations"][api.ANNOTATION_SOURCE]
    assert UID not in render.canonical_json(without_reference)
    assert manifest["metadata"]["labels"] == {api.LABEL_MANAGED: "true", api.LABEL_CLUSTER: "member1"}
    assert manifest["spec"]["template"]["metadata"]["labels"] == {"app": "migrate"}
    assert "selector" not in manifest["spec"]
    # the hub uid is only in TMC's source annotation, which names the hub object on purpose
    assert manifest["metadata"]["annotations"][api.ANNOTATION_SOURCE] == f"shop/migrate/{UID}"


def test_a_jobs_own_labels_of_the_user_are_kept():
    source = _hub_job()
    source["metadata"]["labels"] = {"team": "db", "job-name": "something-else"}
    labels = render.render_manifest(source, "member1")["metadata"]["labels"]
    assert labels["team"] == "db" and labels["job-name"] == "something-else"
