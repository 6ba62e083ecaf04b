# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who listens on a TCP port: the ``daemon_process`` module's check that a port is free before it
starts a process, and that the process answering its readiness URL is the one it started. Private.

Standard library only. Where ``/proc`` tells (Linux), the owner of a listening socket is found by
its inode (``/proc/net/tcp*``, then ``/proc/<pid>/fd``); elsewhere a port is only known to be taken
or free.
"""

from __future__ import annotations

import contextlib
import os
import socket
from urllib.parse import urlsplit

LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp


def url_port(url: str | None) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, the port defaulted by scheme."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def in_use(port: int, host: str = "0.0.0.0") -> bool:  # noqa: S104 - a bind test, not a server
    """Whether something listens on ``port``: from /proc where there is one (any address), else a bind
    test as the daemons' own HTTP servers bind (SO_REUSEADDR on: a connection in TIME_WAIT does not count)."""
    if os.path.exists("/proc/net/tcp"):
        return bool(_listening_inodes(port))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def listeners(port: int) -> list[int] | None:
    """The pids holding a socket that listens on ``port``; None where /proc cannot tell."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                        found.append(int(entry))
                        break
    return sorted(found)


def session_of(pid: int) -> int | None:
    """The session id of ``pid`` (field 6 of /proc/<pid>/stat), None when unknown."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def describe(pid: int) -> str:
    """``pid N (its command line)`` for messages."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        argv = []
    text = " ".join(argv)
    return f"pid {pid} ({text[:120]})" if text else f"pid {pid}"


def owner_text(port: int) -> str:
    pids = listeners(port) or []
    return ", ".join(describe(pid) for pid in pids) if pids else "another process"


def served_by_session(port: int, session: int) -> bool | None:
    """Whether a process of ``session`` (a supervised process and what it started) listens on ``port``;
    None where /proc cannot tell."""
    pids = listeners(port)
    if pids is None:
        return None
    return any(session_of(pid) == session for pid in pids)
