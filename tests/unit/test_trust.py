"""What the controller believes (daemons.trust): the SyncWork indexes hold only SyncWorks that belong
where they are, and the tenant policy is read again from the hub once its copy is older than its TTL."""

from __future__ import annotations

import copy

from ansible_collections.tmc.multicluster.plugins.module_utils import api, render
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import trust

from .test_render_policy import work

SOURCE_LABEL = f"label:{render.LABEL_SOURCE_NAMESPACE}"


def indexed(obj):
    indexers = trust.INDEXERS[(api.API_VERSION, api.KIND_SYNCWORK)]
    return {name: function(obj) for name, function in indexers.items()}


def test_a_syncwork_the_controller_wrote_is_indexed_under_its_source():
    genuine = work()
    found = indexed(genuine)
    assert found[SOURCE_LABEL] == [genuine["metadata"]["labels"][render.LABEL_SOURCE_NAMESPACE]]
    assert found[trust.SOURCE_INDEX] and found[trust.SOURCE_INDEX][0][0] == found[SOURCE_LABEL][0]


def test_a_syncwork_outside_its_cluster_namespace_is_in_no_index():
    moved = copy.deepcopy(work())
    moved["metadata"]["namespace"] = "team-b"
    assert indexed(moved) == {SOURCE_LABEL: [], trust.SOURCE_INDEX: []}


def test_a_relabelled_syncwork_is_in_no_index():
    relabelled = copy.deepcopy(work())
    relabelled["metadata"]["labels"][render.LABEL_SOURCE_NAMESPACE] = "team-b"
    assert indexed(relabelled) == {SOURCE_LABEL: [], trust.SOURCE_INDEX: []}


class Hub:
    """Counts the reads of the policy ConfigMap and answers with the allow-list it is given."""

    def __init__(self, allowed: str):
        self.allowed, self.reads = allowed, 0

    def get(self, api_version, kind, name, namespace=None):
        assert (api_version, kind, name, namespace) == ("v1", "ConfigMap", render.POLICY_CONFIGMAP, "tmc-system")
        self.reads += 1
        return {"data": {render.ALLOWED_KINDS_KEY: self.allowed}}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_policy_is_read_once_per_ttl_and_a_change_is_seen_after_it():
    hub, clock = Hub("ConfigMap"), Clock()
    cache = trust.TenantPolicyCache(hub, ttl=10.0, clock=clock)
    assert cache.changed() is None  # the first read is no change
    assert cache.current().allows("", "ConfigMap") and hub.reads == 1
    hub.allowed = "ConfigMap,apps/Deployment"
    clock.now += 9.0
    assert cache.changed() is None and hub.reads == 1  # within the TTL: the copy, no request
    clock.now += 1.0
    changed = cache.changed()
    assert changed is not None and changed.allows("apps", "Deployment") and hub.reads == 2
    clock.now += 10.0
    assert cache.changed() is None and hub.reads == 3  # read again, the same policy
