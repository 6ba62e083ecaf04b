"""The Grafana dashboards (fleet, sync, daemons), built with Grafana's own typed model
(grafana-foundation-sdk) and written to monitoring/dashboards/*.json by ``python -m hack.docs dashboards``.

Every query selects the shipped scrape jobs (``tmc-controller``, ``tmc-syncer``) and uses only metrics
the daemons serve or the shipped recording rules give; tests/integration/test_dashboards.py runs every
query against a real Prometheus after a workload run.
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

OUT = Path(__file__).resolve().parents[2] / "monitoring" / "dashboards"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
CONTROLLER = 'job="tmc-controller"'
SYNCER = 'job="tmc-syncer"'
DAEMONS = 'job=~"tmc-controller|tmc-syncer"'
WIDTH = 24


def quantile(q: float, metric: str, by: str, selector: str) -> str:
    """The ``q`` quantile of histogram ``metric`` per ``by``, over Grafana's rate interval."""
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{selector}}}[$__rate_interval])))"


def query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


class Layout:
    """Places panels left to right, wrapping at the grid's 24 columns."""

    def __init__(self):
        self.x = self.y = self.row_height = 0

    def pos(self, w: int, h: int) -> model.GridPos:
        if self.x + w > WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        here = model.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.row_height = max(self.row_height, h)
        return here


def series(layout: Layout, title: str, description: str, unit: str, *queries, w: int = 12, h: int = 8):
    panel = timeseries.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    panel = panel.legend(
        common_builders.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .calcs([])
    )
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(query(expr, legend, chr(ord("A") + index)))
    return panel.grid_pos(layout.pos(w, h))


def single(layout: Layout, title: str, description: str, expr: str, unit: str = "none", w: int = 6, h: int = 4):
    panel = stat.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE)
    panel = panel.graph_mode(common.BigValueGraphMode.AREA).reduce_options(
        common_builders.ReduceDataOptions().calcs(["lastNotNull"])
    )
    return panel.with_target(query(expr).instant()).grid_pos(layout.pos(w, h))


def grid(layout: Layout, title: str, description: str, expr: str, w: int = 24, h: int = 8):
    panel = table.Panel().title(title).description(description).datasource(DATASOURCE).show_header(True)
    target = query(expr).instant().format(prometheus_model.PromQueryFormat.TABLE)
    return panel.with_target(target).grid_pos(layout.pos(w, h))


def with_panels(board: dash.Dashboard, panels: list) -> dash.Dashboard:
    for number, panel in enumerate(panels, start=1):
        board = board.with_panel(panel.id(number))
    return board


def base(uid: str, title: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["tmc"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_variable(dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    )


def fleet() -> dash.Dashboard:
    layout = Layout()
    board = base("tmc-fleet", "TMC / Fleet", "Member clusters as the TMC controller sees them.")
    panels = [
        single(layout, "Clusters Ready", "Member clusters the controller judges Ready.", "tmc:cluster_ready:count"),
        single(layout, "Clusters not Ready", "Member clusters that are not Ready.", "tmc:cluster_not_ready:count"),
        single(
            layout,
            "SyncWorks",
            "SyncWorks on the hub, every cluster.",
            f'sum(max by (cluster) (tmc_cluster_syncworks{{{CONTROLLER},state="total"}}))',
        ),
        single(
            layout,
            "Degraded SyncWorks",
            "SyncWorks whose apply failed, every cluster.",
            f'sum(max by (cluster) (tmc_cluster_syncworks{{{CONTROLLER},state="degraded"}}))',
        ),
        grid(
            layout,
            "Clusters",
            "Per cluster: Ready (1/0), heartbeat age, taints by effect, SyncWorks by state.",
            f"max by (cluster) (tmc_cluster_ready{{{CONTROLLER}}})",
        ),
        series(
            layout,
            "Ready",
            "1 while the cluster is Ready.",
            "none",
            (f"max by (cluster) (tmc_cluster_ready{{{CONTROLLER}}})", "{{cluster}}"),
        ),
        series(
            layout,
            "Heartbeat age",
            "Seconds since the cluster's heartbeat Lease was renewed; NotReady past --heartbeat-threshold.",
            "s",
            (f"max by (cluster) (tmc_cluster_heartbeat_age_seconds{{{CONTROLLER}}})", "{{cluster}}"),
        ),
        series(
            layout,
            "Taints",
            "Taints per cluster and effect (NoSchedule: nothing new placed; NoExecute: workloads fail over).",
            "none",
            (f"max by (cluster, effect) (tmc_cluster_taints{{{CONTROLLER}}})", "{{cluster}} {{effect}}"),
        ),
        series(
            layout,
            "Workloads per cluster",
            "SyncWorks per cluster: all, and those available on the member.",
            "none",
            (f'max by (cluster) (tmc_cluster_syncworks{{{CONTROLLER},state="total"}})', "{{cluster}}"),
            (f'max by (cluster) (tmc_cluster_syncworks{{{CONTROLLER},state="available"}})', "{{cluster}} available"),
        ),
    ]
    return with_panels(board, panels)


def sync() -> dash.Dashboard:
    layout = Layout()
    board = base("tmc-sync", "TMC / Sync", "Hub changes to members and statuses back: latency, queues, errors.")
    panels = [
        series(
            layout,
            "Sync latency (hub change to member)",
            "p50 and p95 from the controller's write to the syncer's apply; SLO: 95 % within 1 s.",
            "s",
            (
                quantile(0.95, "tmc_sync_latency_seconds", "cluster", SYNCER),
                "p95 {{cluster}}",
            ),
            (
                quantile(0.5, "tmc_sync_latency_seconds", "cluster", SYNCER),
                "p50 {{cluster}}",
            ),
        ),
        series(
            layout,
            "Syncs slower than the SLO",
            "Fraction of syncs over 1 s in the last 5 minutes (the SLO's error ratio; budget 5 %).",
            "percentunit",
            ("tmc:sync_slow:ratio_rate5m", "{{cluster}}"),
        ),
        series(
            layout,
            "Status upsync latency",
            "p95 from the syncer computing a new status to the hub having it; SLO: 95 % within 5 s.",
            "s",
            (
                quantile(0.95, "tmc_status_upsync_duration_seconds", "cluster", SYNCER),
                "p95 {{cluster}}",
            ),
        ),
        series(
            layout,
            "Apply results per kind",
            "Objects the syncers applied, by kind and outcome.",
            "ops",
            (
                "sum by (resource_type, operation, result) "
                f"(rate(syncer_operations_total{{{SYNCER}}}[$__rate_interval]))",
                "{{resource_type}} {{operation}} {{result}}",
            ),
        ),
        series(
            layout,
            "Apply errors",
            "Objects the members refused, per cluster.",
            "ops",
            (
                f"sum by (sync_target) (rate(syncer_errors_total{{{SYNCER}}}[$__rate_interval]))",
                "{{sync_target}}",
            ),
        ),
        series(
            layout,
            "Work queues",
            "Keys waiting in each daemon's work queue.",
            "none",
            (f"sum by (job, instance, queue) (tmc_workqueue_depth{{{DAEMONS}}})", "{{job}} {{instance}}"),
        ),
        series(
            layout,
            "Queue wait",
            "p95 time a key waited before a worker took it.",
            "s",
            (
                quantile(0.95, "tmc_workqueue_queue_duration_seconds", "job, key_type", DAEMONS),
                "{{job}} {{key_type}}",
            ),
        ),
        series(
            layout,
            "Status writes",
            "Status writes to the hub per second, and those waiting for their slot or held.",
            "ops",
            (
                f"sum by (job, daemon) (rate(tmc_status_writes_total{{{DAEMONS}}}[$__rate_interval]))",
                "{{daemon}} written",
            ),
            (f"sum by (job, daemon) (tmc_status_writes_waiting{{{DAEMONS}}})", "{{daemon}} waiting"),
        ),
        series(
            layout,
            "Placement decisions",
            "p99 placement decision time (SLO: 99 % within 1 s).",
            "s",
            ("tmc:placement_decision_seconds:p99_rate5m", "p99"),
        ),
        series(
            layout,
            "Reconcile time",
            "p95 time of one reconcile, per daemon and key kind.",
            "s",
            (
                quantile(0.95, "tmc_reconcile_duration_seconds", "job, kind", DAEMONS),
                "{{job}} {{kind}}",
            ),
        ),
    ]
    return with_panels(board, panels)


def daemons() -> dash.Dashboard:
    layout = Layout()
    board = base("tmc-daemons", "TMC / Daemons", "The controller and syncer processes: resources, leader, API, caches.")
    panels = [
        series(
            layout,
            "Up",
            "1 while Prometheus scrapes the daemon.",
            "none",
            (f"up{{{DAEMONS}}}", "{{job}} {{instance}}"),
        ),
        series(
            layout,
            "Leader",
            "1 on the controller replica that leads.",
            "none",
            (f"tmc_leader{{{CONTROLLER}}}", "{{instance}}"),
        ),
        series(
            layout,
            "CPU",
            "CPU seconds per second of each daemon process.",
            "percentunit",
            (f"rate(process_cpu_seconds_total{{{DAEMONS}}}[$__rate_interval])", "{{job}} {{instance}}"),
        ),
        series(
            layout,
            "Memory",
            "Resident memory of each daemon process.",
            "bytes",
            (f"process_resident_memory_bytes{{{DAEMONS}}}", "{{job}} {{instance}}"),
        ),
        series(
            layout,
            "Circuit breakers",
            "1 while a daemon's circuit to an API server is open; trips in the last hour.",
            "none",
            (f"max by (job, instance, server) (tmc_circuit_breaker_open{{{DAEMONS}}})", "{{instance}} {{server}} open"),
            (
                f"sum by (job, server) (increase(tmc_circuit_breaker_trips_total{{{DAEMONS}}}[1h]))",
                "{{job}} {{server}} trips",
            ),
        ),
        series(
            layout,
            "API requests",
            "Requests per second to the hub and members, by answer (0: no answer).",
            "reqps",
            (
                f"sum by (job, server, code) (rate(tmc_api_requests_total{{{DAEMONS}}}[$__rate_interval]))",
                "{{job}} {{server}} {{code}}",
            ),
        ),
        series(
            layout,
            "API latency",
            "p99 latency of one API request, per server.",
            "s",
            (
                quantile(0.99, "tmc_api_request_duration_seconds", "job, server", DAEMONS),
                "{{job}} {{server}}",
            ),
        ),
        series(
            layout,
            "Watch caches",
            "Objects in each daemon's watch caches, by kind.",
            "none",
            (f"sum by (job, resource) (tmc_watch_cache_objects{{{DAEMONS}}})", "{{job}} {{resource}}"),
        ),
    ]
    return with_panels(board, panels)


BOARDS = {"tmc-fleet": fleet, "tmc-sync": sync, "tmc-daemons": daemons}


def through_model(data: dict) -> dict:
    """``data`` loaded into Grafana's typed Dashboard model and written back out: what the model keeps.
    A key the model does not know, or one in the wrong place, is lost on the way (the schema check)."""
    plugins.register_default_plugins()
    return json.loads(json.dumps(model.Dashboard.from_json(data), cls=JSONEncoder))


def render(build) -> str:
    built = json.loads(json.dumps(build().build(), cls=JSONEncoder))
    return json.dumps(through_model(built), indent=2, sort_keys=True) + "\n"


def pages() -> dict[Path, str]:
    return {OUT / f"{uid}.json": render(build) for uid, build in BOARDS.items()}
