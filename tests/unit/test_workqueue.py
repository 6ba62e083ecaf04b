"""The daemons' work queue: de-duplication, per-key order, backoff and worker survival."""

from __future__ import annotations

import threading

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import process, workqueue


def test_a_key_added_twice_is_handed_out_once():
    queue = workqueue.WorkQueue("t")
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert [queue.get(timeout=0), queue.get(timeout=0), queue.get(timeout=0)] == ["a", "b", None]


def test_a_key_added_while_processing_comes_back_after_done_and_never_runs_twice_at_once():
    queue = workqueue.WorkQueue("t")
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("a")
    assert queue.get(timeout=0) is None  # still processing: not handed to a second worker
    queue.done("a")
    assert queue.get(timeout=0) == "a"


def test_backoff_stays_bounded_after_thousands_of_failures():
    queue = workqueue.WorkQueue("t", base_delay=0.01, max_delay=5.0)
    delays = [queue.retry("k") for _failure in range(5000)]
    assert all(0.01 <= d <= 5.0 for d in delays)
    assert max(delays) > 1.0  # it did grow


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_key_keeps_one_pending_retry():
    clock = Clock()
    queue = workqueue.WorkQueue("t", clock=clock)
    for _attempt in range(50):
        queue.add_after("k", 0.05)
    queue.add_after("k", 10.0)  # a later add does not push the earlier one back
    assert len(queue._delayed) == 1
    clock.advance(0.04)
    assert queue.get(timeout=0) is None  # not due yet
    clock.advance(0.02)
    assert queue.get(timeout=0) == "k"
    queue.done("k")
    clock.advance(20.0)
    assert queue.get(timeout=0) is None  # the later add_after was the same pending retry


def test_an_earlier_delayed_add_replaces_a_later_one():
    clock = Clock()
    queue = workqueue.WorkQueue("t", clock=clock)
    queue.add_after("k", 10.0)
    queue.add_after("k", 0.01)
    clock.advance(0.01)
    assert queue.get(timeout=0) == "k"


def test_a_key_that_waits_for_a_cache_comes_back_after_the_cache_retry_with_no_failure_counted():
    clock = Clock()
    queue = workqueue.WorkQueue("t", clock=clock)
    queue.add("k")

    def handle(_key):
        raise workqueue.CacheNotSynced("Deployment")

    for _try in range(3):
        key = queue.get(timeout=0)
        assert key == "k"
        workqueue.process_key(queue, handle, key, set())
        clock.advance(workqueue.CACHE_RETRY * 0.99)
        assert queue.get(timeout=0) is None  # not before CACHE_RETRY (a failure's backoff would be 0.1-0.2 s)
        clock.advance(workqueue.CACHE_RETRY * 0.02)
    assert queue.get(timeout=0) == "k"
    assert queue._failures == {}


def test_a_failing_key_comes_back_after_its_backoff():
    clock = Clock()
    queue = workqueue.WorkQueue("t", base_delay=1.0, max_delay=8.0, clock=clock)
    queue.add("k")

    def handle(_key):
        raise RuntimeError("transient")

    waits = []
    for _failure in range(4):
        key = queue.get(timeout=0)
        workqueue.process_key(queue, handle, key, set())
        (due, _seq) = queue._due["k"]
        waits.append(due - clock())
        clock.advance(due - clock())
    assert queue.get(timeout=0) == "k"
    assert all(1.0 <= w <= ceiling for w, ceiling in zip(waits, (1.0, 2.0, 4.0, 8.0), strict=True))


def test_workers_survive_failing_handlers_and_retry_with_backoff():
    queue = workqueue.WorkQueue("t", base_delay=0.001, max_delay=0.01)
    attempts: dict = {}
    done = threading.Event()

    def handle(key):
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 20:
            raise RuntimeError("transient")
        done.set()

    threads = workqueue.run_workers(queue, handle, 2)
    queue.add("k")
    assert done.wait(10)
    assert attempts["k"] == 20
    assert process.all_alive(threads)
    queue.shutdown()
    for thread in threads:
        thread.join(5)
    assert not process.all_alive(threads)


def test_shutdown_drops_pending_and_refuses_new_keys():
    queue = workqueue.WorkQueue("t")
    queue.add("a")
    queue.add_after("b", 0.01)
    queue.shutdown()
    queue.add("c")
    queue.add_after("d", 0.01)
    assert queue.get(timeout=0.05) is None


def test_urgent_keys_go_first_and_a_queued_key_can_be_made_urgent():
    queue = workqueue.WorkQueue("t")
    for key in ("s1", "s2", "s3"):
        queue.add(key)
    queue.add("spec", urgent=True)
    queue.add("s3", urgent=True)  # already queued: moves to the urgent lane
    assert [queue.get(timeout=0) for _index in range(5)] == ["spec", "s3", "s1", "s2", None]


def test_an_urgent_add_while_processing_comes_back_urgent():
    queue = workqueue.WorkQueue("t")
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    queue.add("b")
    queue.add("a", urgent=True)
    queue.done("a")
    assert [queue.get(timeout=0), queue.get(timeout=0)] == ["a", "b"]
