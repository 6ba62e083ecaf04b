"""The daemons work from their watch caches only once they are filled.

A cache still on its first list must not stand in for the hub (its objects are a part of the kind),
and the hub must not stand in for it (a restarted controller at 10,000 workloads that listed the
kind in its place planned every workload in one pass and held 850 MB). A pass that needs such a
cache waits for it: the key comes back after ``workqueue.CACHE_RETRY`` seconds, with no failure
counted.
"""

from __future__ import annotations

import logging
import threading

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import (
    controller,
    observability,
    syncer,
    workqueue,
)

from .daemon_doubles import NoHub, cache, new_controller

DEPLOYMENT = ("apps/v1", "Deployment")
SYNCWORK = (api.API_VERSION, api.KIND_SYNCWORK)


def _deployment(name: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"}}


def _work(source: str, cluster: str) -> dict:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_SYNCWORK,
        "metadata": {
            "name": f"deployment.shop.{source}",
            "namespace": f"tmc-cluster-{cluster}",
            "labels": {"tmc.kcp.io/source-namespace": "shop"},
        },
        "spec": {
            "cluster": cluster,
            "source": {"apiVersion": "apps/v1", "kind": "Deployment", "name": source, "namespace": "shop"},
        },
    }


def test_a_filled_cache_answers_reads_without_the_hub():
    hub = controller.CachedHub(
        NoHub(),
        {
            DEPLOYMENT: cache(*DEPLOYMENT, [_deployment("web"), _deployment("api")]),
            SYNCWORK: cache(*SYNCWORK, [_work("web", "east"), _work("web", "west")]),
        },
    )
    assert sorted(d["metadata"]["name"] for d in hub.list(*DEPLOYMENT, namespace="shop")) == ["api", "web"]
    assert hub.get(*DEPLOYMENT, "web", "shop")["metadata"]["name"] == "web"
    assert sorted(w["spec"]["cluster"] for w in hub.works_of("shop", ("apps/v1", "Deployment", "web"))) == [
        "east",
        "west",
    ]


@pytest.mark.parametrize(
    "read",
    [
        lambda hub: hub.list(*DEPLOYMENT, namespace="shop"),
        lambda hub: hub.list(*DEPLOYMENT),
        lambda hub: hub.get(*DEPLOYMENT, "web", "shop"),
        lambda hub: hub.works_of("shop", ("apps/v1", "Deployment", "web")),
    ],
    ids=["list-namespace", "list-all", "get", "works_of"],
)
def test_a_cache_on_its_first_list_is_waited_for_not_read_nor_replaced_by_the_hub(read):
    hub = controller.CachedHub(
        NoHub(),
        {
            DEPLOYMENT: cache(*DEPLOYMENT, [_deployment("web")], synced=False),
            SYNCWORK: cache(*SYNCWORK, [_work("web", "east")], synced=False),
        },
    )
    with pytest.raises(workqueue.CacheNotSynced) as caught:
        read(hub)
    assert "has not finished its first list" in str(caught.value)


def _bare_controller(reflectors: dict) -> controller.Controller:
    c = new_controller(reflectors)
    c.reflectors = reflectors  # the same dict: the test fills a cache later
    c.cached = controller.CachedHub(c.hub, reflectors)
    return c


def test_a_full_pass_waits_for_the_caches_of_the_kinds_it_places():
    placement = {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_PLACEMENT,
        "metadata": {"name": "everywhere", "namespace": "shop"},
        "spec": {"resources": [{"group": "apps", "kind": "Deployment"}]},
    }
    reflectors = {
        (api.API_VERSION, api.KIND_PLACEMENT): cache(api.API_VERSION, api.KIND_PLACEMENT, [placement]),
        DEPLOYMENT: cache(*DEPLOYMENT, [_deployment("web")], synced=False),
        SYNCWORK: cache(*SYNCWORK),
    }
    c = _bare_controller(reflectors)
    with pytest.raises(workqueue.CacheNotSynced):
        c._all_sources("shop")
    reflectors[DEPLOYMENT].synced.set()
    assert c._all_sources("shop") == {("apps/v1", "Deployment", "web")}


def test_a_syncer_waits_for_its_member_cache_instead_of_listing_the_kind_per_syncwork():
    args = syncer.parser().parse_args(["--cluster-name", "east"])
    s = syncer.Syncer(NoHub(), NoHub(), "east", args, api.FeatureGates.from_overrides(), observability.Metrics(False))
    s.downstream = {DEPLOYMENT: cache(*DEPLOYMENT, [_deployment("web")], synced=False)}
    work = {"spec": {"manifest": _deployment("web")}}
    with pytest.raises(workqueue.CacheNotSynced):
        s._live(work)
    s.downstream[DEPLOYMENT].synced.set()
    assert s._live(work) == {("apps/v1", "Deployment", "shop", "web"): _deployment("web")}


def test_keys_waiting_for_one_cache_say_so_once(caplog):
    queue = workqueue.WorkQueue("controller-test", None)
    tries, done = [], threading.Event()

    def handle(key):
        tries.append(key)
        if len(tries) < 6:
            raise workqueue.CacheNotSynced("Deployment")
        done.set()

    for index in range(3):
        queue.add(("agg", f"ns-{index}"))
    with caplog.at_level(logging.INFO, logger="tmc"):
        workers = workqueue.run_workers(queue, handle, 2)
        try:
            assert done.wait(workqueue.CACHE_RETRY * 3 + 10)
        finally:
            workqueue.drain(queue, workers)
    waits = [r for r in caplog.records if "waiting for a cache" in r.getMessage()]
    assert len(tries) >= 6
    assert len(waits) == 1
