# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every step of the sync pass shares: object keys, the clock, bounded parallel runs.

Layer 4 of the engine; private to this collection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.tmc.multicluster.plugins.module_utils import render

HUB_WRITE_CONCURRENCY = 8  # parallel writes to the hub in one pass
MEMBER_APPLY_CONCURRENCY = 8  # parallel applies to one member in one pass


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def object_key(obj: Mapping) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def source_key(obj: Mapping) -> tuple[str, str, str]:
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]


def source_of(work: Mapping) -> tuple:
    src = (work.get("spec") or {}).get("source") or {}
    return src.get("apiVersion"), src.get("kind"), src.get("name")


def manifest_key(manifest: Mapping) -> tuple:
    meta = manifest["metadata"]
    return manifest["apiVersion"], manifest["kind"], meta.get("namespace") or "", meta["name"]


def status_differs(current: Mapping, new: Mapping) -> bool:
    """True when writing status ``new`` over status ``current`` would change it."""
    return render.canonical_json(current) != render.canonical_json(new)


def run_bounded(jobs: list, concurrency: int) -> list:
    """``step(work)`` for each ``(step, work)`` job, at most ``concurrency`` at once; each result or the
    exception it raised, in order."""

    def attempt(job):
        step, work = job
        try:
            return step(work)
        except Exception as err:  # noqa: BLE001 - handed back to the caller, in order
            return err

    if len(jobs) <= 1 or concurrency <= 1:
        return [attempt(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(jobs))) as pool:
        return list(pool.map(attempt, jobs))


def run_all(jobs: list, concurrency: int) -> list:
    """Like ``run_bounded``, but the first exception (in job order) is raised once all have run."""
    outcomes = run_bounded(jobs, concurrency)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes
