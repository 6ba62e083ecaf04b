# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watched caches (kopf's watching.py and client-go's reflector do the same).

List, then watch from the list's resourceVersion; re-list on 410 Gone or on a broken stream
(after backoff); keep a cache and call a handler for every change.

A kind the API server stops serving (its CustomResourceDefinition removed, or never installed)
answers 404, which discovery confirms: the reflector forgets the kind's discovery, says so once
and asks again after a backoff of up to ``UNSERVED_RETRY_MAX`` seconds; with ``unserved="empty"``
its cache then holds nothing (every cached object is handed on as DELETED) and counts as filled,
so that its readers see what the API server serves. ``on_served(served)`` hears each change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import store
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons.observability import Metrics, log

UNSERVED_RETRY_MAX = 30.0  # seconds between two asks whether a kind is served again
KEEP, EMPTY = "keep", "empty"  # what a cache does when its kind stops being served


def spec_changed(old: Mapping | None, new: Mapping) -> bool:
    """False for an event that changes only status (such as the ones the daemons write themselves)."""
    if old is None:
        return True
    strip = ("status", "metadata")
    before = {k: v for k, v in old.items() if k not in strip}
    after = {k: v for k, v in new.items() if k not in strip}
    meta_old, meta_new = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        before != after
        or meta_old.get("labels") != meta_new.get("labels")
        or meta_old.get("deletionTimestamp") != meta_new.get("deletionTimestamp")
    )


def _slim(obj: dict) -> dict:
    """The object as the caches keep it: without managedFields, which nothing reads and which are
    often the larger half of an object."""
    (obj.get("metadata") or {}).pop("managedFields", None)
    return obj


def object_key(obj: Mapping) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class Reflector:
    """A watched cache of one kind: ``handler(event, obj, old)`` runs for every change."""

    def __init__(
        self,
        client: kube.Kube,
        api_version: str,
        kind: str,
        handler: Callable,
        stop: threading.Event,
        namespace: str | None = None,
        label_selector: str | None = None,
        resync_period: float = 300.0,
        metrics: Metrics | None = None,
        name: str | None = None,
        indexers: Mapping[str, Callable[[dict], Iterable]] | None = None,
        transform: Callable[[dict], dict] | None = None,
        unserved: str = KEEP,
        on_served: Callable[[bool], None] | None = None,
    ):
        """``transform``: what the cache keeps of each object (a smaller copy); handlers see that copy,
        as ``obj`` and as ``old``, so that they compare like with like.

        ``unserved``: what the cache does when the API server stops serving the kind. ``KEEP`` (the
        default) holds the objects it has and stays unfilled until the kind is back: a restarting API
        server answers 404 for custom kinds for a moment, and a controller must never take that for
        every object deleted. ``EMPTY`` (the syncer's member caches, whose readers only apply) drops
        them, each handed on as DELETED, and counts as filled: the kind holds nothing there.
        ``on_served(served)``: called when the kind starts or stops being served."""
        if unserved not in (KEEP, EMPTY):
            raise ValueError(f"unserved must be {KEEP!r} or {EMPTY!r}, not {unserved!r}")
        self.client, self.api_version, self.kind = client, api_version, kind
        self.transform = transform
        self.handler, self.stop = handler, stop
        self.namespace, self.label_selector = namespace, label_selector
        self.resync_period = resync_period
        self.metrics = metrics
        self.name = name or kind
        # The cache, encoded (see store.py), with secondary indexes. "namespace" is always there,
        # so a namespaced read never scans the whole kind.
        self.indexers = {"namespace": lambda o: [o["metadata"].get("namespace") or ""], **(indexers or {})}
        self.store = store.ObjectStore(self.indexers)
        self.synced = threading.Event()
        self.resource_version = ""
        self.last_contact = time.monotonic()
        self._thread: threading.Thread | None = None
        if metrics is not None:
            metrics.watch_cache(kind.lower(), self)
        self.unserved, self.on_served = unserved, on_served
        self.served: bool | None = None  # None until the first answer

    def start(self) -> Reflector:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        """False once the watch thread has died (it never ends on its own before stop)."""
        return self._thread is None or self._thread.is_alive() or self.stop.is_set()

    def __len__(self) -> int:
        return len(self.store)

    def items(self) -> list[dict]:
        """Every cached object (copies: changing one changes nothing cached)."""
        return self.store.items()

    def iter_items(self) -> Iterator[dict]:
        """``items``, decoded one at a time as the caller goes."""
        return self.store.iter_items()

    def get(self, namespace: str | None, name: str) -> dict | None:
        return self.store.get((namespace or "", name))

    def by_index(self, index: str, value) -> list[dict]:
        """The cached objects whose ``index`` function yields ``value``."""
        return self.store.by_index(index, value)

    def iter_by_index(self, index: str, value) -> Iterator[dict]:
        return self.store.iter_by_index(index, value)

    def keys_by_index(self, index: str, value) -> list[tuple[str, str]]:
        """The (namespace, name) keys of the objects ``by_index`` would return, decoding none."""
        return self.store.keys_by_index(index, value)

    def index_values(self, index: str) -> list:
        return self.store.index_values(index)

    def _kept(self, obj: dict) -> dict:
        kept = _slim(obj)
        return self.transform(kept) if self.transform is not None else kept

    def _entry(self, obj: dict) -> tuple[tuple[str, str], bytes]:
        """A listed object as the store takes it, encoded page by page as the list arrives."""
        kept = self._kept(obj)
        return object_key(kept), self.store.encode(kept)

    def _emit(self, event: str, obj: dict, old: dict | None) -> None:
        try:
            self.handler(event, obj, old)
        except Exception as err:  # noqa: BLE001 - a handler bug must not stop the watch
            log(logging.ERROR, "event handler failed", resource=self.name, error=str(err))

    def _replace(self, entries: list) -> None:
        for event, raw, old in self.store.replace(entries):
            obj = self.store.decode(raw)
            self._emit(event, obj, obj if event == "DELETED" else None if old is None else self.store.decode(old))

    def _relist(self) -> None:
        entries, version = self.client.list_with_version(
            self.api_version, self.kind, self.namespace, self.label_selector, keep=self._entry
        )
        self._replace(entries)
        self.resource_version = version
        self.last_contact = time.monotonic()
        self.synced.set()
        self._served(True)

    def _served(self, served: bool) -> None:
        """Record whether the kind is served; a change is logged once and handed to ``on_served``
        (the first list of a served kind is no news)."""
        was, self.served = self.served, served
        if was is served or (was is None and served):
            return
        if served:
            log(logging.INFO, "kind served again", resource=self.name, api_version=self.api_version, kind=self.kind)
        else:
            log(
                logging.WARNING,
                "kind not served by the API server; asking again with backoff",
                resource=self.name,
                api_version=self.api_version,
                kind=self.kind,
                retry_max_s=UNSERVED_RETRY_MAX,
            )
        if self.on_served is not None:
            try:
                self.on_served(served)
            except Exception as err:  # noqa: BLE001 - a handler bug must not stop the watch
                log(logging.ERROR, "served handler failed", resource=self.name, error=str(err))

    def _not_served(self, err: kube.KubeError) -> bool:
        """Whether a 404 means that the API server does not serve the kind (discovery, asked afresh,
        agrees), rather than a moment's answer of a restarting one."""
        if err.status != 404:
            return False
        self.client.forget(self.api_version)
        try:
            self.client.resource(self.api_version, self.kind)
        except kube.KubeError as again:
            return again.status == 404
        return False

    def _on_unserved(self) -> None:
        """The kind is not served: said once (``_served``); an emptying cache holds nothing and is filled."""
        if self.unserved == EMPTY:
            self._replace([])
            self.resource_version = ""
            self.synced.set()
        self._served(False)

    def _restart(self, reason: str) -> None:
        if self.metrics is not None and self.metrics.enabled:
            self.metrics.watch_restarts.labels(self.kind.lower(), reason).inc()  # not per namespace: bounded

    def _run(self) -> None:
        backoff = 0.2
        unserved_backoff = 0.2  # a restarting API server's moment of 404s costs little; a missing CRD 30 s
        next_resync = time.monotonic() + self.resync_period
        need_list = True
        while not self.stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                    backoff, unserved_backoff = 0.2, 0.2
                timeout = int(max(5, min(60, next_resync - time.monotonic())))
                for event, obj in self.client.watch(
                    self.api_version, self.kind, self.namespace, self.resource_version, self.label_selector, timeout
                ):
                    self.last_contact = time.monotonic()
                    version = obj.get("metadata", {}).get("resourceVersion")
                    if version:
                        self.resource_version = version
                    if event == "BOOKMARK":
                        continue
                    kept = self._kept(obj)
                    key = object_key(kept)
                    old = self.store.delete(key) if event == "DELETED" else self.store.put(key, kept)
                    self._emit(event, kept, old)
                    if self.stop.is_set():
                        return
                self.last_contact = time.monotonic()
                if time.monotonic() >= next_resync:
                    next_resync = time.monotonic() + self.resync_period
                    for obj in self.iter_items():  # one decoded at a time: a resync of 10,000 holds one
                        self._emit("SYNC", obj, obj)
            except kube.KubeError as err:
                need_list = True
                if self._not_served(err):
                    self._restart("unserved")
                    self._on_unserved()
                    self.stop.wait(unserved_backoff)  # no log line: said once, when it stopped
                    unserved_backoff = min(unserved_backoff * 2, UNSERVED_RETRY_MAX)
                    continue
                self._restart("gone" if err.status == 410 else "error")
                if err.status != 410:
                    log(
                        logging.WARNING,
                        "watch failed; re-listing after backoff",
                        resource=self.name,
                        error=str(err),
                        backoff_s=round(backoff, 2),
                    )
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)


class _AllSet:
    """The ``synced`` of a ReflectorSet: set when every member's is."""

    def __init__(self, events: list[threading.Event]):
        self.events = events

    def is_set(self) -> bool:
        return all(e.is_set() for e in self.events)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for event in self.events:
            if not event.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
                return False
        return True


class ReflectorSet:
    """One kind watched in several namespaces (one Reflector each), read as one cache.

    With ``--namespaces`` the controller watches only those namespaces, so that namespaced
    RBAC is enough and other namespaces' churn costs it nothing.
    """

    def __init__(self, reflectors: list[Reflector]):
        self.members = {r.namespace or "": r for r in reflectors}
        self.indexers = reflectors[0].indexers
        self.synced = _AllSet([r.synced for r in reflectors])

    def start(self) -> ReflectorSet:
        for reflector in self.members.values():
            reflector.start()
        return self

    @property
    def alive(self) -> bool:
        return all(r.alive for r in self.members.values())

    def items(self) -> list[dict]:
        return [o for r in self.members.values() for o in r.items()]

    def iter_items(self) -> Iterator[dict]:
        return (o for r in self.members.values() for o in r.iter_items())

    def iter_by_index(self, index: str, value) -> Iterator[dict]:
        if index == "namespace":
            reflector = self.members.get(value)
            return iter(()) if reflector is None else reflector.iter_items()
        return (o for r in self.members.values() for o in r.iter_by_index(index, value))

    def get(self, namespace: str | None, name: str) -> dict | None:
        reflector = self.members.get(namespace or "")
        return None if reflector is None else reflector.get(namespace, name)

    def by_index(self, index: str, value) -> list[dict]:
        if index == "namespace":
            reflector = self.members.get(value)
            return [] if reflector is None else reflector.items()
        return [o for r in self.members.values() for o in r.by_index(index, value)]

    def keys_by_index(self, index: str, value) -> list[tuple[str, str]]:
        if index == "namespace":
            reflector = self.members.get(value)
            return [] if reflector is None else reflector.keys_by_index(index, value)
        return [k for r in self.members.values() for k in r.keys_by_index(index, value)]

    def index_values(self, index: str) -> list:
        return list({v for r in self.members.values() for v in r.index_values(index)})
