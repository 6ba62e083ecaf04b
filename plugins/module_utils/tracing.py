# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenTelemetry tracing, optional: with the library installed a change's path is one trace, without it
every call here does nothing.

The path: the controller's pass → its SyncWork write → the syncer's apply → the apply on the member.
The trace context crosses the hub in the SyncWork's ``tmc.kcp.io/traceparent`` annotation (W3C trace
context), written with the SyncWork's desired state and read by the syncer that applies it. Private to
this collection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ansible_collections.tmc.multicluster.plugins.module_utils import api

try:
    from opentelemetry import propagate, trace

    HAS_OTEL = True
except ImportError:  # pragma: no cover - tracing is then off
    HAS_OTEL = False

TRACER_NAME = "tmc.multicluster"


@contextmanager
def span(name: str, parent: Mapping[str, str] | None = None, **attributes) -> Iterator[object]:
    """A span named ``name``, current inside the block: the child of the current span, or of the
    context in ``parent`` (a carrier such as ``{"traceparent": ...}``) when that is given."""
    if not HAS_OTEL:
        yield None
        return
    context = propagate.extract(dict(parent)) if parent else None
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, context=context, attributes=attributes) as current:
        yield current


def carrier() -> dict[str, str]:
    """The current span's context as W3C headers (empty without a recording span or the library)."""
    found: dict[str, str] = {}
    if HAS_OTEL:
        propagate.inject(found)
    return found


def annotations() -> dict[str, str]:
    """The annotation that carries the current span's context into an object (empty when none)."""
    parent = carrier().get("traceparent")
    return {api.ANNOTATION_TRACEPARENT: parent} if parent else {}


def parent_of(obj: Mapping) -> dict[str, str] | None:
    """The trace context an object's annotation carries, as a carrier for ``span(parent=...)``."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(api.ANNOTATION_TRACEPARENT)
    return {"traceparent": value} if value else None
