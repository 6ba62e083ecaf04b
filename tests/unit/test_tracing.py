"""Tracing is optional: without OpenTelemetry every call is a no-op and a SyncWork carries no trace
annotation; with it, the written annotation is the writing span's W3C context."""

from __future__ import annotations

import pytest

from ansible_collections.tmc.multicluster.plugins.module_utils import api, tracing
from ansible_collections.tmc.multicluster.plugins.module_utils.reconcile import hub_writes

WORK = {"apiVersion": api.API_VERSION, "kind": api.KIND_SYNCWORK, "metadata": {"name": "w", "namespace": "n"}}


def test_without_the_library_everything_is_a_no_op(monkeypatch):
    monkeypatch.setattr(tracing, "HAS_OTEL", False)
    with tracing.span("anything", parent={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) as current:
        assert current is None
        assert tracing.carrier() == {} and tracing.annotations() == {}
    stamped = hub_writes.stamped(WORK)
    assert set(stamped["metadata"]["annotations"]) == {api.ANNOTATION_WRITTEN_AT}
    assert "annotations" not in WORK["metadata"]  # the planned SyncWork is left as it is


def test_with_the_sdk_the_annotation_carries_the_writing_span():
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if not isinstance(provider, sdk.TracerProvider):
        trace.set_tracer_provider(sdk.TracerProvider())
    with tracing.span("controller.syncwork.write") as current:
        stamped = hub_writes.stamped(WORK)
        trace_id = current.get_span_context().trace_id
    parent = tracing.parent_of(stamped)
    assert parent["traceparent"].split("-")[1] == f"{trace_id:032x}"
    with tracing.span("syncer.apply", parent=parent) as child:
        assert child.get_span_context().trace_id == trace_id
        assert child.parent.span_id == current.get_span_context().span_id
    assert tracing.parent_of({"metadata": {}}) is None
