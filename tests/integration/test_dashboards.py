"""The Grafana dashboards against a real Prometheus: after a short workload run on the testbed (a
controller and three syncers, scraped every second), every query of every panel returns data. The JSON is
what Grafana's typed dashboard model (grafana-foundation-sdk) keeps of it."""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from kubernetes import client

from hack.docs import dashboards

from ..conftest import REPO
from .monitoring import MonitoredFleet, wait_for

BOARDS = sorted((REPO / "monitoring" / "dashboards").glob("*.json"))
GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
# Grafana's built-in variables, as Grafana would fill them for a 10-minute view.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "10m"}


def panels():
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            yield path.stem, panel


def promql(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unknown variable in {expr}"
    return expr


def test_the_dashboards_are_fleet_sync_and_daemons():
    assert [p.stem for p in BOARDS] == ["tmc-daemons", "tmc-fleet", "tmc-sync"]


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_dashboard_json_loads_through_grafanas_dashboard_model(path):
    data = json.loads(path.read_text())
    assert dashboards.through_model(data) == data
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    for panel in data["panels"]:
        assert panel["type"] in ("timeseries", "stat", "table") and panel["title"] and panel["description"]
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        assert panel["targets"] and all(t["expr"] and t["refId"] for t in panel["targets"])


def test_the_schema_check_catches_a_stray_key():
    data = json.loads(BOARDS[0].read_text())
    data["panels"][0]["querys"] = [{"expr": "up"}]  # a typo for "targets": Grafana would ignore it
    assert dashboards.through_model(data) != data


@pytest.fixture(scope="module")
def workload_run(tmc_hub, tmp_path_factory):
    """The monitored fleet, a placement and a few workloads that converge, updated once."""
    fleet = MonitoredFleet(tmc_hub, tmp_path_factory.mktemp("dashboards")).start()
    from .conftest import _api_client

    hub = _api_client(tmc_hub.kubeconfig("hub", direct=True))
    try:
        core, apps = client.CoreV1Api(hub), client.AppsV1Api(hub)
        core.create_namespace({"metadata": {"name": fleet.ns}})
        client.CustomObjectsApi(hub).create_namespaced_custom_object(
            GROUP,
            VERSION,
            fleet.ns,
            "workloadplacements",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "WorkloadPlacement",
                "metadata": {"name": "web"},
                "spec": {"workloadSelector": {"matchLabels": {"app": "web"}}, "numberOfClusters": 2},
            },
        )
        for index in range(4):
            labels = {"app": "web", "name": f"web-{index}"}
            apps.create_namespaced_deployment(
                fleet.ns,
                {
                    "metadata": {"name": f"web-{index}", "labels": labels},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{"name": "app", "image": "registry.example/web:1"}]},
                        },
                    },
                },
            )
        wait_for("every daemon scraped", fleet.targets_up, timeout=60)
        wait_for(
            "syncs measured",
            lambda: fleet.prometheus.query('sum(tmc_sync_latency_seconds_count{job="tmc-syncer"}) >= 8'),
            timeout=180,
        )
        # One update of each, so that rates cover a change after the first apply.
        for index in range(4):
            apps.patch_namespaced_deployment(
                f"web-{index}",
                fleet.ns,
                {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/web:2"}]}}}},
            )
        wait_for(
            "the update synced",
            lambda: fleet.prometheus.query('sum(tmc_sync_latency_seconds_count{job="tmc-syncer"}) >= 16'),
            timeout=180,
        )
        wait_for(
            "status upsync measured",
            lambda: fleet.prometheus.query('sum(tmc_status_upsync_duration_seconds_count{job="tmc-syncer"}) > 0'),
            timeout=120,
        )
        # The recording rules (tmc:...) a panel reads are evaluated on the rule group's own interval: each
        # has a finite value now before a panel is judged (the run's data, not the evaluation's timing).
        for _board, panel in panels():
            for target in panel["targets"]:
                if ":" in target["expr"].split("{")[0]:
                    expr = promql(target["expr"])
                    wait_for(f"{expr} recorded", lambda e=expr: finite_values(fleet.prometheus.query(e)), timeout=120)
        yield fleet
    finally:
        try:
            client.CoreV1Api(hub).delete_namespace(fleet.ns)
        finally:
            hub.close()
            fleet.stop()


def finite_values(result: list[dict]) -> int:
    """Samples of an instant vector that are numbers (not NaN, not infinite)."""
    return sum(1 for s in result if not math.isnan(float(s["value"][1])) and not math.isinf(float(s["value"][1])))


def finite_points(result: list[dict]) -> int:
    return sum(1 for s in result for _t, v in s["values"] if not math.isnan(float(v)) and not math.isinf(float(v)))


@pytest.mark.parametrize("board_panel", list(panels()), ids=lambda bp: f"{bp[0]}:{bp[1]['title']}")
def test_every_panel_query_returns_data(workload_run, board_panel):
    _board, panel = board_panel
    end = time.time()
    for target in panel["targets"]:
        expr = promql(target["expr"])
        result = workload_run.prometheus.query_range(expr, start=end - 600, end=end, step=5)
        assert finite_points(result) > 0, f"{panel['title']} [{target['refId']}]: no data for {expr}"
        if "{{" in target.get("legendFormat", ""):
            for label in re.findall(r"\{\{(\w+)\}\}", target["legendFormat"]):
                assert any(label in s["metric"] for s in result), f"{panel['title']}: legend label {label} missing"
