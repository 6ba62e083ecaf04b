# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One validation: a WorkloadPlacement spec checked as the API server checks it.

Private to this collection (module_utils are not a public API).

The schema is the CRD's own (``schema.py``, generated from
``roles/hub/files/crds/workloadplacements.yaml``), so the module, the ``place``
filter, the controller and the API server cannot drift apart. Applied in the
API server's order: defaults, then the structural schema (types, unknown
fields, required, enums, bounds, patterns, list sizes and uniqueness), then
the CEL rules (``x-kubernetes-validations``) of every node that passed its
schema. Unknown fields are an error naming the field -- strict field
validation, as ``kubectl`` asks for -- with a "did you mean" for a near miss.

Messages follow the API server's: ``spec.numberOfClusters: Invalid value: 0:
should be greater than or equal to 1``. The first error raises
:class:`api.SpecError` naming its field; the message counts the others.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import api
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import cel, schema


def validate_spec(spec: object, field: str = "spec") -> dict:
    """The spec with the CRD's defaults applied; :class:`api.SpecError` on the first error."""
    if spec is None:
        spec = {}
    defaulted = apply_defaults(copy.deepcopy(spec), schema.SPEC)
    errors: list[tuple[str, str]] = []
    _check(defaulted, schema.SPEC, field, errors)
    if errors:
        where, message = errors[0]
        more = f" (and {len(errors) - 1} more: {'; '.join(f'{w}: {m}' for w, m in errors[1:4])})" if errors[1:] else ""
        raise api.SpecError(where, message + more)
    return defaulted


def apply_defaults(value: Any, node: Mapping) -> Any:
    """Fill absent properties that have a ``default``, recursively (the API server defaults before it validates)."""
    if isinstance(value, dict):
        for name, child in (node.get("properties") or {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = apply_defaults(value[name], child)
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key in value:
                value[key] = apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [apply_defaults(item, node["items"]) for item in value]
    return value


# --------------------------------------------------------------------------
# The structural schema


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return "null" if value is None else type(value).__name__


def _type_ok(value: Any, node: Mapping, where: str) -> str | None:
    """None when ``value`` has the node's type, else the API server's words."""
    actual = _type_name(value)
    if node.get("x-kubernetes-int-or-string"):
        if actual in ("string", "integer"):
            return None
        return f'Invalid value: "{actual}": {where} in body must be of type integer or string: "{actual}"'
    wanted = node.get("type")
    if wanted is None or wanted == actual or (wanted == "number" and actual == "integer"):
        return None
    if value is None and node.get("nullable"):
        return None
    return f'Invalid value: "{actual}": {where} in body must be of type {wanted}: "{actual}"'


def _show(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def _check(value: Any, node: Mapping, where: str, errors: list) -> bool:
    """Schema errors of ``value`` at ``where`` into ``errors``; True when this subtree passed (CEL may run)."""
    before = len(errors)
    problem = _type_ok(value, node, where)
    if problem:
        errors.append((where, problem))
        return False
    if isinstance(value, Mapping) and not node.get("x-kubernetes-int-or-string"):
        _check_object(value, node, where, errors)
    elif isinstance(value, list):
        _check_array(value, node, where, errors)
    else:
        _check_scalar(value, node, where, errors)
    if len(errors) == before:
        _check_rules(value, node, where, errors)
    return len(errors) == before


def _check_object(value: Mapping, node: Mapping, where: str, errors: list) -> None:
    properties = node.get("properties") or {}
    extra = node.get("additionalProperties")
    open_ended = node.get("x-kubernetes-preserve-unknown-fields") or extra is True
    for key in value:
        if key in properties:
            _check(value[key], properties[key], f"{where}.{key}", errors)
        elif isinstance(extra, Mapping):
            _check(value[key], extra, f"{where}.{key}", errors)
        elif not open_ended:
            errors.append((f"{where}.{key}", _unknown(key, properties)))
    for name in node.get("required") or ():
        if name not in value:
            errors.append((f"{where}.{name}", "Required value"))
    if "maxProperties" in node and len(value) > node["maxProperties"]:
        errors.append((where, f"Too many: {len(value)}: must have at most {node['maxProperties']} items"))
    if "minProperties" in node and len(value) < node["minProperties"]:
        errors.append((where, f"Invalid value: must have at least {node['minProperties']} items"))


def _unknown(key: str, properties: Mapping) -> str:
    near = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    known = ", ".join(sorted(properties)) or "none"
    return f'unknown field "{key}"{hint} (known fields: {known})'


def _check_array(value: list, node: Mapping, where: str, errors: list) -> None:
    if "maxItems" in node and len(value) > node["maxItems"]:
        errors.append((where, f"Too many: {len(value)}: must have at most {node['maxItems']} items"))
        return
    if "minItems" in node and len(value) < node["minItems"]:
        errors.append((where, f"Invalid value: {len(value)}: should have at least {node['minItems']} items"))
    items = node.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            _check(item, items, f"{where}[{i}]", errors)
    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set":
        seen = []
        for i, item in enumerate(value):
            if item in seen:
                errors.append((f"{where}[{i}]", f"Duplicate value: {_show(item)}"))
            seen.append(item)
    elif list_type == "map":
        keys = node.get("x-kubernetes-list-map-keys") or ()
        seen = set()
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                continue
            identity = tuple(_show(item.get(k)) for k in keys)
            if identity in seen:
                shown = "{" + ",".join(f'"{k}":{_show(item.get(k))}' for k in keys) + "}"
                errors.append((f"{where}[{i}]", f"Duplicate value: {shown}"))
            seen.add(identity)


def _check_scalar(value: Any, node: Mapping, where: str, errors: list) -> None:
    if "enum" in node and value not in node["enum"]:
        supported = ", ".join(f'"{v}"' for v in node["enum"])
        errors.append((where, f"Unsupported value: {_show(value)}: supported values: {supported}"))
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            errors.append((where, f"Invalid value: {value}: should be greater than or equal to {node['minimum']}"))
        if "maximum" in node and value > node["maximum"]:
            errors.append((where, f"Invalid value: {value}: should be less than or equal to {node['maximum']}"))
    if isinstance(value, str):
        if "maxLength" in node and len(value) > node["maxLength"]:
            errors.append((where, f"Too long: may not be more than {node['maxLength']} bytes"))
        if "minLength" in node and len(value) < node["minLength"]:
            errors.append((where, f"Invalid value: {_show(value)}: should be at least {node['minLength']} chars long"))
        if "pattern" in node and not _pattern(node["pattern"]).search(value):
            errors.append((where, f"Invalid value: {_show(value)}: should match '{node['pattern']}'"))


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern:
    return re.compile(text)


# --------------------------------------------------------------------------
# CEL rules


def _check_rules(value: Any, node: Mapping, where: str, errors: list) -> None:
    rules = node.get("x-kubernetes-validations")
    if not rules:
        return
    if not cel.available():  # pragma: no cover - a requirement of the collection
        return
    for rule in rules:
        ok, message = _run_rule(rule, value)
        if ok:
            continue
        field = where + rule.get("fieldPath", "")
        reason = rule.get("reason", "FieldValueInvalid")
        prefix = {"FieldValueRequired": "Required value: ", "FieldValueForbidden": "Forbidden: "}.get(
            reason, f"Invalid value: {_show_short(value)}: "
        )
        errors.append((field, prefix + message))


def _show_short(value: Any) -> str:
    text = _show(value)
    return '"object"' if len(text) > 80 else text


def _run_rule(rule: Mapping, value: Any) -> tuple[bool, str]:
    context = cel.cel_module().Context()
    context.add_variable("self", _plain(value))
    try:
        result = _program(rule["rule"]).execute(context)
    except Exception as exc:  # a rule that cannot be evaluated refuses the object, as in the API server
        return False, f"rule {rule['rule']!r} could not be evaluated: {cel.explain_error(exc)}"
    if result is True:
        return True, ""
    if "messageExpression" in rule:
        try:
            return False, str(_program(rule["messageExpression"]).execute(context))
        except Exception:  # the API server falls back to the message, then to the rule
            pass
    return False, rule.get("message") or f"failed rule: {rule['rule']}"


@lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    return cel.cel_module().compile(expression)


def _plain(value: Any) -> Any:
    """Mappings and sequences as the dicts and lists the CEL library converts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
