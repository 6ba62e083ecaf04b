# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes quantities (``100m``, ``4Gi``, ``1e3``) and times, parsed exactly.

Private to this collection (module_utils are not a public API).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from ansible_collections.tmc.multicluster.plugins.module_utils import api

# --------------------------------------------------------------------------
# Kubernetes quantities

_QUANTITY_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_MAX_EXPONENT = 99  # the CRDs' quantity pattern allows at most two exponent digits

# The most a cluster may report (or a replica request) of each resource. The CRDs
# (roles/hub/files/crds/clusterregistrations.yaml) refuse the same values; a unit test
# holds the two together. They keep every figure exact in an int64 and a double.
QUANTITY_LIMITS = {"cpu": Decimal(10) ** 9, "memory": Decimal(2) ** 62, "pods": Decimal(10) ** 9}
QUANTITY_LIMIT_TEXT = {"cpu": "1G", "memory": "4Ei", "pods": "1G"}


def parse_quantity(value: object, field: str = "quantity") -> Decimal:
    """A Kubernetes quantity (``100m``, ``2``, ``1.5``, ``4Gi``, ``512Mi``, ``1e3``, ``1k``) as an exact Decimal.

    Integers and floats are taken as plain numbers. Anything else raises
    :class:`api.SpecError` naming ``field``.
    """
    if isinstance(value, bool):
        raise api.SpecError(field, f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise api.SpecError(field, f"{value!r} is not a finite quantity")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise api.SpecError(field, f"{value!r} is not a quantity")
    match = _QUANTITY_RE.match(value.strip())
    if not match:
        raise api.SpecError(
            field, f"{value!r} is not a Kubernetes quantity (examples: 100m, 2, 1.5, 4Gi, 512Mi, 1e3, 1k)"
        )
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise api.SpecError(field, f"{value!r} is not a Kubernetes quantity") from None
    if exponent:
        power = int(exponent[1:])
        if abs(power) > _MAX_EXPONENT:
            raise api.SpecError(field, f"{value!r} is out of range")
        return amount.scaleb(power)
    return amount * _SUFFIXES[suffix or ""]


def bounded_quantity(value: object, resource: str, field: str) -> Decimal:
    """``parse_quantity`` within ``0..QUANTITY_LIMITS[resource]``; a SpecError naming ``field`` outside."""
    amount = parse_quantity(value, field)
    if amount < 0:
        raise api.SpecError(field, f"{value!r} is negative")
    if amount > QUANTITY_LIMITS[resource]:
        raise api.SpecError(field, f"{value!r} is out of range (at most {QUANTITY_LIMIT_TEXT[resource]})")
    return amount


def parse_cpu(value: object, field: str = "cpu") -> float:
    """Cores as a float: ``100m`` -> 0.1, ``2`` -> 2.0."""
    return float(parse_quantity(value, field))


def _ceil_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def parse_memory(value: object, field: str = "memory") -> int:
    """Bytes as an int, rounded up: ``512Mi`` -> 536870912, ``1k`` -> 1000."""
    return _ceil_int(parse_quantity(value, field))


def parse_count(value: object, field: str = "pods") -> int:
    """A count (pods) as an int, rounded up."""
    return _ceil_int(parse_quantity(value, field))


def to_epoch(value: object, field: str = "now") -> float | None:
    """A time as epoch seconds: a datetime (naive = UTC), an RFC 3339 string, or a number."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise api.SpecError(field, f"{value!r} is not a time")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise api.SpecError(field, f"{value!r} is not an RFC 3339 time such as 2024-05-01T12:00:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    raise api.SpecError(field, f"{value!r} is not a time")


def _format_epoch(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")
