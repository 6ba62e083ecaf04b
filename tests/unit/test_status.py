"""status: downstream whitelists, availability, aggregation across clusters, summaries, conditions."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api, status

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
NOW_TEXT = "2025-06-01T12:00:00Z"
T1, T2, T3 = "2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z", "2025-05-03T00:00:00Z"

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cond(ctype, state, reason="", message="", time=T1, **extra):
    out = {"type": ctype, "status": state, "lastTransitionTime": time}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    out.update(extra)
    return out


# --------------------------------------------------------------------------
# Time and conditions


def test_format_time():
    assert status.format_time(NOW) == NOW_TEXT
    assert status.format_time("2025-06-01T14:00:00.123+02:00") == NOW_TEXT
    assert status.format_time(datetime(2025, 6, 1, 7, tzinfo=timezone(timedelta(hours=-5)))) == NOW_TEXT
    with pytest.raises(ValueError):
        status.format_time(datetime(2025, 6, 1))
    with pytest.raises(ValueError):
        status.format_time("yesterday")


def test_parse_time():
    assert status.parse_time("2025-06-01T12:00:00Z") == NOW
    assert status.parse_time("2025-06-01T12:00:00") == NOW
    assert status.parse_time("nope") is None
    assert status.parse_time(None) is None


def test_set_condition_appends_new_condition():
    before = [cond("Ready", "True")]
    out = status.set_condition(before, "Applied", "True", "Applied", "ok", NOW)
    assert before == [cond("Ready", "True")]
    assert out == [
        cond("Ready", "True"),
        {"type": "Applied", "status": "True", "reason": "Applied", "message": "ok", "lastTransitionTime": NOW_TEXT},
    ]


def test_set_condition_keeps_transition_time_when_status_is_unchanged():
    before = [cond("Applied", "True", "Old", "old"), cond("Ready", "True")]
    out = status.set_condition(before, "Applied", "True", "New", "new", NOW)
    assert out[0] == cond("Applied", "True", "New", "new", time=T1)
    assert out[1] == before[1]
    assert before[0]["reason"] == "Old"


def test_set_condition_changes_transition_time_when_status_changes():
    out = status.set_condition([cond("Applied", "True")], "Applied", "False", "ApplyFailed", "conflict", NOW)
    assert out == [cond("Applied", "False", "ApplyFailed", "conflict", time=NOW_TEXT)]


def test_set_condition_observed_generation_and_validation():
    out = status.set_condition([], "Applied", "True", "Applied", "", NOW, observed_generation=4)
    assert out[0]["observedGeneration"] == 4
    out = status.set_condition(out, "Applied", "True", "Applied", "", NOW)
    assert out[0]["observedGeneration"] == 4
    with pytest.raises(ValueError):
        status.set_condition([], "Applied", "Yes", "r", "m", NOW)


def test_set_condition_truncates_long_messages():
    out = status.set_condition([], "Degraded", "True", "Boom", "x" * 5000, NOW)
    assert len(out[0]["message"]) == status.MAX_MESSAGE
    assert out[0]["message"].endswith("...")


def test_condition_helpers():
    conditions = [cond("Ready", "True"), cond("Stalled", "maybe")]
    assert status.condition_status(conditions, "Ready") == "True"
    assert status.condition_status(conditions, "Stalled") == "Unknown"
    assert status.condition_status(conditions, "Other") is None
    assert status.is_condition_true(conditions, "Ready")
    assert status.remove_condition(conditions, "Ready") == [cond("Stalled", "maybe")]
    got = status.get_condition(conditions, "Ready")
    got["status"] = "False"
    assert conditions[0]["status"] == "True"


@SETTINGS
@given(
    st.lists(st.sampled_from(["A", "B", "C"]), max_size=3, unique=True),
    st.sampled_from(["A", "B", "D"]),
    st.sampled_from(["True", "False", "Unknown"]),
)
def test_set_condition_is_idempotent_and_keeps_one_per_type(types, ctype, state):
    conditions = [cond(t, "True") for t in types]
    once = status.set_condition(conditions, ctype, state, "R", "m", NOW)
    twice = status.set_condition(once, ctype, state, "R", "m", NOW + timedelta(hours=1))
    assert once == twice
    assert [c["type"] for c in once].count(ctype) == 1


# --------------------------------------------------------------------------
# downstream_status


def test_downstream_status_deployment_whitelist():
    obj = {
        "kind": "Deployment",
        "status": {
            "replicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 2,
            "updatedReplicas": 3,
            "unavailableReplicas": 1,
            "observedGeneration": 7,
            "collisionCount": 1,
            "terminatingReplicas": 0,
            "conditions": [cond("Available", "True", "MinimumReplicasAvailable", lastUpdateTime=T2)],
        },
    }
    assert status.downstream_status(obj) == {
        "replicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 2,
        "updatedReplicas": 3,
        "unavailableReplicas": 1,
        "observedGeneration": 7,
        "conditions": [cond("Available", "True", "MinimumReplicasAvailable", lastUpdateTime=T2)],
    }


def test_downstream_status_statefulset_daemonset_job():
    sts = {
        "kind": "StatefulSet",
        "status": {
            "replicas": 2,
            "readyReplicas": 1,
            "currentReplicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 1,
            "currentRevision": "db-5d",
            "updateRevision": "db-5d",
        },
    }
    assert status.downstream_status(sts) == {
        "replicas": 2,
        "readyReplicas": 1,
        "currentReplicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 1,
    }
    ds_status = {k: 1 for k in status.COUNTERS["DaemonSet"]}
    ds = {"kind": "DaemonSet", "status": {**ds_status, "observedGeneration": 2, "collisionCount": 3}}
    assert status.downstream_status(ds) == {**ds_status, "observedGeneration": 2}
    job = {
        "kind": "Job",
        "status": {
            "active": 1,
            "succeeded": 2,
            "failed": 0,
            "ready": 1,
            "terminating": 0,
            "startTime": T1,
            "completionTime": T2,
            "uncountedTerminatedPods": {},
            "conditions": [cond("Complete", "True")],
        },
    }
    assert status.downstream_status(job) == {
        "active": 1,
        "succeeded": 2,
        "failed": 0,
        "ready": 1,
        "startTime": T1,
        "completionTime": T2,
        "conditions": [cond("Complete", "True")],
    }


def test_downstream_status_service_and_others():
    svc = {
        "kind": "Service",
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ports": [{"port": 80, "protocol": "TCP"}]}]}},
    }
    assert status.downstream_status(svc) == svc["status"]
    cm = {"kind": "ConfigMap", "data": {"a": "b"}}
    assert status.downstream_status(cm) == {}
    custom = {
        "kind": "Widget",
        "status": {"observedGeneration": 3, "phase": "Ok", "conditions": [cond("Ready", "True")]},
    }
    assert status.downstream_status(custom) == {"observedGeneration": 3, "conditions": [cond("Ready", "True")]}


def test_downstream_status_is_bounded():
    conditions = [cond(f"T{i}", "True", "R" * 1000, "m" * 10_000, extra="x") for i in range(50)]
    conditions.insert(1, cond("T0", "False"))  # duplicate type: the first one wins
    ingress = [{"ip": f"10.0.0.{i}", "ports": [{"port": p} for p in range(40)]} for i in range(100)]
    obj = {"kind": "Service", "status": {"conditions": conditions, "loadBalancer": {"ingress": ingress}}}
    out = status.downstream_status(obj)
    assert len(out["conditions"]) == status.MAX_CONDITIONS
    assert out["conditions"][0]["status"] == "True"
    assert [c["type"] for c in out["conditions"]][:2] == ["T0", "T1"]
    assert all(len(c["message"]) <= status.MAX_MESSAGE for c in out["conditions"])
    assert all(len(c["reason"]) <= status.MAX_REASON for c in out["conditions"])
    assert all("extra" not in c for c in out["conditions"])
    assert len(out["loadBalancer"]["ingress"]) == status.MAX_INGRESS
    assert all(len(e["ports"]) == status.MAX_PORTS for e in out["loadBalancer"]["ingress"])
    assert len(str(out)) < 40_000


def test_downstream_status_ignores_wrongly_typed_values_and_does_not_mutate():
    obj = {"kind": "Deployment", "status": {"replicas": "3", "readyReplicas": True, "conditions": "bad"}}
    before = copy.deepcopy(obj)
    assert status.downstream_status(obj) == {}
    assert obj == before
    assert status.downstream_status({"kind": "Deployment"}) == {}
    assert status.downstream_status("nope") == {}


# --------------------------------------------------------------------------
# is_available


def full(kind, spec, state, generation=2):
    return {"kind": kind, "metadata": {"name": "x", "generation": generation}, "spec": spec, "status": state}


@pytest.mark.parametrize(
    "obj, desired, expected",
    [
        (full("Deployment", {"replicas": 3}, {"observedGeneration": 2, "availableReplicas": 3}), None, True),
        (full("Deployment", {"replicas": 3}, {"observedGeneration": 2, "availableReplicas": 2}), None, False),
        (full("Deployment", {"replicas": 3}, {"observedGeneration": 1, "availableReplicas": 3}), None, False),
        (full("Deployment", {"replicas": 3}, {"observedGeneration": 2, "availableReplicas": 2}), 2, True),
        (full("Deployment", {}, {"observedGeneration": 2, "availableReplicas": 1}), None, True),
        (full("Deployment", {"replicas": 0}, {"observedGeneration": 2}), None, True),
        (full("Deployment", {"replicas": 1}, {}), None, False),
        ({"observedGeneration": 1, "replicas": 2, "availableReplicas": 2}, None, True),
        ({"observedGeneration": 1, "replicas": 3, "availableReplicas": 2}, None, False),
        ({"availableReplicas": 2}, 2, False),  # a bare status without observedGeneration: nothing observed
        ({}, None, False),
    ],
)
def test_is_available_deployment(obj, desired, expected):
    assert status.is_available("Deployment", obj, desired) is expected


@pytest.mark.parametrize(
    "obj, expected",
    [
        (full("StatefulSet", {"replicas": 2}, {"observedGeneration": 2, "readyReplicas": 2}), True),
        (
            full("StatefulSet", {"replicas": 2}, {"observedGeneration": 2, "readyReplicas": 1, "availableReplicas": 2}),
            False,
        ),
        ({"observedGeneration": 5, "replicas": 2, "readyReplicas": 2}, True),
    ],
)
def test_is_available_statefulset(obj, expected):
    assert status.is_available("StatefulSet", obj) is expected


@pytest.mark.parametrize(
    "obj, desired, expected",
    [
        ({"observedGeneration": 1, "desiredNumberScheduled": 3, "numberAvailable": 3}, None, True),
        ({"observedGeneration": 1, "desiredNumberScheduled": 3, "numberAvailable": 2}, None, False),
        ({"observedGeneration": 1, "desiredNumberScheduled": 0}, None, True),
        ({"observedGeneration": 1, "numberAvailable": 0}, None, False),
        ({"observedGeneration": 1, "desiredNumberScheduled": 3, "numberAvailable": 2}, 2, True),
        (
            full("DaemonSet", {}, {"observedGeneration": 1, "desiredNumberScheduled": 1, "numberAvailable": 1}),
            None,
            False,
        ),
    ],
)
def test_is_available_daemonset(obj, desired, expected):
    assert status.is_available("DaemonSet", obj, desired) is expected


@pytest.mark.parametrize(
    "obj, expected",
    [
        ({"conditions": [cond("Complete", "True")]}, True),
        ({"succeeded": 1}, True),
        ({"active": 1}, False),
        (full("Job", {"completions": 3}, {"succeeded": 2}), False),
        (full("Job", {"completions": 3}, {"succeeded": 3}), True),
        ({"succeeded": 1, "conditions": [cond("Failed", "True")]}, False),
    ],
)
def test_is_available_job(obj, expected):
    assert status.is_available("Job", obj) is expected


@pytest.mark.parametrize(
    "obj, expected",
    [
        (full("Service", {"type": "ClusterIP"}, {}), True),
        (full("Service", {"type": "LoadBalancer"}, {"loadBalancer": {}}), False),
        (full("Service", {"type": "LoadBalancer"}, {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}), True),
        ({"loadBalancer": {}}, True),
    ],
)
def test_is_available_service(obj, expected):
    assert status.is_available("Service", obj) is expected


@pytest.mark.parametrize(
    "kind, obj, expected",
    [
        ("ConfigMap", {"kind": "ConfigMap", "data": {}}, True),
        ("Secret", {}, True),
        ("Ingress", {"loadBalancer": {}}, True),
        ("Widget", {"conditions": [cond("Available", "True"), cond("Ready", "False")]}, True),
        ("Widget", {"conditions": [cond("Available", "False"), cond("Ready", "True")]}, False),
        ("Widget", {"conditions": [cond("Ready", "True")]}, True),
        ("Widget", {"conditions": [cond("Ready", "Unknown")]}, False),
        ("Widget", {}, True),
        ("Widget", full("Widget", {}, {"observedGeneration": 1, "conditions": [cond("Ready", "True")]}), False),
        ("Pod", {"conditions": [cond("Ready", "True")]}, True),
    ],
)
def test_is_available_other_kinds(kind, obj, expected):
    assert status.is_available(kind, obj) is expected


# --------------------------------------------------------------------------
# aggregate_status


def deployment_status(replicas, available, cond_state="True", time=T1, generation=9):
    return {
        "replicas": replicas,
        "readyReplicas": available,
        "availableReplicas": available,
        "updatedReplicas": replicas,
        "observedGeneration": generation,
        "conditions": [
            cond("Available", cond_state, "MinimumReplicasAvailable" if cond_state == "True" else "Min", time=time),
            cond("Progressing", "True", "NewReplicaSetAvailable", time=time),
        ],
    }


def test_aggregate_no_clusters():
    assert status.aggregate_status("Deployment", {}, NOW, generation=4) == {"observedGeneration": 4}
    assert status.aggregate_status("Job", {}, NOW, generation=4) == {}


def test_aggregate_one_cluster_is_a_copy_with_hub_generation():
    one = deployment_status(2, 2)
    before = copy.deepcopy(one)
    out = status.aggregate_status("Deployment", {"east": one}, NOW, generation=4)
    assert one == before
    assert out == {**before, "observedGeneration": 4}
    out["conditions"][0]["status"] = "False"
    assert one == before


def test_aggregate_one_cluster_without_generation_drops_member_generation():
    out = status.aggregate_status("Deployment", {"east": deployment_status(2, 2)}, NOW)
    assert "observedGeneration" not in out


def test_aggregate_deployment_multi_cluster():
    per_cluster = {
        "east": deployment_status(2, 2, time=T1),
        "west": deployment_status(3, 1, cond_state="False", time=T2),
        "north": deployment_status(1, 1, time=T3),
    }
    per_cluster["west"]["unavailableReplicas"] = 2
    per_cluster["west"]["conditions"][0]["message"] = "Deployment does not have minimum availability."
    out = status.aggregate_status("Deployment", per_cluster, NOW, generation=11)
    assert out["replicas"] == 6
    assert out["readyReplicas"] == 4
    assert out["availableReplicas"] == 4
    assert out["updatedReplicas"] == 6
    assert out["unavailableReplicas"] == 2
    assert out["observedGeneration"] == 11
    available, progressing = out["conditions"]
    assert available == {
        "type": "Available",
        "status": "False",
        "reason": "Min",
        "message": "Available is not True on 1 of 3 clusters: west (False, Min: "
        "Deployment does not have minimum availability.)",
        "lastTransitionTime": T2,
    }
    assert progressing == {
        "type": "Progressing",
        "status": "True",
        "reason": "NewReplicaSetAvailable",
        "message": "Progressing is True on every cluster: east, north, west",
        "lastTransitionTime": T3,
    }


def test_aggregate_available_true_when_all_true():
    per_cluster = {"east": deployment_status(1, 1, time=T1), "west": deployment_status(1, 1, time=T2)}
    out = status.aggregate_status("Deployment", per_cluster, NOW)
    available = out["conditions"][0]
    assert available["status"] == "True"
    assert available["reason"] == "MinimumReplicasAvailable"
    assert available["lastTransitionTime"] == T2


def test_aggregate_unknown_beats_true_and_missing_counts_as_unknown():
    per_cluster = {
        "a": {"conditions": [cond("Available", "True")]},
        "b": {"conditions": [cond("Available", "Unknown", "Lost", time=T2)]},
        "c": {"conditions": []},
    }
    available = status.aggregate_status("Widget", per_cluster, NOW)["conditions"][0]
    assert available["status"] == "Unknown"
    assert available["reason"] == "MultipleClusters"
    assert "b (Unknown, Lost)" in available["message"]
    assert "c (not reported)" in available["message"]
    assert "2 of 3" in available["message"]
    assert available["lastTransitionTime"] == T2


def test_aggregate_false_beats_unknown():
    per_cluster = {"a": {"conditions": [cond("Ready", "Unknown")]}, "b": {"conditions": [cond("Ready", "False")]}}
    assert status.aggregate_status("Widget", per_cluster, NOW)["conditions"][0]["status"] == "False"


def test_aggregate_negative_conditions_true_wins_and_absent_is_false():
    per_cluster = {
        "a": {"conditions": [cond("ReplicaFailure", "True", "FailedCreate", "quota", time=T2)]},
        "b": {"conditions": []},
    }
    failure = status.aggregate_status("Deployment", per_cluster, NOW)["conditions"][0]
    assert failure["status"] == "True"
    assert failure["reason"] == "FailedCreate"
    assert failure["message"] == "ReplicaFailure is not False on 1 of 2 clusters: a (True, FailedCreate: quota)"
    per_cluster["a"]["conditions"][0]["status"] = "False"
    assert status.aggregate_status("Deployment", per_cluster, NOW)["conditions"][0]["status"] == "False"


def test_aggregate_uses_now_only_when_no_input_has_a_time():
    per_cluster = {"a": {"conditions": [{"type": "Ready", "status": "True"}]}, "b": {}}
    ready = status.aggregate_status("Widget", per_cluster, NOW)["conditions"][0]
    assert ready["status"] == "Unknown"
    assert ready["reason"] == "NotReported"
    assert ready["lastTransitionTime"] == NOW_TEXT
    assert status.aggregate_status("Widget", per_cluster, NOW_TEXT)["conditions"][0]["lastTransitionTime"] == NOW_TEXT


def test_aggregate_condition_generation_retargeted_only_where_the_field_exists():
    per_cluster = {
        "a": {"observedGeneration": 3, "conditions": [cond("Ready", "True", observedGeneration=3)]},
        "b": {"observedGeneration": 8, "conditions": [cond("Ready", "True", observedGeneration=8)]},
    }
    out = status.aggregate_status("Widget", per_cluster, NOW, generation=5)
    assert out["observedGeneration"] == 5
    assert out["conditions"][0]["observedGeneration"] == 5
    out = status.aggregate_status("Widget", per_cluster, NOW)
    assert "observedGeneration" not in out
    assert "observedGeneration" not in out["conditions"][0]
    deploy = status.aggregate_status("Deployment", {"a": deployment_status(1, 1), "b": deployment_status(1, 1)}, NOW, 5)
    assert all("observedGeneration" not in c for c in deploy["conditions"])


def test_aggregate_statefulset():
    per_cluster = {
        "a": {"replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
        "b": {"replicas": 1, "readyReplicas": 0, "currentReplicas": 1, "updatedReplicas": 1},
    }
    out = status.aggregate_status("StatefulSet", per_cluster, NOW, generation=2)
    assert out == {
        "replicas": 3,
        "readyReplicas": 2,
        "currentReplicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 2,
        "observedGeneration": 2,
    }
    assert status.aggregate_status("StatefulSet", {"a": per_cluster["b"]}, NOW, generation=2) == {
        **per_cluster["b"],
        "observedGeneration": 2,
    }


def test_aggregate_daemonset():
    a = {k: 2 for k in status.COUNTERS["DaemonSet"]}
    b = {k: 3 for k in status.COUNTERS["DaemonSet"]}
    out = status.aggregate_status("DaemonSet", {"a": a, "b": b}, NOW, generation=1)
    assert out == {**{k: 5 for k in status.COUNTERS["DaemonSet"]}, "observedGeneration": 1}
    assert status.aggregate_status("DaemonSet", {"a": a}, NOW) == a


def test_aggregate_job_running_and_completed():
    running = {
        "a": {"active": 1, "startTime": T2},
        "b": {
            "succeeded": 1,
            "startTime": T1,
            "completionTime": T3,
            "conditions": [cond("SuccessCriteriaMet", "True", time=T3), cond("Complete", "True", time=T3)],
        },
    }
    out = status.aggregate_status("Job", running, NOW, generation=2)
    assert out == {"active": 1, "succeeded": 1, "startTime": T1}
    done = copy.deepcopy(running)
    done["a"] = {
        "succeeded": 2,
        "startTime": T2,
        "completionTime": T2,
        "conditions": [cond("SuccessCriteriaMet", "True", time=T2), cond("Complete", "True", time=T2)],
    }
    out = status.aggregate_status("Job", done, NOW)
    assert out["succeeded"] == 3
    assert out["startTime"] == T1
    assert out["completionTime"] == T3
    assert [(c["type"], c["status"], c["lastTransitionTime"]) for c in out["conditions"]] == [
        ("SuccessCriteriaMet", "True", T3),
        ("Complete", "True", T3),
    ]


def test_aggregate_job_failed_in_one_cluster():
    per_cluster = {
        "a": {"succeeded": 1, "completionTime": T2, "conditions": [cond("Complete", "True")]},
        "b": {
            "failed": 4,
            "conditions": [
                cond("FailureTarget", "True", "BackoffLimitExceeded"),
                cond("Failed", "True", "BackoffLimitExceeded"),
            ],
        },
    }
    out = status.aggregate_status("Job", per_cluster, NOW)
    assert out["failed"] == 4
    assert "completionTime" not in out
    types = {c["type"]: c for c in out["conditions"]}
    assert "Complete" not in types
    assert types["Failed"]["status"] == "True"
    assert types["Failed"]["reason"] == "BackoffLimitExceeded"
    assert types["FailureTarget"]["status"] == "True"


def test_aggregate_job_single_cluster_copy():
    one = {"active": 1, "ready": 1, "startTime": T1}
    assert status.aggregate_status("Job", {"a": one}, NOW, generation=3) == one


def test_aggregate_service_load_balancer_union():
    per_cluster = {
        "a": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example.com"}]}},
        "b": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}},
        "c": {"loadBalancer": {}},
    }
    out = status.aggregate_status("Service", per_cluster, NOW, generation=1)
    assert out == {
        "loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}
    }
    assert status.aggregate_status("Service", {"a": {}, "b": {}}, NOW) == {"loadBalancer": {}}
    assert status.aggregate_status("Service", {"a": per_cluster["a"]}, NOW) == per_cluster["a"]


def test_aggregate_other_kinds_merge_conditions_only():
    per_cluster = {
        "a": {"conditions": [cond("Ready", "True")], "replicas": 4},
        "b": {"conditions": [cond("Ready", "True")], "phase": "x"},
    }
    out = status.aggregate_status("Widget", per_cluster, NOW)
    assert set(out) == {"conditions"}
    assert status.aggregate_status("ConfigMap", {"a": {}, "b": {}}, NOW) == {}


def test_aggregate_filters_raw_statuses_through_the_whitelist():
    out = status.aggregate_status("Deployment", {"a": {"replicas": 1, "collisionCount": 2}}, NOW)
    assert out == {"replicas": 1}


def test_aggregate_message_is_bounded():
    per_cluster = {f"cluster-{i:03d}": {"conditions": [cond("Ready", "False", "R", "m" * 500)]} for i in range(100)}
    ready = status.aggregate_status("Widget", per_cluster, NOW)["conditions"][0]
    assert len(ready["message"]) == status.MAX_MESSAGE
    assert ready["reason"] == "R"


# --------------------------------------------------------------------------
# summarize


def work(cluster, kind="Deployment", applied=True, available=True, degraded=False, **meta):
    conditions = [cond("Degraded", "True" if degraded else "False")]
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_SYNCWORK,
        "metadata": {"name": "w", "namespace": api.cluster_namespace(cluster), **meta},
        "spec": {"cluster": cluster, "source": {"kind": kind}},
        "status": {"applied": applied, "available": available, "conditions": conditions},
    }


def test_summarize():
    works = [
        work("east"),
        work("east", "Service", available=False),
        work("west", applied=False, available=False, degraded=True),
        work("west", "Service", deletionTimestamp=T1),
        work("north", generation=3),
    ]
    works[4]["status"]["observedGeneration"] = 2
    before = copy.deepcopy(works)
    out = status.summarize(works)
    assert works == before
    assert out["summary"] == [
        {"cluster": "east", "applied": 2, "available": 1, "degraded": 0},
        {"cluster": "north", "applied": 0, "available": 0, "degraded": 0},
        {"cluster": "west", "applied": 0, "available": 0, "degraded": 1},
    ]
    assert out["kinds"] == [
        {"kind": "Deployment", "workloads": 3, "applied": 1, "available": 1, "degraded": 1},
        {"kind": "Service", "workloads": 1, "applied": 1, "available": 0, "degraded": 0},
    ]


def test_summarize_falls_back_to_label_and_namespace_for_the_cluster():
    by_label = work("ignored")
    del by_label["spec"]["cluster"]
    by_label["metadata"]["labels"] = {api.LABEL_CLUSTER: "east"}
    by_namespace = work("west")
    del by_namespace["spec"]["cluster"]
    no_status = work("south")
    del no_status["status"]
    out = status.summarize([by_label, by_namespace, no_status])
    assert [row["cluster"] for row in out["summary"]] == ["east", "south", "west"]
    assert out["summary"][1] == {"cluster": "south", "applied": 0, "available": 0, "degraded": 0}
    assert status.summarize([]) == {"summary": [], "kinds": []}


def test_work_state_respects_generation():
    fresh = work("east", generation=2)
    fresh["status"]["observedGeneration"] = 2
    assert status.work_state(fresh) == (True, True, False)
    fresh["status"]["observedGeneration"] = 1
    assert status.work_state(fresh) == (False, False, False)


# --------------------------------------------------------------------------
# Properties of aggregation

CLUSTERS = [f"c{i}" for i in range(6)]
counter_values = st.integers(min_value=0, max_value=1000)
condition_states = st.sampled_from(["True", "False", "Unknown", None])
times = st.sampled_from([T1, T2, T3, None])


@st.composite
def member_statuses(draw, kind):
    out = {}
    for key in status.COUNTERS.get(kind, ()):
        if draw(st.booleans()):
            out[key] = draw(counter_values)
    conditions = []
    for ctype in ("Available", "Progressing", "ReplicaFailure"):
        state = draw(condition_states)
        if state is not None:
            c = {"type": ctype, "status": state, "reason": draw(st.sampled_from(["A", "B"]))}
            time = draw(times)
            if time:
                c["lastTransitionTime"] = time
            conditions.append(c)
    if conditions:
        out["conditions"] = conditions
    if kind == "Service" and draw(st.booleans()):
        out["loadBalancer"] = {"ingress": [{"ip": draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]))}]}
    return out


@st.composite
def fleets(draw):
    kind = draw(st.sampled_from(["Deployment", "StatefulSet", "DaemonSet", "Job", "Service", "Widget"]))
    names = draw(st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=6, unique=True))
    return kind, {name: draw(member_statuses(kind)) for name in names}


@SETTINGS
@given(fleets())
def test_counters_are_sums(fleet):
    kind, per_cluster = fleet
    out = status.aggregate_status(kind, per_cluster, NOW)
    for key in status.COUNTERS.get(kind, ()):
        assert out.get(key, 0) == sum(s.get(key, 0) for s in per_cluster.values())


@SETTINGS
@given(fleets())
def test_available_is_true_iff_true_on_every_cluster(fleet):
    kind, per_cluster = fleet
    out = status.aggregate_status(kind, per_cluster, NOW)
    merged = status.condition_status(out.get("conditions"), "Available")
    member = [status.condition_status(s.get("conditions"), "Available") for s in per_cluster.values()]
    assert (merged == "True") == all(m == "True" for m in member)
    if any(m == "False" for m in member):
        assert merged == "False"


@SETTINGS
@given(fleets(), st.randoms(use_true_random=False), st.none() | st.integers(1, 9))
def test_cluster_order_does_not_matter(fleet, rnd, generation):
    kind, per_cluster = fleet
    items = list(per_cluster.items())
    rnd.shuffle(items)
    shuffled = dict(items)
    before = copy.deepcopy(per_cluster)
    assert status.aggregate_status(kind, shuffled, NOW, generation) == status.aggregate_status(
        kind, per_cluster, NOW, generation
    )
    assert per_cluster == before


@SETTINGS
@given(fleets())
def test_one_cluster_is_a_copy(fleet):
    kind, per_cluster = fleet
    name, only = next(iter(per_cluster.items()))
    assert status.aggregate_status(kind, {name: only}, NOW) == status.downstream_status({"kind": kind, "status": only})


@SETTINGS
@given(fleets())
def test_aggregate_is_stable_over_time_when_inputs_have_times(fleet):
    kind, per_cluster = fleet
    for member in per_cluster.values():
        for c in member.get("conditions", []):
            c.setdefault("lastTransitionTime", T1)
    later = NOW + timedelta(days=1)
    assert status.aggregate_status(kind, per_cluster, NOW) == status.aggregate_status(kind, per_cluster, later)
