"""Pure parts of the kube layer: backoff, transient-only retries, the circuit breaker."""

from __future__ import annotations

import random
import socket
import threading

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


@pytest.mark.parametrize(
    "status,transient",
    [
        (0, True),
        (429, True),
        (500, True),
        (503, True),
        (400, False),
        (403, False),
        (404, False),
        (409, False),
        (422, False),
    ],
)
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


def test_half_open_lets_exactly_one_probe_through_among_many_concurrent_callers():
    now = [0.0]
    breaker = kube.CircuitBreaker(threshold=1, cooldown=10, clock=lambda: now[0])
    breaker.record(False)  # open
    now[0] = 10.0  # the cooldown is over: half-open
    callers = 64
    start = threading.Barrier(callers, timeout=30)
    outcomes: list = []
    lock = threading.Lock()

    def call():
        start.wait()
        try:
            outcome = "probe" if breaker.before_call("GET /x") else "closed"
        except kube.KubeError as err:
            outcome = err.reason
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=call) for _caller in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(set(outcomes)) == ["CircuitOpen", "probe"]
    assert outcomes.count("probe") == 1 and len(outcomes) == callers
    # until the probe is back, everyone else still fails fast, however long it takes
    now[0] = 1000.0
    with pytest.raises(kube.KubeError, match="circuit open"):
        breaker.before_call("GET /x")
    assert breaker.is_open


def test_a_failed_probe_opens_the_circuit_for_another_cooldown_and_a_good_one_closes_it():
    now = [0.0]
    breaker = kube.CircuitBreaker(threshold=1, cooldown=10, clock=lambda: now[0])
    breaker.record(False)
    now[0] = 10.0
    assert breaker.before_call("GET /x") is True
    breaker.record(False, probe=True)
    assert breaker.trips == 2
    now[0] = 19.0
    with pytest.raises(kube.KubeError, match="circuit open"):
        breaker.before_call("GET /x")  # a new cooldown from the probe's failure
    now[0] = 20.0
    assert breaker.before_call("GET /x") is True
    breaker.record(True, probe=True)
    assert not breaker.is_open
    assert [breaker.before_call("GET /x") for _call in range(5)] == [False] * 5  # closed: no probes


def test_a_probe_through_the_client_is_always_recorded_even_when_the_server_is_not_there():
    """The probe is a real request to a port nothing listens on: it fails, is recorded (the circuit
    opens again), and the next cooldown brings the next probe (a probe never recorded would keep
    every call failing fast for ever)."""
    now = [0.0]
    breaker = kube.CircuitBreaker(threshold=1, cooldown=10, clock=lambda: now[0])
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = kube.Kube(
        kube.make_transport(kube.ClientConfig(host=f"http://127.0.0.1:{port}", api_key="x")),
        retry=kube.NO_RETRY,
        breaker=breaker,
    )
    for _round in range(3):
        with pytest.raises(kube.KubeError, match="cannot connect"):
            client.request("GET", "/version")  # the probe (or, first, the call that opens the circuit)
        with pytest.raises(kube.KubeError, match="circuit open"):
            client.request("GET", "/version")
        now[0] += 10.0
    assert breaker.trips == 3
