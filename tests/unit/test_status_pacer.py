"""The daemons' status pacer: a token bucket with one slot per waiting key (pure, on a fake clock)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import flags, pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_daemon_writes_at_once():
    clock = Clock()
    pacer = pacing.StatusPacer(rate=2.0, burst=3, clock=clock)
    assert [pacer.wait(k) for k in "abc"] == [0.0, 0.0, 0.0]
    clock.now += 10.0
    assert pacer.wait("d") == 0.0
    assert pacer.waiting() == 0


def test_over_the_burst_each_key_gets_its_own_slot_in_order():
    clock = Clock()
    pacer = pacing.StatusPacer(rate=4.0, burst=2, clock=clock)
    waits = [pacer.wait(k) for k in "abcde"]
    assert waits == pytest.approx([0.0, 0.0, 0.25, 0.5, 0.75])
    assert pacer.waiting() == 3


def test_asking_again_for_a_waiting_key_takes_no_new_slot():
    clock = Clock()
    pacer = pacing.StatusPacer(rate=1.0, burst=1, clock=clock)
    assert pacer.wait("a") == 0.0
    assert pacer.wait("b") == 1.0
    clock.now += 0.4
    assert abs(pacer.wait("b") - 0.6) < 1e-9  # the same slot, not a second one
    assert abs(pacer.held("b") - 0.6) < 1e-9
    assert pacer.wait("c") == pytest.approx(1.6)  # behind b's slot
    clock.now += 0.6
    assert pacer.wait("b") == 0.0  # its time has come: written now
    assert pacer.held("b") == 0.0 and pacer.waiting() == 1


def test_a_forgotten_key_leaves_its_slot():
    clock = Clock()
    pacer = pacing.StatusPacer(rate=1.0, burst=1, clock=clock)
    pacer.wait("a")
    assert pacer.wait("gone") > 0
    pacer.forget("gone")
    assert pacer.waiting() == 0 and pacer.held("gone") == 0.0


def test_rate_zero_is_no_limit():
    pacer = pacing.StatusPacer(rate=0.0, burst=1, clock=Clock())
    assert all(pacer.wait(i) == 0.0 for i in range(1000))


def test_the_flags_reach_the_pacer_defaults():
    import argparse

    parser = argparse.ArgumentParser()
    flags.common_flags(parser)
    args = parser.parse_args(["--status-qps", "5", "--status-burst", "7"])
    assert (args.status_qps, args.status_burst) == (5.0, 7)
    defaults = parser.parse_args([])
    assert (defaults.status_qps, defaults.status_burst) == (flags.STATUS_QPS, flags.STATUS_BURST)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=50.0),
    burst=st.integers(min_value=1, max_value=20),
    steps=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=2.0), st.integers(min_value=0, max_value=30)),
        min_size=1,
        max_size=80,
    ),
)
def test_writes_never_outrun_the_bucket_and_every_key_is_written_once(rate, burst, steps):
    """Drive keys through the pacer as the syncer does (ask; when told to wait, come back at the
    slot): whatever the arrivals, no window of time holds more writes than the burst plus the rate
    allows, and every asked-for key is written exactly once per ask that was not already waiting."""
    clock = Clock()
    pacer = pacing.StatusPacer(rate=rate, burst=burst, clock=clock)
    writes: list[tuple[float, int]] = []
    waiting: dict[int, float] = {}  # key -> when it comes back

    def ask(key: int) -> None:
        wait = pacer.wait(key)
        if wait == 0.0:
            writes.append((clock.now, key))
            waiting.pop(key, None)
        else:
            waiting[key] = clock.now + wait

    def run_until(t: float) -> None:
        while waiting and min(waiting.values()) <= t:
            key = min(waiting, key=waiting.get)
            clock.now = max(clock.now, waiting[key])
            ask(key)

    asked = set()
    for gap, key in steps:
        run_until(clock.now + gap)
        clock.now += gap
        asked.add(key)
        if key not in waiting:
            ask(key)
    run_until(float("inf"))

    assert not waiting and pacer.waiting() == 0
    assert asked <= {key for _t, key in writes}
    times = sorted(t for t, _key in writes)
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t - start <= 1.0]
        assert len(in_window) <= burst + rate * 1.0 + 1e-6


def test_every_slot_given_is_reported_once():
    slots = []
    clock = Clock()
    pacer = pacing.StatusPacer(rate=1.0, burst=1, on_slot=lambda: slots.append(clock.now), clock=clock)
    pacer.wait("a")  # within the burst: no slot
    pacer.wait("b")
    pacer.wait("b")  # the same slot asked for again
    pacer.wait("c")
    assert len(slots) == 2
