"""Spec first: while new desired states wait, the daemons hold their hub status writes for them.

Both daemons are built as they run, on clients that fail the test when used (no API is faked):
a held write must not reach the hub, and a write that is no longer held must try to.
"""

from __future__ import annotations

import argparse

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import (
    controller,
    observability,
    reflector,
    store,
    syncer,
)

from .daemon_doubles import Leadership, NoHub, cache, new_controller

DEPLOYMENT = ("apps/v1", "Deployment")
SYNCWORK = (api.API_VERSION, api.KIND_SYNCWORK)
SOURCE = ("apps/v1", "Deployment", "web")


def _work(cluster: str, available: bool) -> dict:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_SYNCWORK,
        "metadata": {
            "name": "deployment.shop.web",
            "namespace": f"tmc-cluster-{cluster}",
            "uid": f"uid-{cluster}",
            "labels": {"tmc.kcp.io/source-namespace": "shop"},
        },
        "spec": {
            "cluster": cluster,
            "placement": "everywhere",
            "source": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"},
        },
        "status": {
            "applied": True,
            "available": available,
            "downstreamStatus": {"replicas": 1, "readyReplicas": int(available), "availableReplicas": int(available)},
        },
    }


def test_a_syncer_holds_status_writes_while_new_syncworks_wait_and_lets_them_go_once_taken():
    args = syncer.parser().parse_args(["--cluster-name", "east"])
    s = syncer.Syncer(NoHub(), NoHub(), "east", args, api.FeatureGates.from_overrides(), observability.Metrics(False))
    work = _work("east", available=False)
    key = reflector.object_key(work)
    s.works.store.put(key, work)
    s._statuses[key] = store.encode({**work["status"], "available": True})  # computed, not yet on the hub
    s.queue.add(("tmc-cluster-east", "deployment.shop.new"), urgent=True)  # a new SyncWork waits

    s._write_status(key)  # held: NoHub fails the test if it writes

    assert s.pacer.hold.held() == 1 and key in s._statuses
    new_work = s.queue.get(timeout=0)
    s.queue.done(new_work)
    assert s.queue.get(timeout=0) is None  # the held write waits for its hold (30 s), not queued now
    s._release_held()  # what handling the new SyncWork does first
    assert s.queue.get(timeout=0) == (syncer.STATUS, key)
    assert s.pacer.hold.held() == 0
    with pytest.raises(AssertionError, match="the hub was called"):
        s._write_status(key)  # no longer held: it goes to the hub


def _controller(source: dict, works: list) -> controller.Controller:
    c = new_controller(
        {DEPLOYMENT: cache(*DEPLOYMENT, [source]), SYNCWORK: cache(*SYNCWORK, works)},
        "--status-qps=0",
        "--status-hold=30",
    )
    c._placement_namespaces = lambda: {"shop"}
    return c


def test_a_controller_holds_source_status_while_changed_sources_wait_and_lets_it_go_after_their_pass():
    source = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 1},
    }
    c = _controller(source, [_work("east", True), _work("west", True)])
    c._on_source("ADDED", {**source, "metadata": {**source["metadata"], "name": "new"}}, None)  # a change waits
    assert c._spec_waiting()

    c._aggregate("shop", {SOURCE})  # held: NoHub fails the test if it writes

    assert c.pacer.hold.held() == 1 and c._pending[("agg", "shop")] == {SOURCE}
    assert c.queue.get(timeout=0) == ("src", "shop")  # only the pass of the changed source is ready
    with c._src_pass(), c._taken("src", "shop"):
        assert c._spec_waiting()  # its pass runs
        c._release_held()
        assert c.pacer.hold.held() == 1  # nothing goes while it runs
    assert not c._spec_waiting()
    c._release_held()
    assert c.queue.get(timeout=0) == ("agg", "shop")
    with pytest.raises(AssertionError, match="the hub was called"):
        c._aggregate("shop", {SOURCE})  # no longer held: it goes to the hub


def test_a_resync_is_not_a_change_that_holds_status():
    source = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}
    c = _controller(source, [])
    c._on_source("SYNC", source, source)
    assert not c._spec_waiting() and c._pending == {("rsy", "shop"): {SOURCE}}


def test_a_resync_goes_one_piece_at_a_time_and_changed_sources_go_between_its_pieces():
    source = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}
    c = _controller(source, [])
    c.args = argparse.Namespace(sources_per_pass=2)
    passes = []
    c._sync = lambda namespace, sources: passes.append(sorted(name for _v, _k, name in sources))
    c.elector = None
    for name in ("a", "b", "c", "d", "e"):
        c._on_source("SYNC", {**source, "metadata": {"name": name, "namespace": "shop"}}, source)
    c.handle(c.queue.get(timeout=0))  # the resync's first piece
    c._on_source("MODIFIED", {**source, "metadata": {"name": "z", "namespace": "shop"}, "spec": {"x": 1}}, source)
    c.queue.done(("rsy", "shop"))
    while (key := c.queue.get(timeout=0)) is not None:
        c.handle(key)
        c.queue.done(key)
    assert [len(p) for p in passes] == [2, 1, 2, 1]  # two of the resync, the changed source, then the rest
    assert passes[1] == ["z"]
    assert sorted(n for p in passes[:1] + passes[2:] for n in p) == ["a", "b", "c", "d", "e"]


def test_a_standby_that_takes_over_passes_the_sources_changed_while_nobody_led_first_and_holds_nothing():
    """A change made while no replica leads is seen by the standby's watch and kept pending; once it
    leads, that change goes first (urgent), so the status writes it holds are let go after one pass,
    not after the hold's limit (the ~30 s a take-over used to cost)."""
    source = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 1},
    }
    placement = {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND_PLACEMENT,
        "metadata": {"name": "everywhere", "namespace": "shop"},
        "spec": {"resources": [{"group": "apps", "kind": "Deployment"}]},
    }
    leadership = Leadership(leading=False)
    c = new_controller(
        {
            DEPLOYMENT: cache(*DEPLOYMENT, [source]),
            SYNCWORK: cache(*SYNCWORK, [_work("east", True)]),
            (api.API_VERSION, api.KIND_PLACEMENT): cache(api.API_VERSION, api.KIND_PLACEMENT, [placement]),
            (api.API_VERSION, api.KIND_CLUSTER): cache(api.API_VERSION, api.KIND_CLUSTER),
        },
        elector=leadership,
    )
    changed = {**source, "spec": {"replicas": 3}, "metadata": {**source["metadata"], "generation": 2}}
    c._on_source("MODIFIED", changed, source)
    key = c.queue.get(timeout=0)
    c.handle(key)  # a standby writes nothing (NoHub would fail the test)
    c.queue.done(key)
    assert c.queue.get(timeout=0) is None and c._spec_waiting()

    leadership.now = True
    c._resync_all()

    assert c.queue.get(timeout=0) == ("src", "shop")  # the change first, before the full pass
    assert c.queue.get(timeout=0) == ("ns", "shop")
