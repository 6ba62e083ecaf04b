"""The daemons' encoded watch cache (daemons/store.py) behaves like a plain dict with indexes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import store

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
names = st.sampled_from(["a", "b", "c", "d"])
objects = st.builds(
    lambda ns, name, team, data: {
        "metadata": {"namespace": ns, "name": name, **({"labels": {"team": team}} if team else {})},
        "data": data,
    },
    st.sampled_from(["n1", "n2"]),
    names,
    st.sampled_from([None, "red", "blue"]),
    json_values,
)
# put / delete / re-list, as a watch and its re-lists drive the cache
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), objects),
        st.tuples(st.just("delete"), st.tuples(st.sampled_from(["n1", "n2"]), names)),
        st.tuples(st.just("replace"), st.lists(objects, max_size=5)),
    ),
    max_size=25,
)
INDEXERS = {
    "namespace": lambda o: [o["metadata"]["namespace"]],
    "team": lambda o: [t for t in [(o["metadata"].get("labels") or {}).get("team")] if t],
}


def _key(obj):
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


def _canonical(objs):
    return sorted(json.dumps(o, sort_keys=True) for o in objs)


@given(operations)
def test_reads_and_indexes_match_a_plain_dict_after_any_sequence_of_changes(ops):
    kept = store.ObjectStore(INDEXERS)
    model: dict = {}
    for op, arg in ops:
        if op == "put":
            old = kept.put(_key(arg), arg)
            assert old == model.get(_key(arg))
            model[_key(arg)] = arg
        elif op == "delete":
            assert kept.delete(arg) == model.pop(arg, None)
        else:
            fresh = {_key(o): o for o in arg}
            changes = kept.replace((k, kept.encode(o)) for k, o in fresh.items())
            seen = {(event, _key(kept.decode(raw))) for event, raw, _old in changes}
            expected = {("ADDED", k) for k in fresh if k not in model}
            expected |= {("MODIFIED", k) for k in fresh if k in model and model[k] != fresh[k]}
            expected |= {("DELETED", k) for k in model if k not in fresh}
            assert seen == expected
            model = fresh
    assert len(kept) == len(model)
    assert _canonical(kept.items()) == _canonical(model.values())
    assert _canonical(kept.iter_items()) == _canonical(model.values())
    for key, obj in model.items():
        assert kept.get(key) == obj
    for name, function in INDEXERS.items():
        values = {v for o in model.values() for v in function(o)} | {"n1", "red", "nowhere"}
        for value in values:
            expected = _canonical(o for o in model.values() if value in function(o))
            assert _canonical(kept.by_index(name, value)) == expected
            assert _canonical(kept.iter_by_index(name, value)) == expected
            keys = sorted(k for k, o in model.items() if value in function(o))
            assert sorted(kept.keys_by_index(name, value)) == keys
        present = {v for o in model.values() for v in function(o)}
        assert sorted(kept.index_values(name), key=repr) == sorted(present, key=repr)


@given(objects)
def test_a_read_is_a_copy_that_can_be_changed_without_changing_the_cache(obj):
    kept = store.ObjectStore(INDEXERS)
    kept.put(_key(obj), obj)
    first = kept.get(_key(obj))
    first["metadata"]["name"] = "changed"
    first["data"] = "changed"
    obj["data"] = "changed too"  # nor does changing what was put
    assert kept.get(_key(obj))["metadata"]["name"] == _key(obj)[1]
    assert kept.get(_key(obj))["data"] != "changed too"


def test_a_kept_object_is_much_smaller_than_its_json():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app-00001", "namespace": "shop", "labels": {"app": "app-00001"}},
        "status": {
            "conditions": [
                {"type": t, "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment is fine."}
                for t in ("Available", "Progressing")
            ]
        },
    }
    text = json.dumps(deployment)
    assert len(store.encode(deployment)) < len(text) / 2
    assert store.decode(store.encode(deployment)) == deployment


def test_iterating_decodes_as_it_goes_and_sees_the_objects_kept_when_it_began():
    kept = store.ObjectStore(INDEXERS)
    for name in "abc":
        kept.put(("n1", name), {"metadata": {"namespace": "n1", "name": name}})
    walk = kept.iter_items()
    first = next(walk)
    kept.delete(("n1", "c"))
    kept.put(("n1", "d"), {"metadata": {"namespace": "n1", "name": "d"}})
    rest = list(walk)
    assert sorted(o["metadata"]["name"] for o in [first, *rest]) == ["a", "b", "c"]


def test_objects_alike_compress_against_the_first_one_kept():
    kept = store.ObjectStore()
    for index in range(3):
        obj = {
            "metadata": {"namespace": "shop", "name": f"app-{index:05}", "labels": {"app": f"app-{index:05}"}},
            "status": {"conditions": [{"type": "Available", "status": "True", "message": "Deployment is fine."}]},
        }
        kept.put(("shop", obj["metadata"]["name"]), obj)
    raw = kept._objects[("shop", "app-00002")]
    assert len(raw) < len(store.encode(obj)) / 2  # against the preset dictionary, not on its own
    assert kept.get(("shop", "app-00002")) == obj


def _syncwork(index: int, with_status: bool) -> dict:
    work = {
        "metadata": {"namespace": "tmc-cluster-east", "name": f"deployment.shop.app-{index:05}"},
        "spec": {"cluster": "east", "source": {"kind": "Deployment", "name": f"app-{index:05}"}},
    }
    if with_status:
        work["status"] = {
            "applied": True,
            "downstreamStatus": {
                "conditions": [
                    {"type": "Available", "status": "True", "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ]
            },
        }
    return work


def test_objects_that_grow_a_status_compress_against_one_that_has_it_and_old_ones_still_decode():
    kept = store.ObjectStore()
    kept.put(("tmc-cluster-east", "first"), _syncwork(0, with_status=False))  # first seen without a status
    for index in range(1, 20):
        kept.put(("tmc-cluster-east", f"w{index}"), _syncwork(index, with_status=True))
    against_first = store.encode(_syncwork(19, True), store._text(_syncwork(0, with_status=False)))
    assert len(kept._objects[("tmc-cluster-east", "w19")]) < len(against_first) * 0.75
    assert kept.get(("tmc-cluster-east", "first")) == _syncwork(0, with_status=False)
    assert kept.get(("tmc-cluster-east", "w19")) == _syncwork(19, with_status=True)


def test_a_relist_after_the_dictionary_changed_reports_only_real_changes():
    kept = store.ObjectStore()
    small = _syncwork(0, with_status=False)
    kept.put(("tmc-cluster-east", "a"), small)  # encoded against itself
    kept.put(("tmc-cluster-east", "b"), _syncwork(1, with_status=True))  # longer: the new dictionary
    listed = [("tmc-cluster-east", "a"), ("tmc-cluster-east", "b")]
    changes = kept.replace((key, kept.encode(kept.get(key))) for key in listed)
    assert changes == []
    assert kept.get(("tmc-cluster-east", "a")) == small
