"""Why a SyncWork could not be applied: one classification for the syncer and workload_sync, a status
that says it (and never the status of an object that is gone), and what flows up to the source."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import kube, status
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import workqueue
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import aggregate, apply

NOW = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}


def work(manifest, **meta) -> dict:
    return {
        "apiVersion": "tmc.kcp.io/v1alpha1",
        "kind": "SyncWork",
        "metadata": {"name": "shop.w.widget", "namespace": "tmc-cluster-east", "generation": 1, **meta},
        "spec": {"cluster": "east", "manifest": manifest},
    }


WIDGET_PATH = "PATCH /apis/example.com/v1/namespaces/shop/widgets/w"
FAILURES = [
    # discovery does not list the kind
    (
        kube.KubeError("the API server at https://east does not serve kind Widget in example.com/v1", 404),
        "KindNotServed",
    ),
    # discovery cached, the CRD gone since: the API server has no such resource
    (
        kube.KubeError(f"{WIDGET_PATH}: the server could not find the requested resource", 404, "NotFound"),
        "KindNotServed",
    ),
    (
        kube.KubeError(f'{WIDGET_PATH}: widgets "w" is forbidden: exceeded quota: q', 403, "Forbidden"),
        "RefusedByMember",
    ),
    (
        kube.KubeError(f'{WIDGET_PATH}: Widget "w" is invalid: spec.size: Invalid value', 422, "Invalid"),
        "RefusedByMember",
    ),
    (kube.KubeError('PATCH /x: namespaces "shop" not found', 404, "", {"kind": "namespaces"}), "RefusedByMember"),
    (kube.KubeError("PATCH /x: cannot reach https://east: ConnectionRefusedError", 0), "MemberUnavailable"),
    (kube.KubeError("PATCH /x: etcdserver: leader changed", 500), "MemberUnavailable"),
    (kube.KubeError("PATCH /x: too many requests", 429), "MemberUnavailable"),
]


@pytest.mark.parametrize(("err", "reason"), FAILURES)
def test_every_failure_is_classified_once_for_syncer_and_module(err, reason):
    failure = apply.classify(err, WIDGET)
    assert failure.reason == reason
    assert failure.transient == (reason == "MemberUnavailable")
    assert not failure.message.startswith(("PATCH ", "GET "))  # the member's words, not our request line


def test_kind_not_served_reads_the_same_whichever_way_it_was_met():
    by_discovery = apply.classify(kube.KubeError("does not serve kind Widget in example.com/v1", 404), WIDGET)
    by_request = apply.classify(kube.KubeError("PATCH /apis/...: the server could not find it", 404), WIDGET)
    assert by_discovery == by_request
    assert "Widget in example.com/v1" in by_discovery.message and "CustomResourceDefinition" in by_discovery.message


@pytest.mark.parametrize(
    "manifest",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}},
        {"apiVersion": "v1", "kind": "ConfigMap"},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": None},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 7}},
    ],
)
def test_a_manifest_without_a_name_is_missing_name(manifest):
    problem = apply.manifest_problem(manifest)
    assert problem.reason == "MissingName" and "spec.manifest.metadata.name" in problem.message


def test_a_manifest_with_a_name_has_no_problem():
    assert apply.manifest_problem(WIDGET) is None
    assert apply.manifest_problem({"kind": "Widget", "metadata": {"name": "w"}}).reason == "ApplyFailed"


def test_a_nameless_syncwork_gets_a_status_and_a_deleted_one_lets_go_without_asking_the_member():
    nameless = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "shop"}}
    alive = work(nameless)
    going = work(nameless, name="shop.gone.configmap", deletionTimestamp="2026-11-24T07:59:00Z")
    # No member client at all: nothing is asked of one.
    report = apply.apply_works(None, "east", [alive, going], NOW, live={})
    assert report.finished == [going]
    assert [(e["reason"], e["name"]) for e in report.errors] == [("MissingName", None)]
    new = report.statuses[("tmc-cluster-east", "shop.w.widget")]
    assert (new["applied"], new["available"]) == (False, False)
    assert {c["type"]: (c["status"], c["reason"]) for c in new["conditions"]} == {
        "Applied": ("False", "MissingName"),
        "Available": ("False", "MissingName"),
        "Degraded": ("True", "MissingName"),
    }


def test_a_failed_status_never_keeps_the_status_of_an_object_that_is_gone():
    before = work(WIDGET)
    before["status"] = {
        "applied": True,
        "available": True,
        "downstreamStatus": {"conditions": [{"type": "Ready", "status": "True"}]},
        "downstreamUID": "u1",
        "downstreamFingerprint": "g3",
        "conditions": status.set_condition([], "Available", "True", "Available", "", NOW),
    }
    gone = apply._work_status(before, None, NOW, error="not served", reason="KindNotServed")
    assert "downstreamStatus" not in gone and gone["downstreamUID"] == "" and gone["downstreamFingerprint"] == ""
    assert status.condition_status(gone["conditions"], "Available") == "False"
    assert status.work_state({"metadata": {}, "status": gone}) == (False, False, True)
    running = {**WIDGET, "metadata": {**WIDGET["metadata"], "uid": "u1", "generation": 3}, "status": {"size": 1}}
    refused = apply._work_status(before, running, NOW, error="refused", reason="RefusedByMember")
    assert refused["downstreamUID"] == "u1" and refused["available"] is False  # what runs, as it runs


def _placed(cluster: str, state: dict) -> dict:
    return {"spec": {"cluster": cluster}, "status": state}


def test_a_cluster_that_cannot_apply_makes_the_source_degraded_with_its_reason():
    healthy = {"downstreamStatus": {"replicas": 2, "availableReplicas": 2, "conditions": [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}}  # fmt: skip
    refused = apply._work_status(
        work({**WIDGET, "kind": "Deployment"}),
        None,
        NOW,
        error="the member refused it: quota",
        reason="RefusedByMember",
    )
    per_cluster = {c: aggregate.cluster_status(_placed(c, s)) for c, s in (("east", healthy), ("west", refused))}
    merged = status.aggregate_status("Deployment", per_cluster, NOW)
    degraded = status.get_condition(merged["conditions"], "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "RefusedByMember")
    assert "west" in degraded["message"] and "quota" in degraded["message"]
    assert status.condition_status(merged["conditions"], "Available") != "True"
    assert merged["availableReplicas"] == 2
    # Healthy again: no Degraded condition at all.
    alone = status.aggregate_status("Deployment", {"east": aggregate.cluster_status(_placed("east", healthy))}, NOW)
    assert "Degraded" not in {c["type"] for c in alone.get("conditions", [])}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_reported_failure_comes_back_after_a_capped_backoff_without_a_log_line(caplog, monkeypatch):
    monkeypatch.setattr(workqueue.random, "uniform", lambda _low, high: high)  # the longest wait of each step
    clock = Clock()
    queue = workqueue.WorkQueue("t", base_delay=1.0, max_delay=2.0, clock=clock)
    queue.add("k")

    def handle(_key):
        raise workqueue.Backoff("the member refused it", max_delay=16.0)

    waits = []
    with caplog.at_level(logging.INFO, logger="tmc"):
        for _failure in range(6):
            key = queue.get(timeout=0)
            workqueue.process_key(queue, handle, key, set())
            due, _seq = queue._due["k"]
            waits.append(due - clock())
            clock.now = due
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0]  # its own cap, not the queue's 2 s
    assert queue._failures["k"] == 6
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_an_object_every_cluster_makes_for_itself_is_made_by_member_and_never_sent():
    own = work({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "shop"}})
    report = apply.apply_works(None, "east", [own], NOW, live={})  # no member client: nothing is asked of one
    assert [(e["reason"], e["name"]) for e in report.errors] == [("MadeByMember", "default")]
    degraded = status.get_condition(report.statuses[("tmc-cluster-east", "shop.w.widget")]["conditions"], "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "MadeByMember")
