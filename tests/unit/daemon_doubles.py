"""What the daemon unit tests build daemons on: a client that fails the test when used (no API is
faked) and watch caches that never watch."""

from __future__ import annotations

import threading

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller, runtime


class NoHub:
    """A client that must not be used: every attribute read fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the hub was called ({name})")


def cache(api_version: str, kind: str, objects=(), synced: bool = True) -> runtime.Reflector:
    """A cache (never started: no watch) holding ``objects``, with the controller's indexes."""
    reflector = runtime.Reflector(
        NoHub(),
        api_version,
        kind,
        handler=lambda *_: None,
        stop=threading.Event(),
        indexers=controller.INDEXERS.get((api_version, kind)),
    )
    for obj in objects:
        reflector.store.put(runtime.object_key(obj), obj)
    if synced:
        reflector.synced.set()
    return reflector
