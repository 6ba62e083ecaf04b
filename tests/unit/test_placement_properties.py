"""Properties of the placement engine, checked with hypothesis against an independent eligibility oracle."""

from __future__ import annotations

import copy
import random
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = 1_714_564_800.0  # 2024-05-01T12:00:00Z

NAMES = [f"c{i:02d}" for i in range(14)]
TAINTS = [
    {"key": "maint", "value": "", "effect": "NoSchedule"},
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    {"key": "tmc.kcp.io/unreachable", "value": "", "effect": "NoExecute"},
]
TOLERATIONS = [
    {"key": "maint", "operator": "Exists"},
    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "tmc.kcp.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": api.TAINT_UNSCHEDULABLE, "operator": "Exists"},
    {"operator": "Exists", "effect": "NoSchedule"},
]
PREDICATES = {
    "has(cluster.labels.gpu)": lambda c: "gpu" in c["labels"],
    "cluster.allocatable.cpu >= 2.0": lambda c: float(c.get("allocatable", {}).get("cpu", 0)) >= 2.0,
    "cluster.labels['tier'] == 'prod'": lambda c: c["labels"].get("tier") == "prod",  # errors (rejects) without tier
}


@st.composite
def a_cluster(draw, name=None):
    labels = {}
    for key, values in (("tier", ["prod", "dev"]), ("zone", ["z1", "z2", "z3"]), ("gpu", ["a", "b"])):
        if draw(st.booleans()):
            labels[key] = draw(st.sampled_from(values))
    out = {
        "name": name or draw(st.sampled_from(NAMES)),
        "labels": labels,
        "location": draw(st.sampled_from(["", "east", "west"])),
        "workloads": draw(st.integers(0, 4)),
        "allocatable": {"cpu": draw(st.sampled_from([1, 2, 4, 8])), "memory": draw(st.sampled_from(["1Gi", "4Gi"]))},
    }
    if draw(st.integers(0, 9)) == 0:
        out["allocatable"]["pods"] = 0
    taints = draw(st.lists(st.sampled_from(range(len(TAINTS))), unique=True, max_size=2))
    if taints:
        out["taints"] = [TAINTS[i] for i in taints]
    if draw(st.integers(0, 7)) == 0:
        out["unschedulable"] = True
    if draw(st.integers(0, 7)) == 0:
        out["namespaceSelector"] = {"matchLabels": {"team": draw(st.sampled_from(["a", "b"]))}}
    return out


@st.composite
def fleets(draw, min_size=0, max_size=12):
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=min_size, max_size=max_size))
    return [draw(a_cluster(name=n)) for n in names]


@st.composite
def selectors(draw):
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return None
    if choice == 1:
        return {"matchLabels": {"tier": draw(st.sampled_from(["prod", "dev"]))}}
    expressions = []
    for key, values in (("tier", ["prod", "dev"]), ("zone", ["z1", "z2", "z3"]), ("gpu", ["a", "b"])):
        if not draw(st.booleans()):
            continue
        op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        expr = {"key": key, "operator": op}
        if op in ("In", "NotIn"):
            expr["values"] = draw(st.lists(st.sampled_from(values), unique=True, min_size=1))
        expressions.append(expr)
    return {"matchExpressions": expressions}


@st.composite
def specs(draw, spread=None):
    spec = {}
    selector = draw(selectors())
    if selector is not None:
        spec["clusterSelector"] = selector
    if draw(st.integers(0, 3)) == 0:
        spec["locations"] = draw(st.lists(st.sampled_from(["east", "west"]), unique=True))
    number = draw(st.one_of(st.none(), st.integers(1, 6)))
    if number is not None:
        spec["numberOfClusters"] = number
    use_spread = draw(st.booleans()) if spread is None else spread
    if use_spread:
        constraints = []
        for key in draw(st.lists(st.sampled_from(["zone", "location", "tier"]), unique=True, min_size=1, max_size=2)):
            c = {"topologyKey": key, "maxSkew": draw(st.integers(1, 2))}
            low = draw(st.one_of(st.none(), st.integers(1, 2)))
            if low is not None and (number is None or low <= number):
                c["minGroups"] = low
            high = draw(st.one_of(st.none(), st.integers(1, 3)))
            if high is not None and high >= c.get("minGroups", 1):
                c["maxGroups"] = high
            constraints.append(c)
        spec["spreadConstraints"] = constraints
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(P.PRIORITIZERS), unique=True, min_size=1))
        spec["prioritizers"] = [{"name": n, "weight": draw(st.integers(1, 3))} for n in chosen]
    tolerations = draw(st.lists(st.sampled_from(range(len(TOLERATIONS))), unique=True, max_size=3))
    if tolerations:
        spec["tolerations"] = [TOLERATIONS[i] for i in tolerations]
    if draw(st.integers(0, 3)) == 0:
        spec["predicates"] = draw(st.lists(st.sampled_from(sorted(PREDICATES)), unique=True, min_size=1, max_size=2))
    if draw(st.integers(0, 5)) == 0:  # ordered fallback terms instead of clusterSelector / locations
        spec.pop("clusterSelector", None)
        spec.pop("locations", None)
        spec["clusterAffinities"] = [
            {"name": f"t{i}", "clusterSelector": selector}
            for i, selector in enumerate(draw(st.lists(selectors().filter(bool), min_size=1, max_size=3)))
        ]
    kind = draw(st.sampled_from(["Duplicated", "Divided", "weights", "dynamic"]))
    if kind == "Divided":
        spec["replicaScheduling"] = {"type": "Divided"}
    elif kind == "weights":
        weighted = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=6))
        spec["replicaScheduling"] = {
            "type": "Divided",
            "weights": [{"cluster": n, "weight": draw(st.integers(0, 5))} for n in weighted],
        }
    elif kind == "dynamic":
        spec["replicaScheduling"] = {"type": "Divided", "dynamic": "AvailableCapacity"}
    return spec


def placement_object(spec, name="p"):
    return {"metadata": {"name": name, "namespace": "team-a", "generation": 1}, "spec": spec}


contexts = st.fixed_dictionaries(
    {
        "previous": st.lists(st.sampled_from(NAMES), unique=True, max_size=5),
        "namespace_labels": st.sampled_from([{}, {"team": "a"}, {"team": "b"}]),
    }
)


# --------------------------------------------------------------------------
# The oracle: eligibility written out plainly, independently of the engine


def _selector_matches(selector, labels):
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _tolerated(taint, tolerations):
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if t.get("key") and t["key"] != taint["key"]:
            continue
        if t.get("operator", "Equal") == "Exists" or t.get("value", "") == taint["value"]:
            return True
    return False


def oracle_eligible(c, spec, previous, namespace_labels):
    kept = c["name"] in previous
    tolerations = spec.get("tolerations") or []
    if not _selector_matches(spec.get("clusterSelector"), c["labels"]):
        return False
    terms = spec.get("clusterAffinities")
    if terms and not any(_selector_matches(t.get("clusterSelector"), c["labels"]) for t in terms):
        return False  # in no term (the engine picks one term; eligible here means in some term)
    if spec.get("locations") and c["location"] not in spec["locations"]:  # absent or empty: every location
        return False
    ns = {"kubernetes.io/metadata.name": "team-a", **namespace_labels}
    if "namespaceSelector" in c and not _selector_matches(c["namespaceSelector"], ns):
        return False
    cordon = {"key": api.TAINT_UNSCHEDULABLE, "value": "", "effect": "NoSchedule"}
    if c.get("unschedulable") and not kept and not _tolerated(cordon, tolerations):
        return False
    for taint in c.get("taints", []):
        if kept and taint["effect"] == "NoSchedule":
            continue
        if not _tolerated(taint, tolerations):
            return False
    if c["allocatable"].get("pods") == 0:
        return False
    return all(PREDICATES[p](c) for p in spec.get("predicates") or [])


def _group(c, key):
    return (c["location"] if key == "location" else c["labels"].get(key)) or None


# --------------------------------------------------------------------------
# Properties of one decision


@SETTINGS
@given(fleets(), specs(), contexts, st.integers(0, 20))
def test_only_eligible_clusters_chosen_and_limits_hold(clusters, spec, ctx, replicas):
    result = P.decide(
        placement_object(spec), clusters, ctx["previous"], ctx["namespace_labels"], now=NOW, replicas=replicas
    )
    by_name = {c["name"]: c for c in clusters}
    eligible = {n for n, c in by_name.items() if oracle_eligible(c, spec, ctx["previous"], ctx["namespace_labels"])}
    chosen = [d["cluster"] for d in result.decisions]
    assert chosen == sorted(chosen)
    assert set(chosen) <= eligible
    number = spec.get("numberOfClusters")
    assert number is None or len(chosen) <= number
    if "spreadConstraints" not in spec and "clusterAffinities" not in spec:
        assert len(chosen) == (len(eligible) if number is None else min(number, len(eligible)))
    if "clusterAffinities" not in spec:
        assert result.eligible_count == (len(eligible) if chosen else result.eligible_count)
    explanations = result.explanations
    assert sorted(explanations) == sorted(by_name)
    assert {n for n, e in explanations.items() if e["selected"]} == set(chosen)
    assert all(e["reasons"] for e in explanations.values())
    for name in by_name.keys() - eligible:
        assert not explanations[name]["selected"]
    if chosen and spec.get("replicaScheduling", {}).get("type") == "Divided":
        counts = [d["replicas"] for d in result.decisions]
        assert sum(counts) == replicas and min(counts) >= 0


@SETTINGS
@given(fleets(min_size=1), specs(spread=True), contexts)
def test_spread_constraints_hold(clusters, spec, ctx):
    result = P.decide(placement_object(spec), clusters, ctx["previous"], ctx["namespace_labels"], now=NOW)
    by_name = {c["name"]: c for c in clusters}
    chosen = [by_name[d["cluster"]] for d in result.decisions]
    if not chosen:
        return
    for constraint in spec["spreadConstraints"]:
        key = constraint["topologyKey"]
        groups = [_group(c, key) for c in chosen]
        assert None not in groups
        counts = {g: groups.count(g) for g in set(groups)}
        assert max(counts.values()) - min(counts.values()) <= constraint["maxSkew"]
        assert len(counts) <= constraint.get("maxGroups", len(counts))
        assert len(counts) >= constraint.get("minGroups", 1)


@SETTINGS
@given(fleets(), specs(), contexts, st.randoms(use_true_random=False))
def test_unchanged_inputs_and_shuffled_clusters_give_the_same_answer(clusters, spec, ctx, rng):
    placement = placement_object(spec)
    first = P.decide(placement, clusters, ctx["previous"], ctx["namespace_labels"], now=NOW, replicas=7)
    again = P.decide(
        copy.deepcopy(placement),
        copy.deepcopy(clusters),
        list(ctx["previous"]),
        ctx["namespace_labels"],
        now=NOW,
        replicas=7,
    )
    shuffled = list(clusters)
    rng.shuffle(shuffled)
    previous = list(ctx["previous"])
    rng.shuffle(previous)
    moved = P.decide(placement, shuffled, previous, ctx["namespace_labels"], now=NOW, replicas=7)
    assert first.decisions == again.decisions == moved.decisions
    assert first.explanations == again.explanations == moved.explanations
    assert first.message == moved.message


# --------------------------------------------------------------------------
# Replica division


weight_lists = st.lists(
    st.tuples(st.sampled_from(NAMES), st.integers(0, 50)), unique_by=lambda t: t[0], min_size=1, max_size=10
)


@SETTINGS
@given(st.integers(0, 500), weight_lists)
def test_divided_replicas_sum_exactly_follow_weights_within_one_and_are_never_negative(total, weights):
    decisions = [{"cluster": n, "weight": w} for n, w in weights]
    counts = {d["cluster"]: d["replicas"] for d in P.divide_replicas(total, decisions)}
    assert sum(counts.values()) == total
    assert min(counts.values()) >= 0
    whole = sum(w for _name, w in weights)
    for name, weight in weights:
        exact = Fraction(total * weight, whole) if whole else Fraction(total, len(weights))
        assert abs(counts[name] - exact) < 1
    # ties (equal remainders) go to names in ascending order
    reordered = P.divide_replicas(total, list(reversed(decisions)))
    assert {d["cluster"]: d["replicas"] for d in reordered} == counts


@SETTINGS
@given(st.integers(0, 300), weight_lists, st.lists(st.one_of(st.none(), st.integers(0, 40)), min_size=10, max_size=10))
def test_capped_division_still_sums_exactly(total, weights, caps):
    decisions = []
    for (name, weight), cap in zip(weights, caps, strict=False):
        d = {"cluster": name, "weight": weight}
        if cap is not None:
            d["allocatable"] = {"pods": cap}
        decisions.append(d)
    counts = {d["cluster"]: d["replicas"] for d in P.divide_replicas(total, decisions, {"cpu": "100m"})}
    assert sum(counts.values()) == total and min(counts.values()) >= 0
    takers = [d for d in decisions if d["weight"] > 0] or decisions  # weight 0 never takes replicas (contract)
    room = sum(d.get("allocatable", {}).get("pods", total) for d in takers)
    if room >= total:  # enough room among the takers: nobody is pushed over its cap
        for d in decisions:
            if "allocatable" in d:
                assert counts[d["cluster"]] <= d["allocatable"]["pods"]


# --------------------------------------------------------------------------
# The incremental index equals the one-shot engine


operations = st.lists(
    st.one_of(a_cluster().map(lambda c: ("update", c)), st.sampled_from(NAMES).map(lambda n: ("remove", n))),
    min_size=1,
    max_size=8,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.lists(specs(), min_size=1, max_size=3), operations, contexts, st.sampled_from([None, 5]))
def test_index_equals_one_shot_decide_and_affected_sets_are_sound(clusters, spec_list, ops, ctx, replicas):
    placements = [placement_object(s, name=f"p{i}") for i, s in enumerate(spec_list)]
    keys = [P.placement_key(p) for p in placements]
    labels = ctx["namespace_labels"]
    index = P.PlacementIndex(clusters)
    for p in placements:
        index.set_placement(p, labels)
    current = {c["name"]: c for c in clusters}
    previous = dict.fromkeys(keys, ctx["previous"])

    def one_shot(i, fleet):
        return P.decide(placements[i], fleet.values(), previous[keys[i]], labels, now=NOW, replicas=replicas)

    def check_all():
        for i, key in enumerate(keys):
            got = index.decide(key, previous[key], now=NOW, replicas=replicas)
            want = one_shot(i, current)
            assert got == want, key
            assert (got.message, got.eligible_count) == (want.message, want.eligible_count)
            previous[key] = got

    check_all()
    for op, arg in ops:
        before = {key: one_shot(i, current) for i, key in enumerate(keys)}
        if op == "update":
            affected = index.update_cluster(arg)
            current[arg["name"]] = arg
        else:
            affected = index.remove_cluster(arg)
            current.pop(arg, None)
        for i, key in enumerate(keys):
            if key not in affected:
                assert one_shot(i, current) == before[key], (key, op)
        check_all()
    # the explanations of the last (possibly patched) results agree with a fresh decision
    for i, key in enumerate(keys):
        assert (
            index.decide(key, previous[key], now=NOW, replicas=replicas).explanations
            == one_shot(i, current).explanations
        )


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_index_matches_one_shot_on_a_larger_random_fleet(rng: random.Random):
    """Many clusters and top-N placements, so the patch paths (not only full decides) are exercised."""

    def make(i):
        return {
            "name": f"m{i:03d}",
            "labels": {"tier": rng.choice(["prod", "dev"]), "zone": rng.choice(["z1", "z2", "z3"])},
            "location": rng.choice(["east", "west"]),
            "workloads": rng.randrange(0, 6),
            "allocatable": {"cpu": rng.choice([2, 4, 8]), "memory": "8Gi"},
        }

    fleet = {c["name"]: c for c in (make(i) for i in range(60))}
    specs_ = [
        {"clusterSelector": {"matchLabels": {"tier": "prod"}}, "numberOfClusters": 3},
        {
            "locations": ["east"],
            "numberOfClusters": 4,
            "prioritizers": [{"name": "Capacity"}, {"name": "Steady", "weight": 2}],
        },
        {"clusterSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["dev"]}]}},
        {"numberOfClusters": 4, "spreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}]},
    ]
    placements = [placement_object(s, name=f"q{i}") for i, s in enumerate(specs_)]
    index = P.PlacementIndex(fleet.values(), placements)
    previous = {}
    for _step in range(25):
        i = rng.randrange(0, 70)
        name = f"m{i:03d}"
        if name in fleet and rng.random() < 0.15:
            index.remove_cluster(name)
            del fleet[name]
        else:
            changed = make(i)
            fleet[name] = changed
            index.update_cluster(changed)
        for p in placements:
            key = P.placement_key(p)
            got = index.decide(key, previous.get(key))
            assert got == P.decide(p, fleet.values(), previous.get(key)), key
            previous[key] = got
