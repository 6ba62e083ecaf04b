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


# ------------------------------------------------------------------ observed time (clock skew)


def lease_written(renew_time: dt.datetime) -> dict:
    return {"spec": {"renewTime": renew_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}


@given(
    skew=st.floats(min_value=-3600, max_value=3600, allow_nan=False),
    interval=st.floats(min_value=1, max_value=20),
    beats=st.integers(min_value=1, max_value=30),
)
def test_a_member_that_renews_stays_ready_whatever_its_clock_says(skew, interval, beats):
    """A syncer whose clock is ``skew`` seconds off renews every ``interval`` seconds: as long as its
    Lease keeps changing, the observed age stays below the interval, whatever renewTime says."""
    observer = health.HeartbeatObserver()
    mono = 100.0
    for beat in range(beats):
        mono += interval
        when = NOW + dt.timedelta(seconds=skew + beat * interval)
        age = observer.age("east", lease_written(when), mono)
        assert age == 0.0
        later = mono + interval * 0.99  # just before the next renewal
        age = observer.age("east", lease_written(when), later)
        verdict = health.evaluate({"spec": {}}, lease_written(when), NOW, T, age=age)
        assert verdict.ready == "True" and verdict.taints == []


@pytest.mark.parametrize("skew_minutes", [-10, 0, 10])
def test_a_member_that_stops_renewing_goes_stale_then_evicts_on_the_observers_clock(skew_minutes):
    """Its last renewTime is skewed by minutes (ahead: it would look alive for ever; behind: dead at
    once, if judged against the hub's clock); the observer ages it from when it last changed."""
    observer = health.HeartbeatObserver()
    lease = lease_written(NOW + dt.timedelta(minutes=skew_minutes))
    observer.observe("east", lease, 1000.0)
    for elapsed, ready, effects in [
        (39.0, "True", []),
        (41.0, "Unknown", ["NoSchedule"]),
        (301.0, "Unknown", ["NoSchedule", "NoExecute"]),
    ]:
        now = NOW + dt.timedelta(seconds=elapsed)
        age = observer.age("east", lease, 1000.0 + elapsed)
        assert age == pytest.approx(elapsed)
        verdict = health.evaluate({"spec": {}}, lease, now, T, age=age)
        assert verdict.ready == ready
        assert [t["effect"] for t in verdict.taints] == effects
    # the NoExecute taint counts from when the heartbeat crossed the eviction timeout, on the hub's clock
    assert verdict.taints[1]["timeAdded"] == health.format_time(NOW + dt.timedelta(seconds=300))


def test_the_old_way_would_have_been_fooled_by_skew():
    """What observed time fixes: renewTime against the hub's clock keeps a dead member that ran 10
    minutes ahead alive, and kills a live one that runs 10 minutes behind."""
    ahead_and_dead = health.evaluate({"spec": {}}, lease_written(NOW + dt.timedelta(minutes=10)), NOW, T)
    behind_and_alive = health.evaluate({"spec": {}}, lease_written(NOW - dt.timedelta(minutes=10)), NOW, T)
    assert ahead_and_dead.ready == "True"
    assert health.evicting(behind_and_alive)


def test_a_lease_seen_for_the_first_time_counts_as_just_renewed_and_one_never_renewed_has_no_age():
    observer = health.HeartbeatObserver()
    assert observer.age("east", lease_written(NOW - dt.timedelta(hours=5)), 7.0) == 0.0
    assert observer.age("west", {"spec": {"holderIdentity": "west-syncer"}}, 7.0) is None
    assert observer.age("north", None, 7.0) is None
    verdict = health.evaluate({"spec": {}}, None, NOW, T, age=None)
    assert cond(verdict, "Heartbeat")["reason"] == "NeverHeartbeat"


def test_a_one_shot_reader_takes_the_hubs_time_of_the_renewal_over_the_members_renew_time():
    renewed_on_the_hub = NOW - dt.timedelta(seconds=5)
    lease = {
        "metadata": {
            "managedFields": [
                {
                    "manager": "east-syncer",
                    "time": health.format_time(renewed_on_the_hub),
                    "fieldsV1": {"f:spec": {"f:renewTime": {}, "f:holderIdentity": {}}},
                },
                {
                    "manager": "tmc-registration",
                    "time": health.format_time(NOW),
                    "fieldsV1": {"f:metadata": {"f:labels": {}}},
                },
            ]
        },
        "spec": {"renewTime": (NOW - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
    }
    assert health.last_heartbeat(lease) == renewed_on_the_hub
    verdict = health.evaluate({"spec": {}}, lease, NOW, T)
    assert verdict.ready == "True" and verdict.heartbeat_age == pytest.approx(5)
