# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup files: one JSON document per backup, mode 0600 in a 0700 directory, newest by name.

A file is written to a temporary name created 0600 (never readable by others, not even for a
moment) and renamed into place, so a reader never sees half a backup. Retention keeps the newest
``keep`` files and deletes the older ones, only files whose names this module gives.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ansible_collections.tmc.multicluster.plugins.module_utils.recovery.document import BackupError, check

PREFIX = "tmc-hub-backup-"
NAME = re.compile(r"^tmc-hub-backup-\d{8}T\d{6}\.\d{6}Z\.json$")


def file_name(taken_at_compact: str) -> str:
    return f"{PREFIX}{taken_at_compact}.json"


def backups(directory: str | os.PathLike) -> list[Path]:
    """The backup files in a directory, oldest first."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if NAME.match(p.name))


def latest(directory: str | os.PathLike) -> Path | None:
    found = backups(directory)
    return found[-1] if found else None


def write(directory: str | os.PathLike, name: str, doc: Mapping) -> Path:
    path = Path(directory)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = path / name
    tmp = path / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask or a leftover file said
        with os.fdopen(fd, "w") as out:
            json.dump(doc, out, separators=(",", ":"), sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)
    return target


def read(path: str | os.PathLike) -> dict:
    try:
        with open(path) as source:
            doc = json.load(source)
    except FileNotFoundError as err:
        raise BackupError(f"no backup at {path}") from err
    except ValueError as err:
        raise BackupError(f"{path} is not a readable backup (bad JSON: {err})") from err
    check(doc)
    return doc


def resolve(path: str | os.PathLike) -> Path:
    """A backup file, or the newest in a directory."""
    given = Path(path)
    if given.is_dir():
        found = latest(given)
        if found is None:
            raise BackupError(f"no backup file ({PREFIX}*.json) in {given}")
        return found
    return given


def prune(directory: str | os.PathLike, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` backups; the names of those deleted."""
    if keep < 1:
        raise BackupError("retention: keep at least 1 backup")
    found = backups(directory)
    removed = found[:-keep]
    for old in removed:
        old.unlink(missing_ok=True)
    return [p.name for p in removed]
