#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the CEL budget of placement predicates means in time (issue 17, item 4).

    python benchmarks/cel_budget.py --json

The CEL library holds the GIL for a whole evaluation. The engine bounds every
evaluation (``cel_cost.MAX_STEPS``) and every decision (``cel_cost.PLACEMENT_STEPS``)
before anything runs. This program takes the costliest predicate the engine
accepts and measures:

- ``evaluation_at_limit_ms`` (``_cpu_ms``: process CPU, which a shared machine
  does not inflate): one evaluation of it (median), i.e. the longest the GIL is
  held by one predicate on one cluster;
- ``decision_at_budget_s``: a whole decision whose predicates use the placement
  budget (the CPU one tenant's placement can take per decision);
- ``max_gil_gap_ms``: the longest a second thread, ticking every millisecond,
  waited while that decision ran (what a leader-election renewal or another
  namespace's pass would wait for the GIL);
- ``over_budget_refusal_ms``: a placement over the budget failing, explained,
  before any predicate runs;
- ``unbounded_nested_s``: for scale, one evaluation of a 3-deep nest the engine
  refuses (run here directly on the library; skipped with ``--skip-unbounded``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"


def _import_engine():
    link = COLLECTIONS / "ansible_collections" / "tmc" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(REPO, target_is_directory=True)
    sys.path.insert(0, str(COLLECTIONS))
    from ansible_collections.tmc.multicluster.plugins.module_utils import api, placement
    from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, cel_cost

    return api, placement, cel, cel_cost


def numbers(n: int) -> str:
    return "[" + ",".join(str(i) for i in range(n)) + "]"


def costliest(cel_cost) -> tuple[str, int]:
    """The largest square nest of literal lists the compile-time check accepts."""
    best = None
    for n in range(10, 400):
        expression = f"{numbers(n)}.all(a, {numbers(n)}.all(b, a != b || string(a) != cluster.name))"
        try:
            cost = cel_cost.check(expression)
        except ValueError:
            break
        best = (expression, cost.steps(0, 0))
    return best


def run(skip_unbounded: bool) -> dict:
    api, placement, cel, cel_cost = _import_engine()
    expression, steps = costliest(cel_cost)
    program = cel.compile_expression(expression, "spec.predicates[0]")
    context = cel.make_context({"name": "c0", "labels": {}, "taints": []})
    times, cpu_times = [], []
    for _ in range(7):
        t0, c0 = time.perf_counter(), time.process_time()
        cel.evaluate(program, context)
        times.append((time.perf_counter() - t0) * 1000)
        cpu_times.append((time.process_time() - c0) * 1000)

    per_decision = cel_cost.PLACEMENT_STEPS // steps
    fleet = [{"name": f"c{i:04d}", "labels": {}} for i in range(per_decision)]
    spec = {"predicates": [expression]}
    gaps, stop = [], threading.Event()

    def ticker():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    time.sleep(0.05)
    gaps.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    placement.decide(spec, fleet)
    decision_s, decision_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    stop.set()
    thread.join()

    over = [{"name": f"c{i:04d}", "labels": {}} for i in range(per_decision + 2)]
    t0 = time.perf_counter()
    try:
        placement.decide(spec, over)
        refused = False
    except api.SpecError:
        refused = True
    refusal_ms = (time.perf_counter() - t0) * 1000

    out = {
        "max_steps_per_evaluation": cel_cost.MAX_STEPS,
        "placement_steps_per_decision": cel_cost.PLACEMENT_STEPS,
        "max_nesting": cel_cost.MAX_NESTING,
        "costliest_accepted_steps": steps,
        "evaluation_at_limit_ms": round(statistics.median(times), 3),
        "evaluation_at_limit_cpu_ms": round(statistics.median(cpu_times), 3),
        "evaluations_per_decision_at_budget": per_decision,
        "decision_at_budget_s": round(decision_s, 4),
        "decision_at_budget_cpu_s": round(decision_cpu_s, 4),
        "max_gil_gap_ms": round(max(gaps) * 1000, 3) if gaps else None,
        "over_budget_refused": refused,
        "over_budget_refusal_ms": round(refusal_ms, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if not skip_unbounded:
        deep = f"{numbers(100)}.all(a, {numbers(100)}.all(b, {numbers(100)}.all(c, true)))"
        raw = cel.cel_module().compile(deep)
        t0 = time.perf_counter()
        raw.execute(context)
        out["unbounded_nested_s"] = round(time.perf_counter() - t0, 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-unbounded", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.skip_unbounded)
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
