"""Leader election without an API server: timings validated as client-go does, attempts bounded
when the hub hangs, and the write gate judged by the (injected) clock. The election against a real
hub is in tests/integration/test_leader_election.py."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import connection, leader


class Clock:
    """Monotonic seconds that move only when the test says so (frozen otherwise)."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hanging_hub():
    """A TCP server that accepts connections and never answers (a hub whose link hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "flag"),
    [
        (10, 10, 2, "leader-elect-lease-duration"),
        (15, 2.4, 2, "leader-elect-renew-deadline"),
        (15, 10, 0, "leader-elect-retry-period"),
    ],
)
def test_timings_are_validated_as_client_go_does(lease, renew, retry, flag):
    with pytest.raises(api.SpecError, match=flag):
        leader.validate_timings(lease, renew, retry)


def test_the_controller_refuses_bad_timings_at_start(tmp_path, capfd):
    from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller

    token = tmp_path / "token"
    token.write_text("not-a-secret")
    hub = ["--server", "http://127.0.0.1:1", "--token-file", str(token), "--log-format", "text"]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        code = controller.main([*hub, "--leader-elect-lease-duration=5", "--leader-elect-renew-deadline=10"])
    finally:
        root.handlers[:], root.level = handlers, level  # main set up the daemon's logging
    assert code == 2
    assert "leader-elect-lease-duration: must be greater than the renew deadline" in capfd.readouterr().err


def _elector(url: str, clock, renew_deadline: float = 1.0) -> leader.LeaderElector:
    client = connection.elector_client(kube.ClientConfig(host=url, api_key="not-a-secret"), "tmc-controller/a")
    return leader.LeaderElector(
        client,
        "tmc-system",
        "tmc-controller",
        "a",
        lease_duration=1.5,
        renew_deadline=renew_deadline,
        retry_period=0.5,
        clock=clock,
    )


def test_an_attempt_against_a_hanging_hub_ends_within_the_renew_deadline_even_with_a_frozen_clock(hanging_hub):
    """The frozen clock never says the deadline passed: the attempt ends because its requests carry
    the deadline as their timeout (no retries, no breaker), not because something looked at a clock."""
    elector = _elector(hanging_hub, Clock(), renew_deadline=1.0)
    outcome: list = []
    attempt = threading.Thread(target=lambda: outcome.append(_attempt(elector)), daemon=True)
    attempt.start()
    attempt.join(30)  # a poll with a deadline: an unbounded attempt would still run
    assert not attempt.is_alive()
    assert outcome and isinstance(outcome[0], kube.KubeError) and outcome[0].status == 0
    assert not elector.leading()


def _attempt(elector):
    try:
        return elector.try_acquire_or_renew()
    except kube.KubeError as err:
        return err


def test_a_hub_client_with_the_gate_sends_no_write_once_the_window_has_ended(hanging_hub):
    """The gate is asked before a write is sent: out of the window, nothing reaches the network (the
    hanging hub would make any request that did take its full timeout, and count on the breaker)."""
    clock = Clock()
    elector = _elector(hanging_hub, clock, renew_deadline=1.0)
    elector._won(clock(), {"holderIdentity": "a"})  # as after a successful renewal at 500.0
    hub = kube.Kube(
        kube.make_transport(kube.ClientConfig(host=hanging_hub, api_key="x")),
        retry=kube.NO_RETRY,
        breaker=kube.CircuitBreaker(threshold=1, cooldown=60, clock=clock),
        write_gate=elector.write_gate,
    )
    assert elector.leading() and elector.remaining() == pytest.approx(1.0)
    clock.now += 1.0  # the window is over: no renewal came (the elector thread may be hung or frozen)
    assert not elector.leading()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(kube.NotLeader, match="does not lead"):
            hub.request(method, "/apis/tmc.kcp.io/v1alpha1/namespaces/x/syncworks/y", body={})
    assert hub.breaker.failures == 0  # nothing was sent
    assert not kube.is_transient(kube.NotLeader("x"))


def test_inside_the_window_a_write_may_take_no_longer_than_what_is_left_of_it(hanging_hub):
    clock = Clock()
    elector = _elector(hanging_hub, clock, renew_deadline=1.0)
    elector._won(clock(), {"holderIdentity": "a"})
    clock.now += 0.7
    hub = kube.Kube(
        kube.make_transport(kube.ClientConfig(host=hanging_hub, api_key="x", request_timeout=600)),
        retry=kube.NO_RETRY,
        write_gate=elector.write_gate,
    )
    finished = threading.Event()

    def write():
        try:
            hub.request("PATCH", "/apis/tmc.kcp.io/v1alpha1/namespaces/x/syncworks/y", body={})
        except kube.KubeError:
            finished.set()

    threading.Thread(target=write, daemon=True).start()
    assert finished.wait(30)  # bounded by the 0.3 s left of the window, not by the 600 s request timeout


def test_reads_pass_the_gate():
    gated = []
    hub = kube.Kube(
        kube.make_transport(kube.ClientConfig(host="http://127.0.0.1:1", api_key="x")),
        retry=kube.NO_RETRY,
        write_gate=lambda what: gated.append(what) or 1.0,
    )
    with pytest.raises(kube.KubeError, match="cannot connect"):
        hub.request("GET", "/version")
    with pytest.raises(kube.KubeError, match="cannot connect"):
        hub.request("DELETE", "/api/v1/namespaces/x")
    assert gated == ["DELETE /api/v1/namespaces/x"]


def test_each_replica_names_itself_in_its_user_agent():
    assert connection.user_agent("controller", "ctrl-a") == "tmc-controller/ctrl-a"
    client = connection.elector_client(kube.ClientConfig(host="http://127.0.0.1:1", api_key="x"), "tmc-controller/a")
    assert client.user_agent == "tmc-controller/a" and client.retry == kube.NO_RETRY and client.breaker is None
