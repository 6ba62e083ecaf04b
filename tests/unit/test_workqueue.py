"""The daemons' work queue: de-duplication, per-key order, backoff and worker survival."""

from __future__ import annotations

import threading
import time

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import runtime


def test_a_key_added_twice_is_handed_out_once():
    queue = runtime.WorkQueue("t")
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert [queue.get(timeout=0), queue.get(timeout=0), queue.get(timeout=0)] == ["a", "b", None]


def test_a_key_added_while_processing_comes_back_after_done_and_never_runs_twice_at_once():
    queue = runtime.WorkQueue("t")
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a")
    assert queue.get(timeout=0) is None  # still processing: not handed to a second worker
    queue.done("a")
    assert queue.get(timeout=0) == "a"


def test_backoff_stays_bounded_after_thousands_of_failures():
    queue = runtime.WorkQueue("t", base_delay=0.01, max_delay=5.0)
    delays = [queue.retry("k") for _failure in range(5000)]
    assert all(0.01 <= d <= 5.0 for d in delays)
    assert max(delays) > 1.0  # it did grow


def test_a_key_keeps_one_pending_retry():
    queue = runtime.WorkQueue("t")
    for _attempt in range(50):
        queue.add_after("k", 0.05)
    queue.add_after("k", 10.0)  # a later add does not push the earlier one back
    assert len(queue._delayed) == 1
    time.sleep(0.1)
    assert queue.get(timeout=0.5) == "k"
    queue.done("k")
    assert queue.get(timeout=0.1) is None


def test_an_earlier_delayed_add_replaces_a_later_one():
    queue = runtime.WorkQueue("t")
    queue.add_after("k", 10.0)
    queue.add_after("k", 0.01)
    assert queue.get(timeout=1.0) == "k"


def test_workers_survive_failing_handlers_and_retry_with_backoff():
    queue = runtime.WorkQueue("t", base_delay=0.001, max_delay=0.01)
    attempts: dict = {}
    done = threading.Event()

    def handle(key):
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 20:
            raise RuntimeError("transient")
        done.set()

    threads = runtime.run_workers(queue, handle, 2)
    queue.add("k")
    assert done.wait(10)
    assert attempts["k"] == 20
    assert runtime.all_alive(threads)
    queue.shutdown()
    for thread in threads:
        thread.join(5)
    assert not runtime.all_alive(threads)


def test_shutdown_drops_pending_and_refuses_new_keys():
    queue = runtime.WorkQueue("t")
    queue.add("a")
    queue.add_after("b", 0.01)
    queue.shutdown()
    queue.add("c")
    queue.add_after("d", 0.01)
    assert queue.get(timeout=0.05) is None


def test_urgent_keys_go_first_and_a_queued_key_can_be_made_urgent():
    queue = runtime.WorkQueue("t")
    for key in ("s1", "s2", "s3"):
        queue.add(key)
    queue.add("spec", urgent=True)
    queue.add("s3", urgent=True)  # already queued: moves to the urgent lane
    assert [queue.get(timeout=0) for _index in range(5)] == ["spec", "s3", "s1", "s2", None]


def test_an_urgent_add_while_processing_comes_back_urgent():
    queue = runtime.WorkQueue("t")
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("b")
    queue.add("a", urgent=True)
    queue.done("a")
    assert [queue.get(timeout=0), queue.get(timeout=0)] == ["a", "b"]
