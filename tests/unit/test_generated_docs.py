"""The generated reference pages match the code (CI fails on a stale page), and the metrics follow the
one naming scheme they document."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import observability
from hack.docs import __main__ as docs_cli
from hack.docs import generate

# Labels that would name one object (unbounded cardinality): never a metric label.
PER_OBJECT_LABELS = {"name", "namespace", "uid", "workload", "object", "key", "source", "syncwork", "pod"}


def test_generated_pages_match_the_code():
    assert docs_cli.main(["--check"]) == 0, "run `python -m hack.docs` and commit the result"


def test_the_check_fails_on_a_stale_page(monkeypatch):
    real = generate.PAGES["metrics"]

    def changed():
        return {path: text + "\nnew line\n" for path, text in real().items()}

    monkeypatch.setitem(generate.PAGES, "metrics", changed)
    assert docs_cli.main(["metrics", "--check"]) == 1


@pytest.mark.parametrize("row", generate.metric_rows(), ids=lambda r: r[0])
def test_metric_names_follow_one_scheme(row):
    name, kind, labels, doc = row
    assert re.fullmatch(r"(syncer|tmc)_[a-z0-9_]+", name), name
    if kind == "counter":
        assert name.endswith("_total"), f"{name}: a counter ends in _total"
    else:
        assert not name.endswith("_total") or name == "syncer_resources_total", f"{name}: only counters end in _total"
    if kind == "histogram":
        assert name.endswith(("_seconds", "_bytes")), f"{name}: a histogram names its unit"
    assert not PER_OBJECT_LABELS & set(labels), f"{name}: per-object label in {labels}"
    assert doc and doc.rstrip().endswith((".", ")")), f"{name}: help text"


def scrape(metrics: observability.Metrics) -> dict:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def test_circuit_breaker_trips_are_a_counter():
    class Breaker:
        is_open, trips = True, 3

    metrics = observability.Metrics()
    metrics.watch_breaker("hub", Breaker())
    families = scrape(metrics)
    assert families["tmc_circuit_breaker_trips"].type == "counter"
    (sample,) = [s for s in families["tmc_circuit_breaker_trips"].samples if s.name.endswith("_total")]
    assert sample.labels == {"server": "hub"} and sample.value == 3
    assert families["tmc_circuit_breaker_open"].samples[0].value == 1


def test_fleet_rows_become_bounded_cluster_series():
    metrics = observability.Metrics()
    metrics.watch_fleet(
        lambda: [
            observability.ClusterRow("east", True, 1.5, {"NoSchedule": 1}, (4, 4, 3, 0)),
            observability.ClusterRow("west", False, None, {}, (2, 1, 0, 1)),
        ]
    )
    families = scrape(metrics)
    ready = {s.labels["cluster"]: s.value for s in families["tmc_cluster_ready"].samples}
    assert ready == {"east": 1.0, "west": 0.0}
    ages = {s.labels["cluster"]: s.value for s in families["tmc_cluster_heartbeat_age_seconds"].samples}
    assert ages == {"east": 1.5}  # never heartbeated: no sample rather than a made-up age
    taints = {(s.labels["cluster"], s.labels["effect"]): s.value for s in families["tmc_cluster_taints"].samples}
    assert taints[("east", "NoSchedule")] == 1 and taints[("west", "NoExecute")] == 0
    works = {(s.labels["cluster"], s.labels["state"]): s.value for s in families["tmc_cluster_syncworks"].samples}
    assert works[("west", "degraded")] == 1 and works[("east", "available")] == 3


def test_process_metrics_are_served():
    families = scrape(observability.Metrics())
    assert "process_resident_memory_bytes" in families and "process_cpu_seconds" in families


def test_summary_counts_per_cluster_adds_every_group():
    from ansible_collections.tmc.multicluster.plugins.module_utils import status

    counts = status.SummaryCounts()

    def work(cluster, applied, available):
        return {
            "metadata": {},
            "spec": {"cluster": cluster, "manifest": {"kind": "Deployment"}},
            "status": {"applied": applied, "available": available},
        }

    counts.update("a", ("ns1", "p"), work("east", True, True))
    counts.update("b", ("ns2", "q"), work("east", True, False))
    counts.update("c", ("ns2", "q"), work("west", False, False))
    assert counts.per_cluster() == {"east": [2, 2, 1, 0], "west": [1, 0, 0, 0]}
    counts.update("c", ("ns2", "q"), None)
    assert counts.per_cluster() == {"east": [2, 2, 1, 0]}
