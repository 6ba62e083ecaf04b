# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``--output json|yaml|table``: one result, three renderings. A command returns a ``Result``: the data
(for json and yaml, whole) and the table's rows and columns (for people, the essentials)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    import yaml
except ImportError:  # kubectl tmc runs from the collection's venv, which has it; -o yaml says so when not
    yaml = None

FORMATS = ("table", "json", "yaml")


@dataclass
class Result:
    data: Any
    columns: Sequence[tuple[str, Callable[[Mapping], Any]]] = ()
    rows: Sequence[Mapping] = ()
    notes: list[str] = field(default_factory=list)  # lines printed under a table
    exit_code: int = 0


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value) or "-"
    return str(value)


def table(columns: Sequence[tuple[str, Callable[[Mapping], Any]]], rows: Sequence[Mapping]) -> str:
    """Columns aligned like ``kubectl get``: upper-case headers, two spaces between columns."""
    cells = [[name.upper() for name, _get in columns]]
    cells += [[_text(get(row)) for _name, get in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)


def render(result: Result, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(result.data, indent=2, sort_keys=True, default=str)
    if fmt == "yaml":
        if yaml is None:
            raise RuntimeError("-o yaml needs PyYAML (pip install pyyaml), or use -o json")
        return yaml.safe_dump(json.loads(json.dumps(result.data, default=str)), sort_keys=False).rstrip()
    if not result.columns:
        return "\n".join(result.notes)
    lines = [table(result.columns, result.rows)] if result.rows else ["No resources found."]
    return "\n".join(lines + result.notes)
