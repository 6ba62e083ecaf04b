# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m ansible_collections.tmc.multicluster.plugins.module_utils.daemons controller|syncer [flags]"""

from __future__ import annotations

import ctypes
import sys
import threading
import time

M_ARENA_MAX = -8  # glibc mallopt parameter
MALLOC_ARENAS = 2
TRIM_INTERVAL = 30.0


def _libc():
    """glibc, or None where there is none (the memory helpers then change nothing)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(libc=None) -> bool:
    """Two glibc malloc arenas, as ``MALLOC_ARENA_MAX=2`` would set (before any thread starts).

    By default glibc gives threads that allocate at once arenas of their own, up to eight per
    core; a daemon's watch and worker threads then each keep freed memory (parsed watch events,
    list pages) in an arena of their own, and the resident size grows well beyond what is live.
    False where there is no glibc.
    """
    libc = libc or _libc()
    return bool(libc is not None and hasattr(libc, "mallopt") and libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS))


def trim_free_memory_every(seconds: float, libc=None) -> bool:
    """A thread that hands freed heap memory back to the system (glibc ``malloc_trim``) every
    ``seconds``: parsing watch events and list pages frees far more than the caches keep, and
    glibc would otherwise hold on to it. False where there is no glibc."""
    libc = libc or _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False

    def trim() -> None:
        while True:
            time.sleep(seconds)
            libc.malloc_trim(0)

    threading.Thread(target=trim, name="malloc-trim", daemon=True).start()
    return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("controller", "syncer"):
        sys.stderr.write(__doc__.strip() + "\n")
        return 2
    libc = _libc()
    limit_malloc_arenas(libc)
    trim_free_memory_every(TRIM_INTERVAL, libc)
    if argv[0] == "controller":
        from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import controller as daemon
    else:
        from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import syncer as daemon
    return daemon.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
