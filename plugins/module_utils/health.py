# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster health: (registration, heartbeat lease, now, thresholds) -> conditions and taints.

Pure (layer 2 of the engine); private to this collection. ``now`` is always
passed in. The rules (DESIGN.md section 2):

- no heartbeat yet → ``Heartbeat=Unknown`` (reason ``NeverHeartbeat``), ``Ready=Unknown``,
  and the ``tmc.kcp.io/unreachable:NoSchedule`` taint (nothing new is placed there);
- heartbeat younger than ``heartbeat_threshold`` → ``Heartbeat=True``; ``Ready`` follows
  ``APIReachable`` (True unless the last probe said False);
- older than the threshold → ``Heartbeat=False``, ``Ready=Unknown`` and the
  ``NoSchedule`` taint;
- older than ``eviction_timeout`` → the taint becomes ``NoExecute`` too (failover),
  with ``timeAdded`` = the moment the heartbeat crossed the eviction timeout, so
  tolerationSeconds count from then.
- ``spec.unschedulable`` (cordon) adds ``tmc.kcp.io/unschedulable:NoSchedule``.

How old a heartbeat is never rests on the member's clock. The controller ages it by *observed*
time (``HeartbeatObserver``: how long ago, on its own monotonic clock, it last saw the Lease
change), as the node lifecycle controller does with its probeTimestamp. A one-shot reader (the
modules) takes the hub's own time of the Lease's last write (its managedFields), and the
member-written ``renewTime`` only where the hub gives none.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.tmc.multicluster.plugins.module_utils import api

DEFAULT_HEARTBEAT_THRESHOLD = 40.0
DEFAULT_EVICTION_TIMEOUT = 300.0


@dataclass(frozen=True)
class Thresholds:
    heartbeat: float = DEFAULT_HEARTBEAT_THRESHOLD
    eviction: float = DEFAULT_EVICTION_TIMEOUT

    def __post_init__(self):
        if self.heartbeat <= 0:
            raise api.SpecError("heartbeat_threshold", "must be more than 0 seconds")
        if self.eviction < self.heartbeat:
            raise api.SpecError("eviction_timeout", "must be at least the heartbeat threshold")


@dataclass(frozen=True)
class Health:
    ready: str  # "True" | "False" | "Unknown"
    heartbeat_age: float | None  # seconds, None when never
    last_heartbeat: str | None
    conditions: list = field(default_factory=list)
    taints: list = field(default_factory=list)

    @property
    def schedulable(self) -> bool:
        return not any(t["effect"] in ("NoSchedule", "NoExecute") for t in self.taints)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> dt.datetime | None:
    """RFC 3339 as the API server writes it (seconds or microseconds, Z or offset)."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def renewal(lease: Mapping | None) -> str | None:
    """The renewal the Lease records (its renewTime, or acquireTime before the first renewal);
    None when it was never renewed."""
    spec = (lease or {}).get("spec") or {}
    return spec.get("renewTime") or spec.get("acquireTime") or None


def last_heartbeat(lease: Mapping | None) -> dt.datetime | None:
    """When the cluster last renewed its heartbeat Lease: on the hub's clock (the time of the Lease's
    last write, from its managedFields) when the hub says so, else as the member wrote it."""
    if not lease or renewal(lease) is None:
        return None
    written = [
        parse_time(entry.get("time"))
        for entry in (lease.get("metadata") or {}).get("managedFields") or []
        if "f:renewTime" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})  # the writer of the renewals
    ]
    written = [w for w in written if w is not None]
    return max(written) if written else parse_time(renewal(lease))


class HeartbeatObserver:
    """When this process last *saw* each cluster's heartbeat Lease change, on its own monotonic
    clock (the node lifecycle controller's probeTimestamp). A heartbeat's age is the time since
    then, so a member whose clock runs minutes ahead or behind is neither kept alive nor declared
    dead by it: only a renewal that stops stops the Lease from changing.

    A Lease seen for the first time counts as just renewed (the controller started, or the cluster
    is new): a dead cluster is found one threshold after a controller restart, never before.
    ``at`` is always passed in (pure: no clock of its own).
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float]] = {}  # cluster -> (renewal seen, when)
        self._lock = threading.Lock()

    def observe(self, cluster: str, lease: Mapping | None, at: float) -> None:
        beat = renewal(lease)
        with self._lock:
            if beat is None:
                self._seen.pop(cluster, None)
                return
            seen = self._seen.get(cluster)
            if seen is None or seen[0] != beat:
                self._seen[cluster] = (beat, at)

    def age(self, cluster: str, lease: Mapping | None, at: float) -> float | None:
        """Seconds since the Lease was last seen to change (observing it now first); None: never renewed."""
        self.observe(cluster, lease, at)
        with self._lock:
            seen = self._seen.get(cluster)
        return None if seen is None else max(0.0, at - seen[1])

    def forget(self, cluster: str) -> None:
        with self._lock:
            self._seen.pop(cluster, None)


def condition(
    kind: str, status: str, reason: str, message: str, now: dt.datetime, previous: list | None = None
) -> dict:
    """A condition whose lastTransitionTime moves only when its status changes."""
    old = next((c for c in previous or [] if c.get("type") == kind), None)
    since = old["lastTransitionTime"] if old and old.get("status") == status and old.get("lastTransitionTime") else None
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since or format_time(now),
    }


def _taint(key: str, effect: str, added: dt.datetime, previous: list) -> dict:
    old = next((t for t in previous if t.get("key") == key and t.get("effect") == effect), None)
    return {"key": key, "effect": effect, "timeAdded": (old or {}).get("timeAdded") or format_time(added)}


_FROM_LEASE = object()


def evaluate(
    registration: Mapping,
    lease: Mapping | None,
    now: dt.datetime,
    thresholds: Thresholds = Thresholds(),
    age=_FROM_LEASE,
) -> Health:
    """The health of one cluster at ``now``. ``age``: the heartbeat's age in seconds as the caller
    observed it (``HeartbeatObserver``; None: never renewed); by default ``now`` minus
    ``last_heartbeat(lease)``."""
    status = registration.get("status", {}) or {}
    spec = registration.get("spec", {}) or {}
    previous_conditions = status.get("conditions", []) or []
    previous_taints = status.get("taints", []) or []
    if age is _FROM_LEASE:
        beat = last_heartbeat(lease)
        age = (now - beat).total_seconds() if beat else None
    else:
        beat = None if age is None else now - dt.timedelta(seconds=age)
    reachable = next((c for c in previous_conditions if c.get("type") == "APIReachable"), None)
    api_ok = (reachable or {}).get("status", "Unknown") != "False"

    conditions, taints = [], []
    if age is None:
        conditions.append(
            condition(
                "Heartbeat",
                "Unknown",
                "NeverHeartbeat",
                "the cluster has not renewed its heartbeat yet",
                now,
                previous_conditions,
            )
        )
        ready = ("Unknown", "NoHeartbeat", "no heartbeat yet")
        taints.append(_taint(api.TAINT_UNREACHABLE, "NoSchedule", now, previous_taints))
    elif age <= thresholds.heartbeat:
        conditions.append(
            condition(
                "Heartbeat",
                "True",
                "HeartbeatFresh",
                f"heartbeat within the {thresholds.heartbeat:g}s threshold",
                now,
                previous_conditions,
            )
        )
        ready = (
            ("True", "ClusterReady", "heartbeat fresh and API reachable")
            if api_ok
            else ("False", "APIUnreachable", (reachable or {}).get("message", "the member API server does not answer"))
        )
    else:
        conditions.append(
            condition(
                "Heartbeat",
                "False",
                "HeartbeatStale",
                f"no heartbeat within the {thresholds.heartbeat:g}s threshold",
                now,
                previous_conditions,
            )
        )
        ready = ("Unknown", "HeartbeatStale", "the cluster stopped renewing its heartbeat")
        taints.append(
            _taint(
                api.TAINT_UNREACHABLE, "NoSchedule", beat + dt.timedelta(seconds=thresholds.heartbeat), previous_taints
            )
        )
        if age > thresholds.eviction:
            taints.append(
                _taint(
                    api.TAINT_UNREACHABLE,
                    "NoExecute",
                    beat + dt.timedelta(seconds=thresholds.eviction),
                    previous_taints,
                )
            )
    conditions.append(condition("Ready", *ready, now, previous_conditions))
    if reachable:
        conditions.append(dict(reachable))
    if spec.get("unschedulable"):
        taints.append(_taint(api.TAINT_UNSCHEDULABLE, "NoSchedule", now, previous_taints))
    return Health(
        ready=ready[0],
        heartbeat_age=age,
        last_heartbeat=format_time(beat) if beat else None,
        conditions=conditions,
        taints=taints,
    )


def evicting(verdict: Health) -> bool:
    """True when the cluster is past its eviction timeout (tainted NoExecute for being unreachable)."""
    return any(t["key"] == api.TAINT_UNREACHABLE and t["effect"] == "NoExecute" for t in verdict.taints)


def full_disruption(verdicts: Iterable[Health]) -> bool:
    """True when every cluster is past its eviction timeout at once.

    Then the likelier fault is on the hub's side (its network, its clock, the syncers' path to
    it), and there is nowhere to move workloads to anyway: failing over would only delete every
    SyncWork, and with them the workloads on every member once the syncers come back. As the
    node lifecycle controller does in a full disruption, evictions are held; NoSchedule stays.
    """
    verdicts = list(verdicts)
    return bool(verdicts) and all(evicting(v) for v in verdicts)


def without_evictions(taints: list) -> list:
    return [t for t in taints if t["effect"] != "NoExecute"]


def api_reachable_condition(ok: bool, message: str, now: dt.datetime, previous: list | None = None) -> dict:
    return condition(
        "APIReachable", "True" if ok else "False", "Probed" if ok else "ProbeFailed", message, now, previous
    )
