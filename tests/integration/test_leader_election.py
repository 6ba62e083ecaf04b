"""Leader election against the real hub: expiry by observed time, whatever the holders' clocks say,
a leader that stops writing before anyone else may take over, and a hanging link that costs one
bounded attempt. Each replica's clock is injected (monotonic seconds that move when the test says),
the Lease and its resourceVersion conflicts are the API server's own."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import connection, leader
from hack.testbed import HUB, audit

NAMESPACE = "kube-system"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _wall(offset_seconds: float):
    """An RFC 3339 clock ``offset_seconds`` off (a replica whose clock is wrong)."""
    return lambda: (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _elector(kubeconfig, lease, identity, clock, wall=leader._utc_now, **timings):
    cfg = kube.ClientConfig(kubeconfig=str(kubeconfig), request_timeout=10)
    client = connection.elector_client(cfg, connection.user_agent("controller", identity))
    options = {"lease_duration": 15.0, "renew_deadline": 10.0, "retry_period": 2.0, **timings}
    return leader.LeaderElector(client, NAMESPACE, lease, identity, clock=clock, wall=wall, **options)


@pytest.fixture
def lease_name():
    return f"test-election-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("holder_skew", [-3600, 0, 3600])
def test_expiry_is_judged_by_observed_time_whatever_the_holders_clock_says(hub_kubeconfig, lease_name, holder_skew):
    """The holder writes renewTime an hour behind, on time, or an hour ahead: the standby takes over
    exactly when it has seen the record unchanged for the lease duration on its own clock (judged by
    renewTime against its wall clock, an hour behind would be taken at once and an hour ahead never)."""
    a_clock, b_clock = Clock(), Clock()
    a = _elector(hub_kubeconfig, lease_name, "a", a_clock, wall=_wall(holder_skew))
    b = _elector(hub_kubeconfig, lease_name, "b", b_clock)
    assert a.try_acquire_or_renew() and a.leading()
    assert not b.try_acquire_or_renew()  # b sees a's record now: its lease runs from here
    b_clock.now += 14.9
    assert not b.try_acquire_or_renew()
    a_clock.now += 10.0  # a made no renewal: its window is over before anyone may take over
    assert not a.leading()
    with pytest.raises(kube.NotLeader):
        a.write_gate("PATCH /x")
    b_clock.now += 0.2
    assert b.try_acquire_or_renew() and b.leading()
    assert not a.try_acquire_or_renew()  # b holds it now, and a has just seen it change


def test_a_renewal_the_standby_sees_restarts_its_wait(hub_kubeconfig, lease_name):
    a_clock, b_clock = Clock(), Clock()
    a = _elector(hub_kubeconfig, lease_name, "a", a_clock)
    b = _elector(hub_kubeconfig, lease_name, "b", b_clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    b_clock.now += 10.0
    a_clock.now += 2.0
    assert a.try_acquire_or_renew()  # renewed: the record changed
    assert not b.try_acquire_or_renew()  # seen now: 15 s from here
    b_clock.now += 14.9
    assert not b.try_acquire_or_renew()


def test_two_standbys_racing_for_an_expired_lease_elect_one(hub_kubeconfig, lease_name):
    a, b, c = (_elector(hub_kubeconfig, lease_name, name, Clock()) for name in "abc")
    assert a.try_acquire_or_renew()
    for standby in (b, c):
        assert not standby.try_acquire_or_renew()
        standby.clock.now += 16.0
    results = {}
    threads = [
        threading.Thread(target=lambda e=e: results.update({e.identity: e.try_acquire_or_renew()})) for e in (b, c)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # Both wrote with the resourceVersion they read: one update wins, the other gets a conflict; or the
    # later one read the winner's record, a holder it has not seen expire.
    assert sorted(results.values()) == [False, True]
    assert [e.leading() for e in (b, c)].count(True) == 1


def test_a_leader_whose_link_hangs_stops_writing_before_the_standby_takes_over(testbed, lease_name):
    """Real clocks this time: the leader reaches the hub through a proxy that starts swallowing
    every byte (a hanging link). Its attempts end (bounded by the renew deadline), its write window
    closes, and only afterwards does the standby, on a working link, acquire."""
    proxy = f"elector-test-{lease_name[-8:]}"
    upstream = f"127.0.0.1:{testbed.state['clusters'][HUB]['ports']['apiserver']}"
    created = testbed._toxiproxy("POST", "/proxies", {"name": proxy, "listen": "127.0.0.1:0", "upstream": upstream})
    try:
        hanging = _kubeconfig_through(testbed, created["listen"])
        timings = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}
        a = _elector(hanging, lease_name, "a", time.monotonic, **timings)
        b = _elector(testbed.kubeconfig(HUB, direct=True), lease_name, "b", time.monotonic, **timings)
        stop = threading.Event()
        runs = [threading.Thread(target=e.run, args=(stop,), daemon=True) for e in (a, b)]
        runs[0].start()
        _until("a leads", a.leading, 20)
        runs[1].start()  # b stands by: it sees a renew every retry period
        _until("b has seen a's record", lambda: b._observed is not None, 20)
        assert not b.leading()
        testbed._toxiproxy(
            "POST", f"/proxies/{proxy}/toxics", {"name": "hang", "type": "timeout", "attributes": {"timeout": 0}}
        )
        a_stopped = _until("a's window closes", lambda: not a.leading(), 20)
        b_leads = _until("b takes over", b.leading, 20)
        assert a_stopped < b_leads
        stop.set()
        for run in runs:
            run.join(15)  # a's attempt in flight ends within its renew deadline
        assert not any(run.is_alive() for run in runs)
    finally:
        testbed._toxiproxy("DELETE", f"/proxies/{proxy}")
    if testbed.state.get("audit", True):
        found = audit.writes(audit.events(testbed.audit_dir), agent_prefix="tmc-controller/")
        mine = [w for w in found if w.name == lease_name and w.ok]
        assert {w.agent for w in mine} == {"tmc-controller/a", "tmc-controller/b"}
        assert max(w.end for w in mine if w.agent.endswith("/a")) < min(w.end for w in mine if w.agent.endswith("/b"))


def _until(what, check, timeout):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)
    return time.monotonic()


def _kubeconfig_through(testbed, listen):
    import yaml

    config = yaml.safe_load(testbed.kubeconfig(HUB, direct=True).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://{listen}"
    path = testbed.dir / f"elector-{listen.replace(':', '-')}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path
