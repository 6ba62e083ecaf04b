# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters: which clusters are eligible for a placement, and why the others are not.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, cel_cost
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.model import (
    NAMESPACE_NAME_LABEL,
    NO_EXECUTE,
    NO_SCHEDULE,
    PLAIN_ADMISSION,
    UNSCHEDULABLE_TAINT,
    ClusterView,
    Snapshot,
    Taint,
    _labels,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.quantity import (
    _format_epoch,
)
from ansible_collections.tmc.multicluster.plugins.module_utils.placement.spec import (
    CompiledPlacement,
    Predicate,
    Toleration,
)

# --------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class _Call:
    """Everything one decision depends on besides the candidate set."""

    placement: CompiledPlacement
    snapshot: Snapshot
    namespace_labels: Mapping[str, str]
    previous: frozenset[str]
    now: float | None

    @property
    def views(self) -> Mapping[str, ClusterView]:
        return self.snapshot.views


def _effective_namespace_labels(namespace: str | None, labels: Mapping | None) -> dict[str, str]:
    out = {NAMESPACE_NAME_LABEL: namespace} if namespace else {}
    out.update(_labels(labels, "namespace_labels"))
    return out


def _match_reasons(view: ClusterView, placement: CompiledPlacement) -> list[str]:
    reasons = []
    if placement.selector is not None:
        reasons += [f"label mismatch: clusterSelector {m}" for m in placement.selector.mismatches(view.labels)]
    if placement.locations is not None and view.location not in placement.locations:
        where = view.location or "(none)"
        reasons.append(f"location: {where} is not in locations [{', '.join(sorted(placement.locations))}]")
    return reasons


def _noexecute_reason(taint: Taint, matching: list[Toleration], now: float | None) -> str | None:
    """None when the matching tolerations still cover this NoExecute taint.

    The Kubernetes taint-manager rule: the *minimum* ``tolerationSeconds`` among
    the matching tolerations that set one counts; only when none sets one is the
    taint tolerated for ever. So a catch-all toleration never disables a timed
    failover that another toleration asks for.
    """
    limits = [t.seconds for t in matching if t.seconds is not None]
    if not limits:
        return None
    seconds = min(limits)
    if taint.time_added is None:
        return None
    expires = taint.time_added + seconds
    if now is None:
        return (
            f"taint not tolerated: {taint} is tolerated for {seconds}s after {_format_epoch(taint.time_added)}, "
            "and no 'now' was given to tell whether that has passed"
        )
    if now >= expires:
        return f"taint not tolerated: {taint} tolerationSeconds={seconds} expired at {_format_epoch(expires)}"
    return None


def _taint_reasons(taints: tuple[Taint, ...], call: _Call, kept: bool) -> list[str]:
    reasons = []
    tolerations = call.placement.tolerations
    for taint in taints:
        if kept and taint.effect == NO_SCHEDULE:
            continue
        matching = [t for t in tolerations if t.tolerates(taint)]
        if not matching:
            reasons.append(f"taint not tolerated: {taint}")
        elif taint.effect == NO_EXECUTE:
            reason = _noexecute_reason(taint, matching, call.now)
            if reason:
                reasons.append(reason)
    return reasons


def _admission_reasons(view: ClusterView, call: _Call, kept: bool | None = None) -> list[str]:
    """Everything but labels, location and predicates that rejects a cluster.

    ``kept``: whether the cluster is in ``previous`` (default: look it up).
    """
    if view.unreadable is not None:
        return [f"unreadable cluster data: {view.unreadable}"]
    reasons = []
    if kept is None:
        kept = view.name in call.previous
    selector = view.namespace_selector
    if selector is not None and not selector.matches(call.namespace_labels):
        ns = call.placement.namespace or "(unknown)"
        reasons.append(
            f"namespace not allowed: the cluster's namespaceSelector ({selector.describe()}) "
            f"does not match namespace {ns}"
        )
    if view.unschedulable and not kept and not call.placement.tolerates_cordon:
        reasons.append(f"unschedulable: the cluster is cordoned and {UNSCHEDULABLE_TAINT} is not tolerated")
    if view.taints:
        reasons += _taint_reasons(view.taints, call, kept)
    zero = view.allocatable.known_zero()
    if zero:
        reasons.append(f"not enough capacity: allocatable {zero} is 0")
    return reasons


def _time_sensitive(view: ClusterView, call: _Call) -> bool:
    """Whether ``now`` can matter for this cluster (a timed NoExecute taint and a timed toleration)."""
    return any(t.effect == NO_EXECUTE and t.time_added is not None for t in view.taints) and any(
        t.seconds is not None for t in call.placement.tolerations
    )


def _admits(view: ClusterView, call: _Call, cache: dict) -> tuple[bool, bool]:
    """(admitted, time sensitive), memoised per admission class: clusters mostly share taint sets."""
    key = (view.admission_key, view.name in call.previous)
    found = cache.get(key)
    if found is None:
        found = (not _admission_reasons(view, call), _time_sensitive(view, call))
        cache[key] = found
    return found


def predicate_steps(view: ClusterView, predicates: tuple[Predicate, ...]) -> int:
    """What evaluating the predicates on this cluster costs (cel_cost steps), known before running them."""
    labels, taints = len(view.labels), len(view.taints)
    return sum(p.steps(labels, taints) for p in predicates)


def _check_budget(steps: int, clusters: int) -> None:
    """A placement whose predicates would cost more than PLACEMENT_STEPS in one decision fails, explained,
    before anything runs: it holds no CPU and no GIL, and no other placement notices."""
    if steps > cel_cost.PLACEMENT_STEPS:
        raise api.SpecError(
            "spec.predicates",
            f"the predicates would take about {steps} steps over the {clusters} clusters they run on, over the "
            f"budget of {cel_cost.PLACEMENT_STEPS} per decision: narrow the clusters first with clusterSelector "
            "or locations (predicates run only on the clusters that pass every other filter), or simplify them",
        )


def _predicate_note(view: ClusterView, predicates: tuple[Predicate, ...]) -> str | None:
    """None when every predicate is true; else why not. Results are memoised per view and expression."""
    results = view.predicate_results
    for predicate in predicates:
        outcome = results.get(predicate.expression)
        if outcome is None:
            steps = predicate.steps(len(view.labels), len(view.taints))
            if steps > cel_cost.MAX_STEPS:  # more labels or taints than the compile-time check assumed
                outcome = (
                    False,
                    f"would take about {steps} steps for this cluster ({len(view.labels)} labels, "
                    f"{len(view.taints)} taints), over the budget of {cel_cost.MAX_STEPS} per evaluation",
                )
            else:
                outcome = cel.evaluate(predicate.program, view.cel_context)
            results[predicate.expression] = outcome
        ok, error = outcome
        if not ok:
            if error:
                return f"predicate error: {predicate.where} {predicate.expression!r}: {error}"
            return f"predicate false: {predicate.where} {predicate.expression!r}"
    return None


def _admit_each(call: _Call, candidates: Iterable[str]) -> tuple[list[str], bool]:
    views = call.views
    eligible = [n for n in candidates if views[n].plain]
    cache: dict = {}
    sensitive = False
    for name in candidates:
        view = views[name]
        if not view.plain:
            admitted, timed = _admits(view, call, cache)
            sensitive = sensitive or timed
            if admitted:
                eligible.append(name)
    return eligible, sensitive


def _admit_by_class(call: _Call, candidates: set[str], classes: Mapping[tuple, set[str]]) -> tuple[list[str], bool]:
    """Admission once per class of clusters sharing taints, cordon, namespaceSelector and zero resources."""
    eligible: list[str] = []
    sensitive = False
    previous = call.previous
    for key, members in classes.items():
        inside = candidates & members
        if not inside:
            continue
        if key == PLAIN_ADMISSION:
            eligible.extend(inside)
            continue
        view = call.views[next(iter(inside))]
        sensitive = sensitive or _time_sensitive(view, call)
        kept = inside & previous if previous else set()
        for subset, is_kept in ((inside - kept, False), (kept, True)):
            if subset and not _admission_reasons(view, call, is_kept):
                eligible.extend(subset)
    return eligible, sensitive


def _filter(
    call: _Call, candidates: Iterable[str], classes: Mapping[tuple, set[str]] | None
) -> tuple[list[str], dict[str, str], bool, int]:
    """Eligible names among label/location candidates, predicate notes, whether ``now`` mattered, and
    what the predicates cost (steps, see cel_cost).

    ``classes``: the index's admission classes (admission_key -> names), or
    None to check cluster by cluster.
    """
    if classes is None:
        eligible, sensitive = _admit_each(call, candidates)
    else:
        eligible, sensitive = _admit_by_class(call, candidates, classes)
    notes: dict[str, str] = {}
    predicates = call.placement.predicates
    steps = 0
    if predicates and eligible:
        views = call.views
        steps = sum(predicate_steps(views[n], predicates) for n in eligible)
        _check_budget(steps, len(eligible))
        kept = []
        for name in eligible:
            note = _predicate_note(views[name], predicates)
            if note is None:
                kept.append(name)
            else:
                notes[name] = note
        eligible = kept
    return eligible, notes, sensitive, steps


def _eligible_one(view: ClusterView | None, call: _Call) -> tuple[bool, bool, int]:
    """(eligible, time sensitive, predicate steps) for a single cluster: the incremental path."""
    if view is None or not call.placement.matches(view):
        return False, False, 0
    admitted, timed = (True, False) if view.plain else _admits(view, call, {})
    steps = 0
    if admitted and call.placement.predicates:
        steps = predicate_steps(view, call.placement.predicates)
        admitted = _predicate_note(view, call.placement.predicates) is None
    return admitted, timed, steps
