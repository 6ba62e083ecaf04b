"""Spec first: status writes wait while new desired states wait (pure, on a fake clock)."""

from __future__ import annotations

import argparse

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import flags, pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Busy:
    def __init__(self, busy: bool = False) -> None:
        self.busy = busy

    def __call__(self) -> bool:
        return self.busy


def test_a_quiet_daemon_holds_nothing():
    hold = pacing.StatusHold(30.0, Busy(False), clock=Clock())
    assert [hold.wait(k) for k in "abc"] == [0.0, 0.0, 0.0]
    assert hold.held() == 0 and hold.release() == []


def test_a_busy_daemon_holds_each_write_from_its_first_ask_up_to_the_limit():
    clock, busy = Clock(), Busy(True)
    hold = pacing.StatusHold(30.0, busy, clock=clock)
    assert hold.wait("a") == 30.0
    clock.now += 10.0
    assert hold.wait("b") == 30.0
    assert hold.wait("a") == 20.0  # asked again: the same hold, not a new one
    assert hold.remaining("a") == 20.0 and hold.held() == 2
    clock.now += 20.0
    assert hold.wait("a") == 0.0  # its time is up: written now, though the daemon is still busy
    assert hold.held() == 1 and hold.remaining("a") == 0.0
    assert hold.wait("a") == 30.0  # a later change of the same object is held anew


def test_the_held_writes_are_released_once_the_daemon_is_no_longer_busy():
    clock, busy = Clock(), Busy(True)
    hold = pacing.StatusHold(30.0, busy, clock=clock)
    hold.wait("a")
    hold.wait("b")
    assert hold.release() == []  # still busy: nothing goes
    busy.busy = False
    assert hold.remaining("a") == 0.0  # not busy: no time left, though not yet released
    assert sorted(hold.release()) == ["a", "b"]
    assert hold.held() == 0 and hold.release() == []
    busy.busy = True  # busy again before the released writes are made: they are not held again
    assert hold.wait("a") == 0.0 and hold.wait("b") == 0.0
    assert hold.wait("a") == 30.0  # a later change is held anew


def test_a_forgotten_key_is_no_longer_held():
    hold = pacing.StatusHold(30.0, Busy(True), clock=Clock())
    hold.wait("gone")
    hold.forget("gone")
    assert hold.held() == 0 and hold.remaining("gone") == 0.0


def test_limit_zero_holds_nothing():
    hold = pacing.StatusHold(0.0, Busy(True), clock=Clock())
    assert hold.wait("a") == 0.0 and hold.held() == 0


def test_the_hold_flag_defaults_and_parses():
    parser = argparse.ArgumentParser()
    flags.common_flags(parser)
    assert parser.parse_args([]).status_hold == flags.STATUS_HOLD
    assert parser.parse_args(["--status-hold", "0"]).status_hold == 0.0


# Each step: advance the clock by some seconds, set busy, ask for one key, or release.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.floats(0.0, 20.0)),
        st.tuples(st.just("busy"), st.booleans()),
        st.tuples(st.just("ask"), st.sampled_from("abcd")),
        st.tuples(st.just("release"), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_no_write_waits_past_the_limit_and_none_waits_while_the_daemon_is_quiet(program):
    limit = 30.0
    clock, busy = Clock(), Busy(False)
    hold = pacing.StatusHold(limit, busy, clock=clock)
    first_ask: dict = {}  # key -> when it was first asked for since it was last written
    released: set = set()  # keys let go by release() and not asked for since
    for op, arg in program:
        if op == "tick":
            clock.now += arg
        elif op == "busy":
            busy.busy = arg
        elif op == "release":
            released |= set(hold.release())
        else:
            wait = hold.wait(arg)
            since = first_ask.setdefault(arg, clock.now)
            if not busy.busy or arg in released:
                assert wait == 0.0  # quiet, or let go: written now
            released.discard(arg)
            assert wait <= max(0.0, since + limit - clock.now) + 1e-9  # never held past the limit
            if wait == 0.0:
                first_ask.pop(arg)
            else:
                assert hold.remaining(arg) == wait
    assert hold.held() == len(first_ask.keys() - released)
