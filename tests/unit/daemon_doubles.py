"""What the daemon unit tests build daemons on: a client that fails the test when used (no API is
faked) and watch caches that never watch."""

from __future__ import annotations

import threading

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller, observability, reflector


class NoHub:
    """A client that must not be used: every attribute read fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"the hub was called ({name})")


def cache(api_version: str, kind: str, objects=(), synced: bool = True) -> reflector.Reflector:
    """A cache (never started: no watch) holding ``objects``, with the controller's indexes."""
    cached = reflector.Reflector(
        NoHub(),
        api_version,
        kind,
        handler=lambda *_: None,
        stop=threading.Event(),
        indexers=controller.INDEXERS.get((api_version, kind)),
    )
    for obj in objects:
        cached.store.put(reflector.object_key(obj), obj)
    if synced:
        cached.synced.set()
    return cached


def new_controller(reflectors: dict | None = None, *argv: str, hub=None, elector=None) -> controller.Controller:
    """A Controller built as ``main`` builds one, from flags, on ``reflectors`` (caches that never
    watch; none by default) and a hub that must not be called; by default no leader election (it
    always leads)."""
    args = controller.parser().parse_args([f"--leader-elect={elector is not None}", *argv])
    return controller.Controller(
        hub or NoHub(),
        args,
        api.FeatureGates.from_overrides(),
        observability.Metrics(False),
        reflectors=reflectors or {},
        elector=elector,
    )


class Leadership:
    """Stands in for the elector's verdict (the election itself runs against a real hub in
    tests/integration/test_leader_election.py)."""

    def __init__(self, leading: bool = False) -> None:
        self.now = leading

    def leading(self) -> bool:
        return self.now
