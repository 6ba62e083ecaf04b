"""Test-wide set-up: make the collection importable as ansible_collections.tmc.multicluster.

The repository root is the collection root; Ansible and Python find it through
a link at .build/collections/ansible_collections/tmc/multicluster, made here
when missing (the Makefile makes the same link).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"


def _link_collection() -> None:
    link = COLLECTIONS / "ansible_collections" / "tmc" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(REPO, target_is_directory=True)


_link_collection()
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))

# Property tests assert behaviour, never wall-clock limits: on a loaded machine hypothesis's per-example
# deadline and its "generation is slow" health check fail tests whose logic holds. Settings a test gives
# itself still win over the profile.
with contextlib.suppress(ImportError):
    from hypothesis import HealthCheck, settings

    settings.register_profile("tmc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tmc"))
