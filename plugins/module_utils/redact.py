# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hide the values of Secrets in what a module returns. Private, pure.

Ansible's ``no_log`` masks option values, not the objects a module reads back
from the API server, and it masks substrings (a one-letter value would blank
every such letter of the output). So the modules replace the values of a
Secret's ``data`` and ``stringData`` structurally, key by key, before they
return an object, a diff or their own arguments. Key names stay visible.

Recursively: a Secret anywhere inside another object (a ``*List``'s items, a
SyncWork's ``spec.manifest``, a template or a custom resource's field that embeds
one) is hidden the same way, and so is a last-applied annotation that records one.

In a diff both sides are compared first, so a changed value still shows as
changed: an unchanged key reads ``HIDDEN_UNCHANGED`` on both sides, a changed,
added or removed one ``HIDDEN_BEFORE`` / ``HIDDEN_AFTER``. The markers carry
no hash or length of the value.

``kubectl.kubernetes.io/last-applied-configuration`` of a Secret holds the
whole Secret as JSON; its values are hidden the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

HIDDEN = "VALUE_HIDDEN"
HIDDEN_UNCHANGED = "VALUE_HIDDEN (unchanged)"
HIDDEN_BEFORE = "VALUE_HIDDEN (old value)"
HIDDEN_AFTER = "VALUE_HIDDEN (new value)"

SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_secret(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("kind") == "Secret"


def _hide_values(values: Any, marker: str = HIDDEN) -> Any:
    if isinstance(values, Mapping):
        return {key: marker for key in values}
    return marker if values not in (None, "", {}) else values


def _hide_last_applied(meta: Mapping) -> dict:
    annotations = meta.get("annotations")
    if not isinstance(annotations, Mapping) or LAST_APPLIED not in annotations:
        return dict(meta)
    try:
        recorded = json.loads(annotations[LAST_APPLIED])
    except (TypeError, ValueError):
        return {**meta, "annotations": {**annotations, LAST_APPLIED: HIDDEN}}
    hidden = redact_object(recorded)
    if hidden == recorded:
        return dict(meta)  # nothing secret recorded in it
    return {
        **meta,
        "annotations": {**annotations, LAST_APPLIED: json.dumps(hidden, separators=(",", ":"), sort_keys=True)},
    }


def redact_object(obj: Any) -> Any:
    """A copy of ``obj`` whose Secret values are hidden, wherever a Secret is inside it.

    A Secret is a mapping with ``kind: Secret``; its ``data`` and ``stringData`` values
    become ``HIDDEN`` (key names stay). Anything without a Secret comes back equal.
    """
    if isinstance(obj, list):
        return [redact_object(item) for item in obj]
    if not isinstance(obj, Mapping):
        return obj
    hidden = {key: redact_object(value) for key, value in obj.items()}
    if is_secret(obj):
        for name in SECRET_FIELDS:
            if name in hidden:
                hidden[name] = _hide_values(obj[name])
    if isinstance(hidden.get("metadata"), Mapping):
        hidden["metadata"] = _hide_last_applied(hidden["metadata"])
    return hidden


def _compare_values(before: Any, after: Any) -> tuple[Any, Any]:
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        if before == after:
            return _hide_values(before, HIDDEN_UNCHANGED), _hide_values(after, HIDDEN_UNCHANGED)
        return _hide_values(before, HIDDEN_BEFORE), _hide_values(after, HIDDEN_AFTER)
    hidden_before = {
        key: HIDDEN_UNCHANGED if key in after and after[key] == value else HIDDEN_BEFORE
        for key, value in before.items()
    }
    hidden_after = {
        key: HIDDEN_UNCHANGED if key in before and before[key] == value else HIDDEN_AFTER
        for key, value in after.items()
    }
    return hidden_before, hidden_after


def redact_diff(before: Any, after: Any) -> tuple[Any, Any]:
    """``before`` and ``after`` of one object with Secret values hidden, changes still visible.

    A side that is not a Secret (``{}`` or None for an object that does not
    exist yet, or no more) counts as a Secret without values: every value of
    the other side is then new (or old).
    """
    hidden_before, hidden_after = redact_object(before), redact_object(after)
    old = before if is_secret(before) else {}
    new = after if is_secret(after) else {}
    for name in SECRET_FIELDS:
        if name in old and name in new:
            hidden_before[name], hidden_after[name] = _compare_values(old[name], new[name])
        elif name in old:
            hidden_before[name] = _hide_values(old[name], HIDDEN_BEFORE)
        elif name in new:
            hidden_after[name] = _hide_values(new[name], HIDDEN_AFTER)
    return hidden_before, hidden_after


def redact_definitions(params: Mapping, option: str = "definitions") -> dict:
    """Module arguments with the Secret values in the list option ``option`` hidden."""
    objects = params.get(option)
    if not isinstance(objects, list):
        return dict(params)
    return {**params, option: [redact_object(obj) for obj in objects]}
