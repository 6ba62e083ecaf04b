"""status.lastHeartbeatTime is written only when the health changes or at most once a minute
(kubelet NodeLease style): a steady renewal makes no ClusterRegistration status write."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import health
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import clusters

START = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)
T = health.Thresholds(heartbeat=40, eviction=300)
REGISTRATION = {"apiVersion": "tmc.kcp.io/v1alpha1", "kind": "ClusterRegistration", "metadata": {"name": "east"}}


class RefusingHub:
    """No write may reach it: check mode only computes."""

    def __getattr__(self, name):
        raise AssertionError(f"the hub was called ({name}) in check mode")


def pass_at(registration: dict, observer: health.HeartbeatObserver, lease: dict, seconds: float):
    """One controller health pass at START + seconds (monotonic = seconds); what it would write."""
    return clusters.update_health(
        RefusingHub(),
        registration,
        START + dt.timedelta(seconds=seconds),
        T,
        check_mode=True,
        lease=lease,
        observer=observer,
        observed_at=seconds,
    )


def lease(renewal: int) -> dict:
    return {"spec": {"renewTime": f"renewal-{renewal}"}}


def run_renewals(renew_every: float, duration: float, stop_at: float | None = None) -> list[tuple[float, dict]]:
    """A cluster renewing every ``renew_every`` s (until ``stop_at``) and a controller passing every
    2 s and on each renewal, as the daemon does; the status writes it makes, with their times."""
    observer = health.HeartbeatObserver()
    registration = dict(REGISTRATION)
    writes = []
    renewal, t = 0, 0.0
    while t <= duration:
        if stop_at is None or t < stop_at:
            renewal = int(t // renew_every)
        changed, status = pass_at(registration, observer, lease(renewal), t)
        if changed:
            writes.append((t, status))
            registration = {**registration, "status": status}
        t += 1.0
    return writes


def test_a_steady_heartbeat_is_written_at_most_once_a_minute():
    writes = run_renewals(renew_every=10, duration=600)
    times = [t for t, _status in writes]
    assert times[0] == 0.0  # the first pass records it
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(gap >= clusters.HEARTBEAT_STATUS_INTERVAL for gap in gaps), gaps
    # ten minutes of renewals every 10 s: 60 renewals, at most 11 status writes (was one per renewal)
    assert len(writes) <= 600 / clusters.HEARTBEAT_STATUS_INTERVAL + 1
    assert len(writes) >= 600 / clusters.HEARTBEAT_STATUS_INTERVAL - 1  # it still moves


def test_a_health_change_is_written_at_once_with_the_last_heartbeat():
    writes = run_renewals(renew_every=10, duration=120, stop_at=30)
    ready = [(t, next(c for c in s["conditions"] if c["type"] == "Ready")["status"]) for t, s in writes]
    # the last renewal was seen at t=20; 40 s later (the threshold) the next pass writes Ready=Unknown
    stale_at = next(t for t, status in ready if status == "Unknown")
    assert 60.0 < stale_at <= 62.0
    stale = dict(writes)[stale_at]
    assert stale["lastHeartbeatTime"] == health.format_time(START + dt.timedelta(seconds=20))
    assert stale["taints"] and stale["taints"][0]["effect"] == "NoSchedule"


def test_the_recorded_heartbeat_never_goes_back():
    current = {"lastHeartbeatTime": "2026-11-23T12:01:00Z", "conditions": [], "taints": []}
    assert clusters.recorded_heartbeat(current, current, "2026-11-23T12:00:59Z") == "2026-11-23T12:01:00Z"
    assert clusters.recorded_heartbeat(current, current, "2026-11-23T12:02:00Z") == "2026-11-23T12:02:00Z"
    assert clusters.recorded_heartbeat({}, {}, None) is None
    assert clusters.recorded_heartbeat(current, current, None) == "2026-11-23T12:01:00Z"


@settings(max_examples=60, deadline=None)
@given(
    renew_every=st.sampled_from([1, 2, 5, 10, 30]),
    stop_at=st.one_of(st.none(), st.integers(min_value=5, max_value=400)),
)
def test_writes_are_bounded_by_changes_and_minutes(renew_every, stop_at):
    duration = 420
    writes = run_renewals(renew_every, duration, stop_at)
    health_changes = 0
    previous = None
    for _t, status in writes:
        shape = [(c["type"], c["status"]) for c in status["conditions"]], [t["effect"] for t in status["taints"]]
        health_changes += shape != previous
        previous = shape
    assert len(writes) <= health_changes + duration / clusters.HEARTBEAT_STATUS_INTERVAL + 1
    # whatever was written last says the truth about the health at that moment
    last = writes[-1][1]
    ready = next(c for c in last["conditions"] if c["type"] == "Ready")["status"]
    expect_stale = stop_at is not None and duration - renew_every * ((stop_at - 1) // renew_every) > 40
    assert (ready == "Unknown") == expect_stale
