"""The controller runs one SyncWork-writing pass per namespace at a time (a full pass that planned
from older sources must not write over a pass over changed sources), and passes of different
namespaces side by side."""

from __future__ import annotations

import threading
import time

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller


def _controller_recording(spans: list, lock: threading.Lock) -> controller.Controller:
    """A Controller with only what _sync needs; its planning step records when it runs."""
    c = controller.Controller.__new__(controller.Controller)
    c._pending_lock = threading.Lock()
    c._namespace_locks = {}

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
    spans, lock = [], threading.Lock()
    c = _controller_recording(spans, lock)
    _run_together(c, [("shop", None), ("blog", None)])
    (a, b) = sorted(spans, key=lambda s: s[2])
    assert b[2] < a[3]  # the second began before the first ended
