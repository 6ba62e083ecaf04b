# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Pointer (RFC 6901), JSON Patch (RFC 6902) and JSON merge patch (RFC 7386), on copies.

JSON Patch and JSON Pointer come from the ``jsonpatch`` and ``jsonpointer`` libraries.
This module adds what an override needs on top of them: errors that name the operation
at fault (``spec.overrides[1].jsonPatch[0]``), and the three places where the libraries
are laxer than the RFCs or obscure: an array index with a leading zero ("01") is refused,
``test`` compares JSON values (``true`` is not ``1``), "-" is only the target of an add, a
step into a scalar and a missing ``from`` are named, and the whole manifest cannot be removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.render import canonical

try:
    import jsonpatch
    import jsonpointer

    HAS_JSONPATCH = True
    JSONPATCH_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only without the libraries
    HAS_JSONPATCH = False
    JSONPATCH_IMPORT_ERROR = err

PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")
_NEEDS_VALUE = ("add", "replace", "test")
_NEEDS_FROM = ("move", "copy")


class _PatchError(Exception):
    pass


def _require_library() -> None:
    if not HAS_JSONPATCH:
        raise api.TMCError(
            f"JSON patch overrides need the Python libraries jsonpatch and jsonpointer: {JSONPATCH_IMPORT_ERROR}"
        )


def parse_pointer(pointer: str) -> list[str]:
    """Split a JSON pointer into reference tokens, undoing ~1 (/) and ~0 (~)."""
    _require_library()
    if not isinstance(pointer, str):
        raise ValueError(f"JSON pointer {pointer!r} must be a string")
    if pointer and not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    try:
        return list(jsonpointer.JsonPointer(pointer).parts)
    except jsonpointer.JsonPointerException:
        raise ValueError(f"JSON pointer {pointer!r}: '~' must be followed by 0 or 1") from None


def format_pointer(tokens: Iterable[str]) -> str:
    """The JSON pointer of the tokens, escaping ~ as ~0 and / as ~1."""
    _require_library()
    return jsonpointer.JsonPointer.from_parts(list(tokens)).path


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: true is not 1, 1 equals 1.0, objects compare without order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _pointer(op: Mapping, key: str) -> tuple[str, list[str]]:
    if key not in op:
        raise _PatchError(f"{op.get('op')!r} needs {key!r}")
    try:
        return op[key], parse_pointer(op[key])
    except ValueError as exc:
        raise _PatchError(f"{key}: {exc}") from None


def _check_path(doc: Any, tokens: list[str], pointer: str, end_allowed: bool) -> None:
    """Refuse what jsonpointer accepts or reports obscurely: "01" as an array index, "-" outside
    of add, and a step into a scalar."""
    node = doc
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        if isinstance(node, Mapping):
            node = node.get(token)
        elif isinstance(node, Sequence) and not isinstance(node, str):
            if token == "-":
                if last and end_allowed:
                    return
                raise _PatchError(f"path {pointer!r}: '-' (the end of the array) can only be the target of add")
            if not (token == "0" or (token.isdigit() and token.isascii() and token[0] != "0")):
                raise _PatchError(f"path {pointer!r}: {token!r} is not an array index")
            index = int(token)
            node = node[index] if index < len(node) else None
        elif node is not None:
            where = jsonpointer.JsonPointer.from_parts(tokens[:depth]).path
            raise _PatchError(f"path {pointer!r}: {where!r} is not an object or array")
        else:
            return


def _check_op(doc: Any, op: Any) -> None:
    if not isinstance(op, Mapping):
        raise _PatchError("an operation must be an object with 'op' and 'path'")
    name = op.get("op")
    if name not in PATCH_OPS:
        raise _PatchError(f"op {name!r} is not one of {', '.join(PATCH_OPS)}")
    pointer, tokens = _pointer(op, "path")
    if name in _NEEDS_VALUE and "value" not in op:
        raise _PatchError(f"{name!r} needs 'value'")
    if name == "remove" and not tokens:
        raise _PatchError("path '': the whole manifest cannot be removed")
    _check_path(doc, tokens, pointer, end_allowed=name in ("add", "move", "copy"))
    if name in _NEEDS_FROM:
        from_pointer, from_tokens = _pointer(op, "from")
        _check_path(doc, from_tokens, from_pointer, end_allowed=False)
        try:
            jsonpointer.resolve_pointer(doc, from_pointer)
        except jsonpointer.JsonPointerException:
            raise _PatchError(f"from {from_pointer!r} does not exist") from None


def _test(doc: Any, op: Mapping) -> None:
    # jsonpatch's test compares with Python's ==, for which True == 1.
    try:
        actual = jsonpointer.resolve_pointer(doc, op["path"])
    except jsonpointer.JsonPointerException as exc:
        raise _PatchError(f"path {op['path']!r}: {exc}") from None
    if not json_equal(actual, op["value"]):
        raise _PatchError(
            f"test failed: {op['path']!r} is {json.dumps(actual, default=str)[:200]}, "
            f"not {json.dumps(op['value'], default=str)[:200]}"
        )


def _apply_op(doc: Any, op: Any) -> Any:
    _check_op(doc, op)
    if op["op"] == "test":
        _test(doc, op)
        return doc
    try:
        return jsonpatch.JsonPatch([canonical.plain(dict(op))]).apply(doc, in_place=True)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        # e.g. "can't remove a non-existent object 'x'", "can't insert outside of list"
        raise _PatchError(f"path {op['path']!r}: {exc}") from None
    except (KeyError, IndexError, TypeError) as exc:  # the library lets a few lookups escape
        raise _PatchError(f"path {op['path']!r} does not exist ({exc})") from None


def apply_json_patch(doc: Any, operations: Any, field: str = "jsonPatch") -> Any:
    """Apply RFC 6902 operations to a copy of doc and return it.

    Errors are api.SpecError naming ``<field>[<index>]`` of the operation at fault; the
    input is never changed, even when an operation in the middle fails.
    """
    if not isinstance(operations, (list, tuple)):
        raise api.SpecError(field, "must be a list of operations")
    _require_library()
    result = canonical.plain(doc)
    for index, op in enumerate(operations):
        try:
            result = _apply_op(result, op)
        except _PatchError as exc:
            raise api.SpecError(f"{field}[{index}]", str(exc)) from None
    return result


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, on copies: null removes a key, objects merge, the rest replaces."""
    if not isinstance(patch, Mapping):
        return canonical.plain(patch)
    result = canonical.plain(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
