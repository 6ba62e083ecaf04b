# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical form of manifests (hashing, equality) and the small value helpers render shares."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api

HASH_LEN = 10


def digest(text: str, length: int = HASH_LEN) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def plain(value: Any) -> Any:
    """A deep copy made of dicts and lists only (mappings and tuples become dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return copy.deepcopy(value)


def dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _canonical(value: Any, path: str = "") -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise api.SpecError(path or "manifest", f"{value!r} is not a JSON number")
        # 2.0 and 2 are the same JSON number; a round trip through an API server may turn one into the other.
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise api.SpecError(path or "manifest", f"a value of type {type(value).__name__} cannot be part of a manifest")


def canonical_json(manifest: Any) -> str:
    """The manifest as compact JSON with sorted keys; integral floats written as integers."""
    return json.dumps(_canonical(manifest), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def manifest_hash(manifest: Any) -> str:
    """A stable hex SHA-256 of the manifest's canonical JSON (key order and 2.0 vs 2 do not matter)."""
    return hashlib.sha256(canonical_json(manifest).encode("utf-8")).hexdigest()


def manifest_equal(a: Any, b: Any) -> bool:
    """True when both manifests have the same canonical JSON."""
    return canonical_json(a) == canonical_json(b)
