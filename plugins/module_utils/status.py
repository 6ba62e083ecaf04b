# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Status: what a member object reports, whether it is available, and the hub's aggregate.

Engine layer 2 (DESIGN.md section 1, status aggregation in section 2): pure functions
over plain dicts. No I/O and no implicit clock: functions that stamp a time take
``now`` (a timezone-aware datetime or an RFC 3339 string). Inputs are never mutated.
module_utils are private to this collection and may change in any release. The rules
are documented for users in docs/concepts/sync.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kinds

# Bounds on what a SyncWork carries back from a member (status.downstreamStatus).
MAX_CONDITIONS = 16
MAX_MESSAGE = 1024
MAX_REASON = 256
MAX_INGRESS = 32
MAX_PORTS = 16
_ELLIPSIS = "..."

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
_STATUSES = (TRUE, FALSE, UNKNOWN)

#: Counters summed across clusters, per kind (``kinds.KindSpec.counters``).
COUNTERS: Mapping[str, tuple[str, ...]] = {k.kind: k.counters for k in kinds.KINDS if k.counters}
# Fields besides counters each kind reports; every kind also reports conditions.
_EXTRA_FIELDS: Mapping[str, tuple[str, ...]] = {
    k.kind: ("observedGeneration",) * k.observed_generation + k.status_fields
    for k in kinds.KINDS
    if k.observed_generation or k.status_fields
}
# Kinds whose status has observedGeneration; the aggregate sets it to the hub generation.
_OBSERVED_GENERATION_KINDS = frozenset(k.kind for k in kinds.KINDS if k.observed_generation)
# Kinds of unknown status: their observedGeneration (when they have one) is copied and retargeted.
_KNOWN_KINDS = frozenset(k.kind for k in kinds.KINDS)
# Conditions that are bad when True ("abnormal-true"); every other type is bad when False.
NEGATIVE_CONDITIONS = frozenset({"ReplicaFailure", "Failed", "FailureTarget", "Degraded", "Stalled", "Suspended"})
# Job conditions that its controller only ever sets True, once: aggregated only when True everywhere.
_JOB_TERMINAL_SUCCESS = frozenset({"Complete", "SuccessCriteriaMet"})
_CONDITION_KEYS = (
    "type",
    "status",
    "reason",
    "message",
    "lastTransitionTime",
    "lastUpdateTime",
    "lastProbeTime",
    "observedGeneration",
)


# --------------------------------------------------------------------------
# Time


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time as an aware datetime (naive times are UTC); None when unparsable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(now: datetime | str) -> str:
    """Kubernetes' time format (RFC 3339, UTC, seconds): 2025-01-31T12:00:00Z."""
    if isinstance(now, datetime) and now.tzinfo is None:
        raise ValueError("pass a timezone-aware datetime (for example datetime.now(timezone.utc))")
    parsed = parse_time(now)
    if parsed is None:
        raise ValueError(f"{now!r} is not an RFC 3339 time")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Conditions


def _truncate(text: Any, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def _first_condition(conditions: Iterable[Mapping] | None, ctype: str) -> Mapping | None:
    for condition in conditions or ():
        if isinstance(condition, Mapping) and condition.get("type") == ctype:
            return condition
    return None


def get_condition(conditions: Iterable[Mapping] | None, ctype: str) -> dict | None:
    """A copy of the first condition of that type, or None."""
    condition = _first_condition(conditions, ctype)
    return None if condition is None else copy.deepcopy(dict(condition))


def condition_status(conditions: Iterable[Mapping] | None, ctype: str) -> str | None:
    """True/False/Unknown of that condition type (anything else reads Unknown); None when absent."""
    condition = _first_condition(conditions, ctype)  # only read: no copy
    if condition is None:
        return None
    status = condition.get("status")
    return status if status in _STATUSES else UNKNOWN


def is_condition_true(conditions: Iterable[Mapping] | None, ctype: str) -> bool:
    return condition_status(conditions, ctype) == TRUE


def set_condition(
    conditions: Iterable[Mapping] | None,
    ctype: str,
    status: str,
    reason: str,
    message: str,
    now: datetime | str,
    observed_generation: int | None = None,
) -> list[dict]:
    """A new condition list with ``ctype`` set; the input list is not changed.

    lastTransitionTime becomes ``now`` only when the status changes (or the condition is
    new); reason, message and observedGeneration are always updated. The position of an
    existing condition is kept; a new one is appended.
    """
    if status not in _STATUSES:
        raise ValueError(f"condition status {status!r} is not True, False or Unknown")
    result = [copy.deepcopy(dict(c)) for c in conditions or () if isinstance(c, Mapping)]
    fresh = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": _truncate(message, MAX_MESSAGE),
        "lastTransitionTime": format_time(now),
    }
    if observed_generation is not None:
        fresh["observedGeneration"] = observed_generation
    for index, condition in enumerate(result):
        if condition.get("type") != ctype:
            continue
        if condition.get("status") == status and condition.get("lastTransitionTime"):
            fresh["lastTransitionTime"] = condition["lastTransitionTime"]
        if observed_generation is None and "observedGeneration" in condition:
            fresh["observedGeneration"] = condition["observedGeneration"]
        result[index] = fresh
        return result
    result.append(fresh)
    return result


def remove_condition(conditions: Iterable[Mapping] | None, ctype: str) -> list[dict]:
    """A new condition list without conditions of that type."""
    return [copy.deepcopy(dict(c)) for c in conditions or () if isinstance(c, Mapping) and c.get("type") != ctype]


def _bounded_conditions(conditions: Any) -> list[dict]:
    result: list[dict] = []
    seen: set[str] = set()
    for condition in conditions if isinstance(conditions, list) else ():
        if not isinstance(condition, Mapping) or not isinstance(condition.get("type"), str):
            continue
        if condition["type"] in seen:
            continue
        seen.add(condition["type"])
        kept = {k: copy.deepcopy(condition[k]) for k in _CONDITION_KEYS if k in condition}
        if "message" in kept:
            kept["message"] = _truncate(kept["message"], MAX_MESSAGE)
        if "reason" in kept:
            kept["reason"] = _truncate(kept["reason"], MAX_REASON)
        result.append(kept)
        if len(result) >= MAX_CONDITIONS:
            break
    return result


# --------------------------------------------------------------------------
# downstream_status


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bounded_load_balancer(lb: Any) -> dict:
    ingress = lb.get("ingress") if isinstance(lb, Mapping) else None
    entries = []
    for entry in ingress if isinstance(ingress, list) else ():
        if not isinstance(entry, Mapping):
            continue
        kept = {k: entry[k] for k in ("ip", "hostname", "ipMode") if isinstance(entry.get(k), str)}
        ports = entry.get("ports")
        if isinstance(ports, list):
            kept_ports = [
                {k: p[k] for k in ("port", "protocol", "error") if k in p} for p in ports if isinstance(p, Mapping)
            ][:MAX_PORTS]
            if kept_ports:
                kept["ports"] = kept_ports
        if kept:
            entries.append(kept)
        if len(entries) >= MAX_INGRESS:
            break
    return {"ingress": entries} if entries else {}


def _whitelisted(kind: str, status: Any) -> dict:
    status = status if isinstance(status, Mapping) else {}
    result: dict[str, Any] = {}
    for key in COUNTERS.get(kind, ()):
        if _is_count(status.get(key)):
            result[key] = status[key]
    for key in _EXTRA_FIELDS.get(kind, ()):
        if key not in status:
            continue
        if key == "loadBalancer":
            result[key] = _bounded_load_balancer(status[key])
        elif key == "observedGeneration":
            if _is_count(status[key]):
                result[key] = status[key]
        elif isinstance(status[key], str):
            result[key] = status[key]
    if kind not in _KNOWN_KINDS and _is_count(status.get("observedGeneration")):
        result["observedGeneration"] = status["observedGeneration"]
    conditions = _bounded_conditions(status.get("conditions"))
    if conditions:
        result["conditions"] = conditions
    return result


def downstream_status(obj: Mapping) -> dict:
    """The whitelisted, size-bounded status of a member object (SyncWork status.downstreamStatus).

    Per kind: the counters of COUNTERS, plus observedGeneration (Deployment, StatefulSet,
    DaemonSet and kinds this module does not know), startTime/completionTime (Job),
    loadBalancer (Service, Ingress), and conditions for every kind. Condition messages are
    cut to MAX_MESSAGE characters, lists to MAX_CONDITIONS / MAX_INGRESS / MAX_PORTS.
    """
    if not isinstance(obj, Mapping):
        return {}
    return _whitelisted(str(obj.get("kind") or ""), obj.get("status"))


# --------------------------------------------------------------------------
# is_available


def _split(obj_or_status: Any) -> tuple[Mapping, Mapping, Mapping | None]:
    """(status, spec, metadata); metadata is None for a bare status (which has no metadata,
    spec, kind or apiVersion key)."""
    data = obj_or_status if isinstance(obj_or_status, Mapping) else {}
    if any(k in data for k in ("metadata", "spec", "kind", "apiVersion")):
        status, spec, meta = data.get("status"), data.get("spec"), data.get("metadata")
        return (
            status if isinstance(status, Mapping) else {},
            spec if isinstance(spec, Mapping) else {},
            meta if isinstance(meta, Mapping) else {},
        )
    return data, {}, None


def _count(status: Mapping, key: str) -> int:
    value = status.get(key)
    return value if _is_count(value) else 0


def _observed(status: Mapping, meta: Mapping | None) -> bool:
    """Whether the member's controller has caught up with the object's spec."""
    if meta is None:
        # A bare status cannot be compared with a generation: require that the controller
        # has written one at all (a status of {} is "nothing observed yet").
        return _is_count(status.get("observedGeneration"))
    generation = meta.get("generation")
    if not _is_count(generation):
        return True
    return _count(status, "observedGeneration") >= generation


def _desired(desired: int | None, spec: Mapping, key: str, fallback: int) -> int:
    if desired is not None:
        return desired
    value = spec.get(key)
    return value if _is_count(value) else fallback


def is_available(kind: str, obj_or_status: Mapping, desired: int | None = None) -> bool:
    """Whether a member object of ``kind`` is available.

    ``obj_or_status`` is the whole object or only its status (downstream_status()). The
    whole object is better: it gives the desired count (spec) and lets the rule check that
    the controller has observed the current generation (metadata.generation vs
    status.observedGeneration). ``desired`` overrides the count from the spec.

    Observed means status.observedGeneration >= metadata.generation for a whole object,
    and that status.observedGeneration is there at all for a bare status.

    - Deployment: observed and availableReplicas >= desired (spec.replicas, default 1;
      status only and no ``desired``: status.replicas).
    - StatefulSet: observed and readyReplicas >= desired (same defaults).
    - DaemonSet: observed, desiredNumberScheduled reported and numberAvailable equal to it
      (``desired`` given: numberAvailable >= desired).
    - Job: not Failed, and Complete=True or succeeded >= desired (spec.completions, default 1).
    - Service: available, except type LoadBalancer, which needs an ingress address (only
      checkable with the whole object; a status alone is available).
    - ConfigMap, Secret, Ingress: existing is available.
    - anything else: not behind its generation, and Available (or else Ready) condition
      True when it has one; existing is available when it has neither.
    """
    status, spec, meta = _split(obj_or_status)
    conditions = status.get("conditions")
    if kind in ("Deployment", "StatefulSet"):
        counter = "availableReplicas" if kind == "Deployment" else "readyReplicas"
        fallback = 1 if meta is not None else _count(status, "replicas")
        return _observed(status, meta) and _count(status, counter) >= _desired(desired, spec, "replicas", fallback)
    if kind == "DaemonSet":
        if not _observed(status, meta) or not _is_count(status.get("desiredNumberScheduled")):
            return False
        if desired is not None:
            return _count(status, "numberAvailable") >= desired
        return _count(status, "numberAvailable") == status["desiredNumberScheduled"]
    if kind == "Job":
        if is_condition_true(conditions, "Failed"):
            return False
        if is_condition_true(conditions, "Complete"):
            return True
        return _count(status, "succeeded") >= _desired(desired, spec, "completions", 1)
    if kind == "Service":
        if spec.get("type") == "LoadBalancer":
            return bool(_dig_ingress(status))
        return True
    if kind in ("ConfigMap", "Secret", "Ingress"):
        return True
    if meta is not None and "observedGeneration" in status and not _observed(status, meta):
        return False
    for ctype in ("Available", "Ready"):
        state = condition_status(conditions, ctype)
        if state is not None:
            return state == TRUE
    return True


def _dig_ingress(status: Mapping) -> list:
    lb = status.get("loadBalancer")
    ingress = lb.get("ingress") if isinstance(lb, Mapping) else None
    return ingress if isinstance(ingress, list) else []


# --------------------------------------------------------------------------
# aggregate_status


def _max_time(times: Iterable[Any]) -> str | None:
    parsed = [t for t in (parse_time(v) for v in times) if t is not None]
    return format_time(max(parsed)) if parsed else None


def _min_time(times: Iterable[Any]) -> str | None:
    parsed = [t for t in (parse_time(v) for v in times) if t is not None]
    return format_time(min(parsed)) if parsed else None


def _state(condition: Mapping | None, negative: bool) -> str:
    if condition is None:
        # An abnormal-true condition that is not reported is not happening; a missing
        # positive condition is not known to hold.
        return FALSE if negative else UNKNOWN
    status = condition.get("status")
    return status if status in _STATUSES else UNKNOWN


def _worst(states: Iterable[str], negative: bool) -> str:
    states = set(states)
    order = (TRUE, UNKNOWN, FALSE) if negative else (FALSE, UNKNOWN, TRUE)
    for state in order:
        if state in states:
            return state
    return order[-1]


def _describe(cluster: str, condition: Mapping | None, state: str) -> str:
    if condition is None:
        return f"{cluster} (not reported)"
    detail = ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))
    return f"{cluster} ({state}{', ' + detail if detail else ''})"


def _merge_condition(
    kind: str, ctype: str, clusters: list[tuple[str, dict | None]], now: datetime | str
) -> dict | None:
    negative = ctype in NEGATIVE_CONDITIONS
    states = {cluster: _state(condition, negative) for cluster, condition in clusters}
    result_state = _worst(states.values(), negative)
    good = FALSE if negative else TRUE
    if kind == "Job" and ctype in _JOB_TERMINAL_SUCCESS and result_state != TRUE:
        return None
    present = [(c, cond) for c, cond in clusters if cond is not None]
    if result_state == good:
        contributors = present
        reasons = {cond.get("reason") for _cluster, cond in present}
        messages = {cond.get("message") for _cluster, cond in present}
        reason = reasons.pop() if len(reasons) == 1 else "AllClusters"
        shared = messages.pop() if len(messages) == 1 else None
        if shared and len(clusters) == len(present):
            message = shared
        else:
            message = f"{ctype} is {good} on every cluster: {', '.join(c for c, _cond in clusters)}"
    else:
        offenders = [(c, cond) for c, cond in clusters if states[c] != good]
        contributors = [(c, cond) for c, cond in offenders if cond is not None]
        reasons = {cond.get("reason") for _cluster, cond in offenders if cond is not None}
        if len(reasons) == 1 and len(contributors) == len(offenders):
            reason = reasons.pop()
        else:
            reason = "NotReported" if not contributors else "MultipleClusters"
        detail = "; ".join(_describe(c, cond, states[c]) for c, cond in offenders)
        message = f"{ctype} is not {good} on {len(offenders)} of {len(clusters)} clusters: {detail}"
    merged: dict[str, Any] = {"type": ctype, "status": result_state}
    if reason:
        merged["reason"] = _truncate(reason, MAX_REASON)
    if message:
        merged["message"] = _truncate(message, MAX_MESSAGE)
    merged["lastTransitionTime"] = (
        _max_time(cond.get("lastTransitionTime") for _cluster, cond in contributors)
        or _max_time(cond.get("lastTransitionTime") for _cluster, cond in present)
        or format_time(now)
    )
    update = _max_time(cond.get("lastUpdateTime") for _cluster, cond in present)
    if update:
        merged["lastUpdateTime"] = update
    if any("observedGeneration" in cond for _cluster, cond in present):
        merged["observedGeneration"] = 0  # the field exists for this type: set by _retarget_generation
    return merged


def _merge_conditions(kind: str, items: list[tuple[str, dict]], now: datetime | str) -> list[dict]:
    order: list[str] = []
    for _cluster, status in items:
        for condition in status.get("conditions") or ():
            if condition["type"] not in order:
                order.append(condition["type"])
    merged = []
    for ctype in order:
        per_cluster = [(cluster, get_condition(status.get("conditions"), ctype)) for cluster, status in items]
        condition = _merge_condition(kind, ctype, per_cluster, now)
        if condition is not None:
            merged.append(condition)
    return merged[:MAX_CONDITIONS]


def _union_load_balancer(items: list[tuple[str, dict]]) -> dict:
    unique: dict[str, dict] = {}
    for _cluster, status in items:
        for entry in _dig_ingress(status):
            unique.setdefault(json.dumps(entry, sort_keys=True), entry)
    entries = sorted(
        unique.values(),
        key=lambda e: (str(e.get("ip", "")), str(e.get("hostname", "")), json.dumps(e, sort_keys=True)),
    )
    return {"ingress": entries[:MAX_INGRESS]} if entries else {}


def _retarget_generation(kind: str, result: dict, inputs: list[dict], generation: int | None) -> None:
    # A member's observedGeneration counts the member's generations, not the hub's.
    result.pop("observedGeneration", None)
    for condition in result.get("conditions") or ():
        # Only condition types that carry the field (metav1.Condition) get it back.
        if "observedGeneration" in condition:
            if generation is None:
                del condition["observedGeneration"]
            else:
                condition["observedGeneration"] = generation
    has_field = kind in _OBSERVED_GENERATION_KINDS or (
        kind not in _KNOWN_KINDS and any("observedGeneration" in s for s in inputs)
    )
    if generation is not None and has_field:
        result["observedGeneration"] = generation


def aggregate_status(
    kind: str,
    per_cluster: Mapping[str, Mapping],
    now: datetime | str,
    generation: int | None = None,
) -> dict:
    """The status to write onto the hub source, from each placed cluster's downstream status.

    One cluster: its status as it is (whitelisted). Several: counters summed (COUNTERS),
    conditions merged (the worst state wins: for a positive type False, then Unknown, then
    True, so Available is True only when it is True on every cluster; for the types in
    NEGATIVE_CONDITIONS True wins), load-balancer ingress as a sorted union, Job startTime
    the earliest and completionTime the latest once every cluster has completed. The
    result's observedGeneration is ``generation`` (the hub source's metadata.generation)
    for kinds whose status has that field; a member's own observedGeneration never reaches
    the hub. ``now`` stamps a merged condition only when no input has a time. The order of
    ``per_cluster`` does not matter.
    """
    items = sorted(((str(c), _whitelisted(kind, s)) for c, s in per_cluster.items()), key=lambda item: item[0])
    inputs = [s for _cluster, s in items]
    if len(items) == 1:
        result = copy.deepcopy(items[0][1])
    else:
        result = {}
        for key in COUNTERS.get(kind, ()):
            if any(key in s for s in inputs):
                result[key] = sum(_count(s, key) for s in inputs)
        if kind == "Job":
            start = _min_time(s.get("startTime") for s in inputs)
            if start:
                result["startTime"] = start
            if inputs and all(s.get("completionTime") for s in inputs):
                result["completionTime"] = _max_time(s["completionTime"] for s in inputs)
        if "loadBalancer" in _EXTRA_FIELDS.get(kind, ()) and items:
            result["loadBalancer"] = _union_load_balancer(items)
        conditions = _merge_conditions(kind, items, now)
        if conditions:
            result["conditions"] = conditions
    _retarget_generation(kind, result, inputs, generation)
    return result


# --------------------------------------------------------------------------
# summarize


def _work_cluster(work: Mapping) -> str:
    spec = work.get("spec") or {}
    meta = work.get("metadata") or {}
    if spec.get("cluster"):
        return str(spec["cluster"])
    label = (meta.get("labels") or {}).get(api.LABEL_CLUSTER)
    if label:
        return str(label)
    return str(meta.get("namespace") or "").removeprefix(api.CLUSTER_NAMESPACE_PREFIX)


def _work_kind(work: Mapping) -> str:
    spec = work.get("spec") or {}
    return str((spec.get("source") or {}).get("kind") or (spec.get("manifest") or {}).get("kind") or "Unknown")


def work_state(work: Mapping) -> tuple[bool, bool, bool]:
    """(applied, available, degraded) of one SyncWork.

    A status written for an older generation of the SyncWork (status.observedGeneration
    below metadata.generation) counts as nothing: it describes a manifest that is no
    longer the one asked for.
    """
    status = work.get("status") or {}
    meta = work.get("metadata") or {}
    generation, observed = meta.get("generation"), status.get("observedGeneration")
    if _is_count(generation) and _is_count(observed) and observed < generation:
        return False, False, False
    return (
        status.get("applied") is True,
        status.get("available") is True,
        is_condition_true(status.get("conditions"), "Degraded"),
    )


class SummaryCounts:
    """``summarize`` kept up to date one SyncWork at a time, for many groups at once.

    The controller feeds it every SyncWork its watch sees (``update``), under a group of its
    choosing (source namespace and placement); ``summarize(group)`` then answers without
    looking at the SyncWorks again: the same result as ``summarize`` over the group's current
    SyncWorks, in time independent of how many there are.
    """

    def __init__(self) -> None:
        self._rows: dict = {}  # key -> (group, cluster, kind, applied, available, degraded)
        self._clusters: dict = {}  # group -> cluster -> [workloads, applied, available, degraded]
        self._kinds: dict = {}  # group -> kind -> [workloads, applied, available, degraded]
        self._shared: dict = {}  # each distinct row once: 30,000 SyncWorks make a few dozen rows

    def update(self, key, group, work: Mapping | None) -> None:
        """``work`` is the SyncWork ``key`` now (None: gone); it counts under ``group``."""
        old = self._rows.pop(key, None)
        if old is not None:
            self._add(old, -1)
        if not isinstance(work, Mapping) or (work.get("metadata") or {}).get("deletionTimestamp"):
            return
        row = (group, _work_cluster(work), _work_kind(work), *work_state(work))
        row = self._shared.setdefault(row, row)  # tens of thousands of SyncWorks, a few distinct rows
        self._rows[key] = row
        self._add(row, 1)

    def _add(self, row: tuple, sign: int) -> None:
        group, cluster, kind, applied, available, degraded = row
        for table, name in ((self._clusters, cluster), (self._kinds, kind)):
            per_group = table.setdefault(group, {})
            counts = per_group.setdefault(name, [0, 0, 0, 0])
            counts[0] += sign
            counts[1] += sign * applied
            counts[2] += sign * available
            counts[3] += sign * degraded
            if counts[0] == 0:
                del per_group[name]
                if not per_group:
                    del table[group]
                    if table is self._kinds:  # the group's last row is gone
                        for gone in [r for r in self._shared if r[0] == group]:
                            del self._shared[gone]

    def per_cluster(self) -> dict:
        """cluster -> [workloads, applied, available, degraded] over every group (the fleet's view)."""
        totals: dict = {}
        for per_group in self._clusters.values():
            for cluster, counts in per_group.items():
                total = totals.setdefault(cluster, [0, 0, 0, 0])
                for index, value in enumerate(counts):
                    total[index] += value
        return totals

    def summarize(self, group) -> dict:
        """What ``summarize`` returns for the group's SyncWorks."""
        clusters, kinds = self._clusters.get(group, {}), self._kinds.get(group, {})
        return {
            "summary": [
                {"cluster": c, "applied": n[1], "available": n[2], "degraded": n[3]}
                for c, n in sorted(clusters.items())
            ],
            "kinds": [
                {"kind": k, "workloads": n[0], "applied": n[1], "available": n[2], "degraded": n[3]}
                for k, n in sorted(kinds.items())
            ],
        }


def summarize(syncworks: Iterable[Mapping]) -> dict:
    """Counts over SyncWorks for a placement's status.

    Returns ``{"summary": [{cluster, applied, available, degraded}, ...],
    "kinds": [{kind, workloads, applied, available, degraded}, ...]}``, both sorted by
    name. ``summary`` is the WorkloadPlacement status.summary of contract.md. SyncWorks
    being deleted (deletionTimestamp set) are not counted.
    """
    clusters: dict[str, dict] = {}
    kinds: dict[str, dict] = {}
    for work in syncworks:
        if not isinstance(work, Mapping) or (work.get("metadata") or {}).get("deletionTimestamp"):
            continue
        applied, available, degraded = work_state(work)
        cluster, kind = _work_cluster(work), _work_kind(work)
        row = clusters.setdefault(cluster, {"cluster": cluster, "applied": 0, "available": 0, "degraded": 0})
        per_kind = kinds.setdefault(kind, {"kind": kind, "workloads": 0, "applied": 0, "available": 0, "degraded": 0})
        per_kind["workloads"] += 1
        for target in (row, per_kind):
            target["applied"] += applied
            target["available"] += available
            target["degraded"] += degraded
    return {
        "summary": [clusters[c] for c in sorted(clusters)],
        "kinds": [kinds[k] for k in sorted(kinds)],
    }
