"""A monitored fleet for tests: a real Prometheus scraping a controller and a syncer per member, all
real processes on the testbed, the daemons talking to the hub through its toxiproxy proxy (so the hub can
be cut). Shared by the live-alert, dashboard and CLI tests."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import yaml

from hack.testbed import HUB
from hack.testbed.prometheus import Prometheus

from ..conftest import REPO
from .ansible_cli import run_module
from .daemons import Daemon

RULE_FILES = {
    "tmc-controller": REPO / "roles/controller/files/prometheus/tmc-controller.rules.yml",
    "tmc-syncer": REPO / "roles/syncer/files/prometheus/tmc-syncer.rules.yml",
}
HEARTBEAT = {"--heartbeat-threshold": "6", "--eviction-timeout": "30"}


def wait_for(what, check, timeout=120.0, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def flags(mapping: dict) -> list[str]:
    return [item for pair in mapping.items() for item in pair]


def fast_rules(path: Path, hold: str = "2s") -> dict:
    """The shipped rule file with every alert's ``for:`` cut to ``hold``: the expressions are the shipped
    ones, only the wait before firing is short (a test waits seconds, not minutes)."""
    rules = yaml.safe_load(path.read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "alert" in rule and "for" in rule:
                rule["for"] = hold
    return rules


class MonitoredFleet:
    """Prometheus + 1 controller + a syncer per member (pull mode), scoped to one hub namespace."""

    def __init__(self, bed, logs: Path, with_prometheus: bool = True):
        self.bed, self.logs, self.with_prometheus = bed, logs, with_prometheus
        self.ns = f"mon-{uuid.uuid4().hex[:6]}"
        self.prometheus = Prometheus(bed)
        self.started_prometheus = False
        self.syncers: dict[str, Daemon] = {}
        self.controller: Daemon | None = None

    def _register(self, name: str) -> Path:
        dest = self.logs / f"{name}-syncer.kubeconfig"
        run = run_module(
            "cluster_registration",
            {
                # Through the hub's proxy: the syncer's kubeconfig points there too, so cutting it cuts them.
                "kubeconfig": str(self.bed.kubeconfig(HUB)),
                "name": name,
                "sync_mode": "Pull",
                "syncer_kubeconfig_dest": str(dest),
                "location": self.bed.state["clusters"][name]["region"],
                "labels": {"env": "test"},
                "member": {"kubeconfig": str(self.bed.kubeconfig(name, direct=True))},
            },
        )
        assert not run.failed, run.output
        return dest

    def start(self) -> MonitoredFleet:
        if self.with_prometheus:
            self.started_prometheus = self.prometheus.pid() is None
            self.prometheus.up(scrape_interval="1s", evaluation_interval="1s")
            self.prometheus.set_rules({job: fast_rules(path) for job, path in RULE_FILES.items()})
        for name in self.bed.members:
            dest = self._register(name)
            self.syncers[name] = Daemon(
                f"syncer-{name}",
                [
                    "syncer",
                    "--cluster-name",
                    name,
                    "--kubeconfig",
                    str(dest),
                    "--downstream-kubeconfig",
                    str(self.bed.kubeconfig(name, direct=True)),
                    "--heartbeat-interval",
                    "2",
                ],
                self.logs,
            )
        self.controller = Daemon(
            "controller",
            [
                "controller",
                "--kubeconfig",
                str(self.bed.kubeconfig(HUB)),
                "--namespaces",
                self.ns,
                "--leader-elect-lease-duration",
                "6",
                "--leader-elect-renew-deadline",
                "4",
                "--leader-elect-retry-period",
                "1",
                *flags(HEARTBEAT),
            ],
            self.logs,
        )
        for name, daemon in self.syncers.items():
            daemon.start()
            self.prometheus.add_target(daemon.name, daemon.health_port, "tmc-syncer", cluster=name)
        self.controller.start()
        self.prometheus.add_target("controller", self.controller.health_port, "tmc-controller")
        for daemon in self.daemons:
            daemon.wait_ready()
        return self

    @property
    def daemons(self) -> list[Daemon]:
        return [*self.syncers.values(), *([self.controller] if self.controller else [])]

    def stop(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
            self.prometheus.remove_target(daemon.name)
        if self.with_prometheus:
            self.prometheus.set_rules({})
        if self.started_prometheus:
            self.prometheus.down()

    def endpoints(self) -> dict[str, str]:
        """Each daemon's health endpoint base URL, by name (``kubectl tmc doctor --daemon``)."""
        return {d.name: f"http://127.0.0.1:{d.health_port}" for d in self.daemons}

    # -- what Prometheus sees

    def targets_up(self) -> bool:
        """Every daemon's target scraped successfully."""
        wanted = {f"127.0.0.1:{d.health_port}" for d in self.daemons}
        up = {t["labels"].get("instance") for t in self.prometheus.targets() if t["health"] == "up"}
        return wanted <= up

    def firing(self, alertname: str, **labels: str) -> list[dict]:
        return [
            a
            for a in self.prometheus.alerts()
            if a["labels"].get("alertname") == alertname
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]
