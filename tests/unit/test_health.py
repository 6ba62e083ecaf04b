"""Cluster health: heartbeat age -> conditions and taints (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api, health

NOW = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)
T = health.Thresholds(heartbeat=40, eviction=300)


def lease_renewed(seconds_ago: float) -> dict:
    return {"spec": {"renewTime": (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}


def cond(h, kind):
    return next(c for c in h.conditions if c["type"] == kind)


def test_fresh_heartbeat_is_ready_and_untainted():
    h = health.evaluate({"spec": {}}, lease_renewed(5), NOW, T)
    assert h.ready == "True"
    assert cond(h, "Heartbeat")["status"] == "True"
    assert h.taints == [] and h.schedulable
    assert h.heartbeat_age == pytest.approx(5)


def test_never_heartbeat_is_unknown_and_not_schedulable():
    h = health.evaluate({"spec": {}}, None, NOW, T)
    assert h.ready == "Unknown"
    assert cond(h, "Heartbeat")["reason"] == "NeverHeartbeat"
    assert [(t["key"], t["effect"]) for t in h.taints] == [(api.TAINT_UNREACHABLE, "NoSchedule")]


def test_stale_heartbeat_taints_noschedule_then_noexecute():
    stale = health.evaluate({"spec": {}}, lease_renewed(60), NOW, T)
    assert stale.ready == "Unknown"
    assert [t["effect"] for t in stale.taints] == ["NoSchedule"]
    evicted = health.evaluate({"spec": {}}, lease_renewed(400), NOW, T)
    assert [t["effect"] for t in evicted.taints] == ["NoSchedule", "NoExecute"]
    # NoExecute counts from when the heartbeat crossed the eviction timeout.
    assert evicted.taints[1]["timeAdded"] == health.format_time(NOW - dt.timedelta(seconds=100))


def test_unreachable_api_makes_ready_false():
    probe = health.api_reachable_condition(False, "connection refused", NOW)
    h = health.evaluate({"spec": {}, "status": {"conditions": [probe]}}, lease_renewed(1), NOW, T)
    assert h.ready == "False"
    assert cond(h, "Ready")["message"] == "connection refused"


def test_cordon_adds_unschedulable_taint():
    h = health.evaluate({"spec": {"unschedulable": True}}, lease_renewed(1), NOW, T)
    assert h.ready == "True"
    assert [(t["key"], t["effect"]) for t in h.taints] == [(api.TAINT_UNSCHEDULABLE, "NoSchedule")]
    assert not h.schedulable


def test_transition_time_moves_only_on_status_change():
    first = health.evaluate({"spec": {}}, lease_renewed(1), NOW, T)
    later = NOW + dt.timedelta(seconds=20)
    again = health.evaluate(
        {"spec": {}, "status": {"conditions": first.conditions}},
        {"spec": {"renewTime": health.format_time(later)}},
        later,
        T,
    )
    assert cond(again, "Ready")["lastTransitionTime"] == cond(first, "Ready")["lastTransitionTime"]
    stale_at = NOW + dt.timedelta(seconds=100)
    stale = health.evaluate({"spec": {}, "status": {"conditions": first.conditions}}, lease_renewed(1), stale_at, T)
    assert cond(stale, "Ready")["lastTransitionTime"] == health.format_time(stale_at)


def test_taint_time_is_kept_across_evaluations():
    first = health.evaluate({"spec": {}}, lease_renewed(60), NOW, T)
    later = health.evaluate({"spec": {}, "status": {"taints": first.taints}}, lease_renewed(80), NOW, T)
    assert later.taints == first.taints


@pytest.mark.parametrize(
    "kwargs,field", [({"heartbeat": 0}, "heartbeat_threshold"), ({"heartbeat": 60, "eviction": 30}, "eviction_timeout")]
)
def test_bad_thresholds_name_the_option(kwargs, field):
    with pytest.raises(api.SpecError, match=field):
        health.Thresholds(**kwargs)


@given(st.floats(min_value=0, max_value=10_000, allow_nan=False))
def test_taints_grow_monotonically_with_age(age):
    h = health.evaluate({"spec": {}}, lease_renewed(age), NOW, T)
    effects = [t["effect"] for t in h.taints]
    if age <= T.heartbeat:
        assert effects == [] and h.ready == "True"
    elif age <= T.eviction:
        assert effects == ["NoSchedule"]
    else:
        assert effects == ["NoSchedule", "NoExecute"]


def test_full_disruption_only_when_every_cluster_is_past_eviction():
    gone = health.evaluate({"spec": {}}, lease_renewed(400), NOW, T)
    stale = health.evaluate({"spec": {}}, lease_renewed(60), NOW, T)
    fresh = health.evaluate({"spec": {}}, lease_renewed(1), NOW, T)
    assert health.full_disruption([gone, gone, gone])
    assert not health.full_disruption([gone, gone, fresh])
    assert not health.full_disruption([gone, stale])
    assert not health.full_disruption([])


def test_current_health_holds_evictions_in_a_full_disruption_and_not_otherwise():
    from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters

    regs = [{"metadata": {"name": n}, "spec": {}} for n in ("a", "b", "c")]

    def effects(leases):
        fresh = clusters.with_current_health(regs, leases, NOW, T, failover=True)
        return {r["metadata"]["name"]: sorted(t["effect"] for t in r["status"]["taints"]) for r in fresh}

    everyone_gone = {n: lease_renewed(400) for n in ("a", "b", "c")}
    assert effects(everyone_gone) == {n: ["NoSchedule"] for n in ("a", "b", "c")}
    one_gone = {"a": lease_renewed(400), "b": lease_renewed(1), "c": lease_renewed(1)}
    assert effects(one_gone) == {"a": ["NoExecute", "NoSchedule"], "b": [], "c": []}
