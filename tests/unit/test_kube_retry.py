"""Pure parts of the kube layer: backoff, transient-only retries, the circuit breaker."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import kube


@given(st.integers(1, 10), st.floats(0.01, 1), st.floats(1, 30))
def test_backoff_is_bounded_and_has_one_delay_fewer_than_attempts(attempts, base, cap):
    policy = kube.RetryPolicy(attempts=attempts, base_delay=base, max_delay=cap)
    delays = list(policy.delays(random.Random(1)))
    assert len(delays) == attempts - 1
    assert all(0 <= d <= min(cap, base * 2**i) for i, d in enumerate(delays))


@pytest.mark.parametrize("status,transient", [(0, True), (429, True), (500, True), (503, True),
                                              (400, False), (403, False), (404, False), (409, False), (422, False)])
def test_only_connection_errors_5xx_and_429_are_transient(status, transient):
    assert kube.is_transient(kube.KubeError("x", status)) is transient


def test_retries_transient_errors_then_succeeds_and_honours_retry_after():
    calls, slept = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise kube.KubeError("busy", 429, details={"retry_after": "2"})
        return "ok"

    assert kube.with_retries(flaky, kube.RetryPolicy(attempts=5, base_delay=0.01), sleep=slept.append) == "ok"
    assert len(calls) == 3 and slept == [2.0, 2.0]


def test_permanent_errors_are_not_retried():
    calls = []

    def refused():
        calls.append(1)
        raise kube.KubeError("invalid", 422)

    with pytest.raises(kube.KubeError):
        kube.with_retries(refused, kube.RetryPolicy(attempts=5), sleep=lambda _s: None)
    assert len(calls) == 1


def test_gives_up_after_the_last_attempt():
    calls = []

    def down():
        calls.append(1)
        raise kube.KubeError("down", 0)

    with pytest.raises(kube.KubeError):
        kube.with_retries(down, kube.RetryPolicy(attempts=3, base_delay=0), sleep=lambda _s: None)
    assert len(calls) == 3


def test_circuit_opens_after_threshold_and_half_opens_after_cooldown():
    now = [0.0]
    breaker = kube.CircuitBreaker(threshold=3, cooldown=10, clock=lambda: now[0])
    for _attempt in range(2):
        breaker.record(False)
    breaker.before_call("GET /x")  # still closed
    breaker.record(False)
    assert breaker.is_open and breaker.trips == 1
    with pytest.raises(kube.KubeError, match="circuit open"):
        breaker.before_call("GET /x")
    now[0] = 11
    breaker.before_call("GET /x")  # half-open: one call goes through
    breaker.record(True)
    assert not breaker.is_open and breaker.failures == 0
