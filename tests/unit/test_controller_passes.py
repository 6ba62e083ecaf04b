"""The controller runs one SyncWork-writing pass per namespace at a time (a full pass that planned
from older sources must not write over a pass over changed sources), and passes of different
namespaces side by side."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller

from .daemon_doubles import new_controller


def _controller_recording(spans: list, lock: threading.Lock, all_sources=None, per_pass=250) -> controller.Controller:
    """A Controller with only what _sync needs; its planning step records when it runs. A full pass
    looks at ``all_sources`` (None: it cannot be taken apart)."""
    c = new_controller({}, f"--sources-per-pass={per_pass}")
    c._all_sources = lambda namespace: all_sources

    def plan_and_write(namespace, only_sources):
        start = time.monotonic()
        time.sleep(0.05)
        with lock:
            spans.append((namespace, only_sources, start, time.monotonic()))

    c._sync_locked = plan_and_write
    return c


def _run_together(c, calls):
    threads = [threading.Thread(target=c._sync, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_passes_of_one_namespace_never_overlap():
    spans, lock = [], threading.Lock()
    c = _controller_recording(spans, lock)
    _run_together(c, [("shop", None), ("shop", {("apps/v1", "Deployment", "a")}), ("shop", None)])
    ordered = sorted(spans, key=lambda s: s[2])
    assert len(ordered) == 3
    assert all(earlier[3] <= later[2] for earlier, later in zip(ordered, ordered[1:], strict=False))


def test_passes_of_different_namespaces_run_side_by_side():
    both_inside = threading.Barrier(2, timeout=30)  # broken unless both passes are inside at once
    met = []
    c = new_controller({})
    c._all_sources = lambda namespace: None
    c._sync_locked = lambda namespace, _only: met.append((namespace, both_inside.wait()))
    _run_together(c, [("shop", None), ("blog", None)])
    assert sorted(namespace for namespace, _index in met) == ["blog", "shop"]


keys = st.sets(st.tuples(st.just("apps/v1"), st.sampled_from(["Deployment", "StatefulSet"]), st.text("ab", max_size=6)))


@given(keys, st.integers(1, 7))
def test_a_pass_is_split_into_pieces_that_cover_every_source_once(sources, per_pass):
    c = _controller_recording([], threading.Lock(), per_pass=per_pass)
    pieces = c._chunks("shop", sources)
    assert all(0 < len(piece) <= per_pass for piece in pieces) or pieces == [set()]
    assert set().union(*pieces) == sources
    assert sum(len(piece) for piece in pieces) == len(sources)


def test_a_full_pass_goes_in_pieces_one_at_a_time_and_still_runs_with_no_source():
    spans, lock = [], threading.Lock()
    sources = {("apps/v1", "Deployment", f"app-{i:03}") for i in range(7)}
    c = _controller_recording(spans, lock, all_sources=sources, per_pass=3)
    _run_together(c, [("shop", None), ("shop", {("apps/v1", "Deployment", "app-000")})])
    pieces = [only for _ns, only, _start, _end in sorted(spans, key=lambda s: s[2])]
    assert sorted(len(p) for p in pieces) == [1, 1, 3, 3]
    assert set().union(*pieces) == sources
    ordered = sorted(spans, key=lambda s: s[2])
    assert all(earlier[3] <= later[2] for earlier, later in zip(ordered, ordered[1:], strict=False))
    # a namespace with no source still gets one pass (it writes the placements' decisions)
    spans.clear()
    c._all_sources = lambda namespace: set()
    c._sync("shop", None)
    assert [only for _ns, only, _s, _e in spans] == [set()]
    # and one that cannot be taken apart gets one whole pass
    spans.clear()
    c._all_sources = lambda namespace: None
    c._sync("shop", None)
    assert [only for _ns, only, _s, _e in spans] == [None]


@pytest.mark.parametrize("value", ["0", "-3"])
def test_sources_per_pass_must_be_at_least_one(value, capsys):
    with pytest.raises(SystemExit):
        controller.parser().parse_args(["--sources-per-pass", value])
    assert "must be at least 1" in capsys.readouterr().err
