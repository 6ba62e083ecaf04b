# Copyright: (c) 2026, tmc.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hub as the controller's engine reads it: from the watch caches (see CachedHub)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Union

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube, render
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import workqueue
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.reflector import Reflector, ReflectorSet
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.trust import SOURCE_INDEX

Cache = Union[Reflector, ReflectorSet]  # noqa: UP007 - ansible-test's pylint


class CachedHub:
    """The hub as the engine reads it: from the watch caches, writes going to the client.

    A kind this controller does not watch is read from the hub; a kind it watches is read from its
    cache only, once that cache is filled (``workqueue.CacheNotSynced`` before: a restarted controller
    at 10,000 workloads that listed a kind from the hub in its place planned all of them in one pass
    and held 850 MB)."""

    def __init__(self, client: kube.Kube, reflectors: Mapping[tuple[str, str], Cache]):
        self._client = client
        self._reflectors = reflectors

    def __getattr__(self, name):
        return getattr(self._client, name)

    def synced_reflector(self, api_version: str, kind: str) -> Cache | None:
        """The cache of a kind, once filled; None for a kind not watched (``workqueue.CacheNotSynced`` before)."""
        found = self._reflectors.get((api_version, kind))
        return None if found is None else workqueue.filled(found, kind)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict]:
        reflector = self.synced_reflector(api_version, kind)
        if reflector is None or field_selector:
            return self._client.list(api_version, kind, namespace, label_selector, field_selector)
        wanted = _parse_equality_selector(label_selector)
        indexed = [k for k in wanted if f"label:{k}" in reflector.indexers]
        if namespace is not None:
            candidates = reflector.iter_by_index("namespace", namespace)
        elif indexed:
            candidates = reflector.iter_by_index(f"label:{indexed[0]}", wanted[indexed[0]])
        else:
            candidates = reflector.iter_items()
        return [o for o in candidates if _labels_match(o, wanted)]  # decoded one at a time, the matches kept

    def works_of(self, source_namespace: str, source: tuple) -> list[dict]:
        """The SyncWorks of one source, from the index (no scan)."""
        reflector = self.synced_reflector(api.API_VERSION, api.KIND_SYNCWORK)
        return reflector.by_index(SOURCE_INDEX, (render.label_value(source_namespace), *source))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
        reflector = self.synced_reflector(api_version, kind)
        if reflector is None:
            return self._client.get(api_version, kind, name, namespace)
        return reflector.get(namespace, name)


def _labels_match(obj: Mapping, wanted: Mapping) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def _parse_equality_selector(text: str | None) -> dict[str, str]:
    out = {}
    for part in (text or "").split(","):
        if part.strip():
            key, _sep, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out
