"""One hub change, one trace: the controller's pass, its SyncWork write, the syncer's apply and the apply
on the member share a trace id and chain parent to child. The controller and a syncer run in this process
(threads) against the testbed, with OpenTelemetry's SDK and its in-memory exporter; the trace context
crosses the hub in the SyncWork's annotation, read back with the official client."""

from __future__ import annotations

import threading
import uuid

import pytest
from kubernetes import client

from hack.testbed import HUB

from .ansible_cli import run_module
from .monitoring import wait_for

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
MEMBER = "member1"

pytest.importorskip("opentelemetry.sdk")


@pytest.fixture(scope="module")
def exporter():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set once per process
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.shutdown()


@pytest.fixture(scope="module")
def daemons_in_process(tmc_hub, tmp_path_factory, exporter):
    from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube
    from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import (
        connection,
        controller,
        observability,
        process,
        syncer,
    )

    bed = tmc_hub
    ns = f"trace-{uuid.uuid4().hex[:6]}"
    dest = tmp_path_factory.mktemp("trace") / "syncer.kubeconfig"
    run = run_module(
        "cluster_registration",
        {
            "kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
            "name": MEMBER,
            "sync_mode": "Pull",
            "syncer_kubeconfig_dest": str(dest),
            "location": bed.state["clusters"][MEMBER]["region"],
            "labels": {"env": "test"},
            "member": {"kubeconfig": str(bed.kubeconfig(MEMBER, direct=True))},
        },
    )
    assert not run.failed, run.output
    saved = process.install_signal_handlers
    process.install_signal_handlers = lambda _stop: None  # threads cannot take signals; the test stops them
    gates = api.FeatureGates.from_flag("")
    ctrl_args = controller.parser().parse_args(
        ["--kubeconfig", str(bed.kubeconfig(HUB, direct=True)), "--namespaces", ns, "--leader-elect", "false"]
    )
    metrics = observability.Metrics()
    hub = connection.daemon_client(connection.hub_config(ctrl_args), "hub", metrics)
    the_controller = controller.Controller(hub, ctrl_args, gates, metrics)
    sync_args = syncer.parser().parse_args(
        [
            "--kubeconfig",
            str(dest),
            "--cluster-name",
            MEMBER,
            "--downstream-kubeconfig",
            str(bed.kubeconfig(MEMBER, direct=True)),
        ]
    )
    sync_metrics = observability.Metrics()
    the_syncer = syncer.Syncer(
        connection.daemon_client(connection.hub_config(sync_args), "hub", sync_metrics),
        connection.daemon_client(kube.ClientConfig(kubeconfig=sync_args.downstream_kubeconfig), "member", sync_metrics),
        MEMBER,
        sync_args,
        gates,
        sync_metrics,
    )
    threads = [
        threading.Thread(target=the_controller.run, name="controller", daemon=True),
        threading.Thread(target=the_syncer.run, name="syncer", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for("the daemons' caches", lambda: the_controller.ready() and the_syncer.ready(), timeout=60)
        yield {"bed": bed, "ns": ns}
    finally:
        the_controller.stop.set()
        the_syncer.stop.set()
        for thread in threads:
            thread.join(30)
        process.install_signal_handlers = saved


def test_one_hub_change_is_one_trace_from_controller_to_member_apply(daemons_in_process, exporter, hub_api_client):
    bed, ns = daemons_in_process["bed"], daemons_in_process["ns"]
    core, apps = client.CoreV1Api(hub_api_client), client.AppsV1Api(hub_api_client)
    custom = client.CustomObjectsApi(hub_api_client)
    core.create_namespace({"metadata": {"name": ns}})
    try:
        custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            "workloadplacements",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "WorkloadPlacement",
                "metadata": {"name": "one"},
                "spec": {
                    "workloadSelector": {"matchLabels": {"app": "traced"}},
                    "locations": [bed.state["clusters"][MEMBER]["region"]],
                },
            },
        )
        exporter.clear()
        labels = {"app": "traced"}
        apps.create_namespaced_deployment(
            ns,
            {
                "metadata": {"name": "traced", "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "c", "image": "r.example/t:1"}]},
                    },
                },
            },
        )

        def applied_span():
            return [
                s
                for s in exporter.get_finished_spans()
                if s.name == "member.apply"
                and s.attributes.get("kind") == "Deployment"
                and s.attributes.get("cluster") == MEMBER
            ]

        (member_apply,) = wait_for("the member apply's span", applied_span, timeout=120)[:1]
        spans = {
            s.context.span_id: s
            for s in exporter.get_finished_spans()
            if s.context.trace_id == member_apply.context.trace_id
        }
        chain = [member_apply]
        while chain[-1].parent is not None and chain[-1].parent.span_id in spans:
            chain.append(spans[chain[-1].parent.span_id])
        names = [s.name for s in chain]
        assert names[:3] == ["member.apply", "syncer.apply", "controller.syncwork.write"], names
        assert names[3].startswith("controller."), names  # the controller's pass over the changed source
        assert chain[-1].parent is None, "the trace starts at the controller's pass"
        assert len({s.context.trace_id for s in chain}) == 1

        # The context crossed the hub in the SyncWork's annotation (read with the official client).
        works = custom.list_namespaced_custom_object(
            GROUP, VERSION, f"tmc-cluster-{MEMBER}", "syncworks", label_selector=f"tmc.kcp.io/source-namespace={ns}"
        )["items"]
        traceparents = {w["metadata"]["annotations"].get("tmc.kcp.io/traceparent", "") for w in works}
        assert any(f"{member_apply.context.trace_id:032x}" in t for t in traceparents), traceparents
    finally:
        core.delete_namespace(ns)
