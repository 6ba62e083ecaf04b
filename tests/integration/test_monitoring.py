"""Monitoring against a real Prometheus on the testbed: the shipped alerts fire for real faults (a
stopped syncer, a hub cut off by toxiproxy) and resolve once the fault is gone. The rules are the shipped
files with only their ``for:`` shortened (tests/integration/monitoring.py)."""

from __future__ import annotations

import pytest

from hack.testbed import HUB

from .monitoring import MonitoredFleet, wait_for


@pytest.fixture(scope="module")
def fleet(tmc_hub, tmp_path_factory):
    monitored = MonitoredFleet(tmc_hub, tmp_path_factory.mktemp("monitoring"))
    try:
        yield monitored.start()
    finally:
        monitored.stop()


def test_prometheus_scrapes_every_daemon(fleet):
    wait_for("every daemon's target up", fleet.targets_up, timeout=60)
    # The controller's view of the fleet and the syncers' own metrics arrive.
    ready = wait_for(
        "tmc_cluster_ready for every member",
        lambda: (
            {s["metric"]["cluster"] for s in fleet.prometheus.query('tmc_cluster_ready{job="tmc-controller"} == 1')}
            >= set(fleet.bed.members)
            or None
        ),
        timeout=60,
    )
    assert ready
    assert fleet.prometheus.query('syncer_target_health{job="tmc-syncer"} == 1')
    groups = {g["name"] for g in fleet.prometheus.rule_groups()}
    assert {"tmc-controller", "tmc-fleet", "tmc-syncer", "tmc-syncer-slo", "tmc-controller-slo"} <= groups


def test_a_stopped_syncer_fires_TMCSyncerDown_and_it_resolves(fleet):
    wait_for("every daemon's target up", fleet.targets_up, timeout=60)
    victim = fleet.bed.members[0]
    assert not fleet.firing("TMCSyncerDown"), "fires before the fault"
    fleet.syncers[victim].stop()
    try:
        alert = wait_for(
            f"TMCSyncerDown firing for {victim}", lambda: fleet.firing("TMCSyncerDown", cluster=victim), timeout=60
        )
        assert alert[0]["labels"]["severity"] == "critical"
        assert alert[0]["annotations"]["runbook_url"].endswith("runbooks/TMCSyncerDown.md")
        assert victim in alert[0]["annotations"]["summary"]
        # Only the stopped one.
        assert {a["labels"]["cluster"] for a in fleet.firing("TMCSyncerDown")} == {victim}
    finally:
        fleet.syncers[victim].start().wait_ready()
    wait_for("TMCSyncerDown resolved", lambda: not fleet.firing("TMCSyncerDown"), timeout=60)


def test_a_hub_cut_by_toxiproxy_fires_the_hub_circuit_alerts_and_they_resolve(fleet):
    wait_for("every daemon's target up", fleet.targets_up, timeout=60)
    assert not fleet.firing("TMCControllerHubCircuitOpen")
    assert not fleet.firing("TMCSyncerHubCircuitOpen")
    fleet.bed.proxy_cut(HUB)
    try:
        wait_for(
            "TMCControllerHubCircuitOpen firing",
            lambda: fleet.firing("TMCControllerHubCircuitOpen", job="tmc-controller"),
            timeout=120,
        )
        syncers = wait_for(
            "TMCSyncerHubCircuitOpen firing for every syncer",
            lambda: (
                (found := {a["labels"]["cluster"] for a in fleet.firing("TMCSyncerHubCircuitOpen")})
                >= set(fleet.bed.members)
                and found
            ),
            timeout=120,
        )
        assert syncers == set(fleet.bed.members)
    finally:
        fleet.bed.proxy_restore(HUB)
    wait_for(
        "the hub circuit alerts resolved",
        lambda: not fleet.firing("TMCControllerHubCircuitOpen") and not fleet.firing("TMCSyncerHubCircuitOpen"),
        timeout=120,
    )
