"""The daemons' entry point keeps glibc's heap small: two arenas, freed memory handed back."""

from __future__ import annotations

import platform
import threading

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import __main__ as entry

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")


@glibc
def test_glibc_accepts_the_arena_limit():
    assert entry.limit_malloc_arenas() is True  # mallopt returns 0 for a parameter it refuses


@glibc
def test_the_trim_thread_runs_beside_the_daemon():
    def trimmers():
        return sum(1 for t in threading.enumerate() if t.name == "malloc-trim" and t.daemon)

    before = trimmers()
    assert entry.trim_free_memory_every(3600) is True
    assert trimmers() == before + 1
