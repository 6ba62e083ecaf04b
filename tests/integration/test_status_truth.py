"""Status tells the truth (issue 19 item 4), on the real testbed.

Every SyncWork that cannot be applied says why in its conditions, in the same words whether the
syncer (member2, pull mode) or ``workload_sync`` (member1, push mode) met the case; the status flows
up to the placement summary and the source; a member object that disappears is applied again or
reported, never left ``available``; ``kubectl get syncwork`` shows the reason. The oracles are the
member API servers (official client), kubectl and the SyncWorks as the hub serves them.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from .ansible_cli import hub_args, run_module
from .daemons import Daemon
from .security import AllowedKinds

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
TEST_GROUP = "truth.tmc.test"
MODULE_CLUSTER, DAEMON_CLUSTER = "member1", "member2"
LABEL_SOURCE_NAMESPACE = "tmc.kcp.io/source-namespace"


def wait_for(what, check, timeout=120.0, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def crd(plural: str, kind: str, maximum: int | None = None) -> dict:
    size = {"type": "integer", **({"maximum": maximum} if maximum is not None else {})}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{TEST_GROUP}"},
        "spec": {
            "group": TEST_GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind, "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "properties": {"size": size}}},
                        }
                    },
                }
            ],
        },
    }


def install_crd(api, body) -> None:
    ext = client.ApiextensionsV1Api(api)
    try:
        ext.create_custom_resource_definition(body)
    except ApiException as err:
        if err.status != 409:
            raise

    def established():
        try:
            found = ext.read_custom_resource_definition(body["metadata"]["name"])
        except ApiException:
            return False
        return any(c.type == "Established" and c.status == "True" for c in found.status.conditions or ())

    wait_for(f"CRD {body['metadata']['name']} established", established, timeout=60)
    # Discovery lists it too (what the syncer and the module ask).
    group = body["spec"]["group"]
    wait_for(
        f"{body['spec']['names']['kind']} in discovery",
        lambda: any(
            r.name == body["spec"]["names"]["plural"]
            for r in client.CustomObjectsApi(api).get_api_resources(group, "v1").resources
        ),
        timeout=60,
    )


def delete_crd(api, name: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    try:
        ext.delete_custom_resource_definition(name)
    except ApiException as err:
        if err.status != 404:
            raise

    def gone():
        try:
            ext.read_custom_resource_definition(name)
        except ApiException as err:
            return err.status == 404
        return False

    wait_for(f"CRD {name} gone", gone, timeout=90)


def placement(name: str, selector: dict, resources: list, cluster_label: str) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkloadPlacement",
        "metadata": {"name": name},
        "spec": {
            "resources": resources,
            "workloadSelector": {"matchLabels": selector},
            "clusterSelector": {"matchLabels": {"truth": cluster_label}},
        },
    }


def syncwork(hub, cluster, ns, kind, name):
    """The SyncWork of source ``ns/name`` (``kind``) for ``cluster``, as the hub serves it (None: none)."""
    items = client.CustomObjectsApi(hub).list_namespaced_custom_object(
        GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks", label_selector=f"{LABEL_SOURCE_NAMESPACE}={ns}"
    )["items"]
    for item in items:
        source = item["spec"].get("source") or {}
        if source.get("kind") == kind and source.get("name") == name:
            return item
    return None


def condition(work, ctype):
    for c in ((work or {}).get("status") or {}).get("conditions") or ():
        if c["type"] == ctype:
            return c
    return None


def degraded(work, reason=None):
    """The SyncWork's Degraded condition when it is True (with ``reason``, if given)."""
    c = condition(work, "Degraded")
    if c and c["status"] == "True" and (reason is None or c["reason"] == reason):
        return c
    return None


def assert_failed_as(work, reason):
    """Applied and Available False, Degraded True, all three for ``reason`` and with one message; the
    status fields agree (never ``available``, no status of an object that is not there)."""
    state = work["status"]
    assert state["applied"] is False and state["available"] is False, state
    conditions = {c: condition(work, c) for c in ("Applied", "Available", "Degraded")}
    assert {c: (x["status"], x["reason"]) for c, x in conditions.items()} == {
        "Applied": ("False", reason),
        "Available": ("False", reason),
        "Degraded": ("True", reason),
    }, state["conditions"]
    assert len({x["message"] for x in conditions.values()}) == 1
    assert state["message"] == conditions["Degraded"]["message"]
    return conditions["Degraded"]["message"]


def healthy(work):
    state = (work or {}).get("status") or {}
    c = condition(work, "Degraded")
    return state.get("applied") and state.get("available") and c is not None and c["status"] == "False"


def sync_module(bed, ns, **extra):
    """One workload_sync pass of ``ns`` (member1, push mode); failures are reported, not raised."""
    run = run_module("workload_sync", hub_args(bed, namespace=ns, fail_on_error=False, **extra))
    assert run.rc == 0, run.output
    return run.result


def kubectl(bed, *args) -> str:
    binary = Path(bed.state["bin_dir"]) / "kubectl"
    proc = subprocess.run(
        [str(binary), "--kubeconfig", str(bed.kubeconfig(HUB, direct=True)), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def syncer_lines(daemon: Daemon, message: str, work: str) -> list[dict]:
    """The syncer's JSON log lines with ``message`` about SyncWork ``work`` (namespace/name)."""
    out = []
    for line in daemon.log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg", entry.get("message")) == message and entry.get("work") == work:
            out.append(entry)
    return out


def apply_errors(daemon: Daemon, kind: str) -> float:
    """The syncer's count of failed applies of ``kind`` (its /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.health_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        wanted = (f'resource_type="{kind}"', 'operation="apply"', 'result="error"')
        if re.match(r"^\w*operations_total\{", line) and all(w in line for w in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ------------------------------------------------------------------ fixture


@pytest.fixture(scope="module")
def truth(tmc_hub, hub_api_client, member_api_clients, tmp_path_factory):
    """member1 in push mode (workload_sync), member2 in pull mode with its syncer and one controller;
    a hub namespace for each; the test CRDs Widget and Gadget on the hub."""
    bed = tmc_hub
    hub = hub_api_client
    logs = tmp_path_factory.mktemp("truth")
    hub_kubeconfig = str(bed.kubeconfig(HUB, direct=True))
    suffix = uuid.uuid4().hex[:6]
    ns = {"daemon": f"truth-d-{suffix}", "module": f"truth-m-{suffix}"}
    for body in (crd("widgets", "Widget"), crd("gadgets", "Gadget")):
        install_crd(hub, body)
    run = run_module(
        "cluster_registration",
        hub_args(
            bed,
            name=MODULE_CLUSTER,
            location=bed.state["clusters"][MODULE_CLUSTER]["region"],
            heartbeat=True,
            labels={"truth": "module"},
            member={"kubeconfig": str(bed.kubeconfig(MODULE_CLUSTER, direct=True))},
        ),
    )
    assert not run.failed, run.output
    dest = logs / "syncer.kubeconfig"
    run = run_module(
        "cluster_registration",
        hub_args(
            bed,
            name=DAEMON_CLUSTER,
            sync_mode="Pull",
            syncer_kubeconfig_dest=str(dest),
            location=bed.state["clusters"][DAEMON_CLUSTER]["region"],
            labels={"truth": "daemon"},
            member={"kubeconfig": str(bed.kubeconfig(DAEMON_CLUSTER, direct=True))},
        ),
    )
    assert not run.failed, run.output
    core = client.CoreV1Api(hub)
    for name in ns.values():
        core.create_namespace({"metadata": {"name": name}})
    # The platform admin lets the test kinds be placed (the hub role's tmc_hub_allowed_kinds).
    allowed = AllowedKinds(hub, ns["daemon"], (TEST_GROUP, "Widget"), (TEST_GROUP, "Gadget"))
    allowed.__enter__()
    syncer = Daemon(
        "syncer-truth",
        [
            "syncer",
            "--cluster-name",
            DAEMON_CLUSTER,
            "--kubeconfig",
            str(dest),
            "--downstream-kubeconfig",
            str(bed.kubeconfig(DAEMON_CLUSTER, direct=True)),
            "--heartbeat-interval",
            "2",
        ],
        logs,
    )
    controller = Daemon(
        "controller-truth",
        [
            "controller",
            "--kubeconfig",
            hub_kubeconfig,
            "--leader-elect",
            "false",
            "--namespaces",
            ns["daemon"],
            "--resource-types",
            f"apps/Deployment,{TEST_GROUP}/Widget,{TEST_GROUP}/Gadget",
            # member1 is synced by workload_sync only: its heartbeat ages between runs.
            "--heartbeat-threshold",
            "600",
            "--eviction-timeout",
            "1200",
        ],
        logs,
    )
    daemons = [syncer, controller]
    try:
        for daemon in daemons:
            daemon.start()
        for daemon in daemons:
            daemon.wait_ready()
        yield {"bed": bed, "hub": hub, "members": member_api_clients, "ns": ns, "syncer": syncer}
    finally:
        objects = client.CustomObjectsApi(hub)
        for name in ns.values():
            for wp in objects.list_namespaced_custom_object(GROUP, VERSION, name, "workloadplacements")["items"]:
                objects.delete_namespaced_custom_object(
                    GROUP, VERSION, name, "workloadplacements", wp["metadata"]["name"]
                )
        sync_module(bed, ns["module"])  # the module removes what it placed on member1
        for name in ns.values():
            core.delete_namespace(name)
        for cluster in (DAEMON_CLUSTER, MODULE_CLUSTER):
            wait_for(
                f"SyncWorks of {cluster} gone",
                lambda c=cluster: not any(syncwork_names(hub, c, n) for n in ns.values()),
                timeout=120,
            )
        for daemon in daemons:
            daemon.stop()
        allowed.__exit__(None, None, None)
        for api in [hub, *member_api_clients.values()]:
            for plural in ("widgets", "gadgets"):
                delete_crd(api, f"{plural}.{TEST_GROUP}")
        for name in ns.values():
            for api in member_api_clients.values():
                try:
                    client.CoreV1Api(api).delete_namespace(name)
                except ApiException as err:
                    if err.status != 404:
                        raise


def syncwork_names(hub, cluster, ns) -> list[str]:
    items = client.CustomObjectsApi(hub).list_namespaced_custom_object(
        GROUP, VERSION, f"tmc-cluster-{cluster}", "syncworks", label_selector=f"{LABEL_SOURCE_NAMESPACE}={ns}"
    )["items"]
    return [i["metadata"]["name"] for i in items]


def custom(hub, ns, plural, kind, name, size, labels):
    client.CustomObjectsApi(hub).create_namespaced_custom_object(
        TEST_GROUP,
        "v1",
        ns,
        plural,
        {
            "apiVersion": f"{TEST_GROUP}/v1",
            "kind": kind,
            "metadata": {"name": name, "labels": labels},
            "spec": {"size": size},
        },
    )


def create_placement(hub, ns, body):
    client.CustomObjectsApi(hub).create_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", body)


def placement_summary(hub, ns, name, cluster):
    wp = client.CustomObjectsApi(hub).get_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", name)
    for row in (wp.get("status") or {}).get("summary") or ():
        if row["cluster"] == cluster:
            return row, {c["type"]: c for c in wp["status"].get("conditions") or ()}
    return None, {}


def member_object(api, plural, ns, name):
    try:
        return client.CustomObjectsApi(api).get_namespaced_custom_object(TEST_GROUP, "v1", ns, plural, name)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


# ------------------------------------------------------------------ the cases


def test_a_kind_no_member_serves_is_reported_not_waited_for(truth):
    """A Gadget (its CRD on the hub only): both SyncWorks say KindNotServed in the same words, the
    placement counts them degraded, kubectl shows it, the syncer says it once while it keeps asking;
    once member2 serves the kind, its Gadget is applied without any change on the hub."""
    hub, bed, ns, syncer = truth["hub"], truth["bed"], truth["ns"], truth["syncer"]
    labels = {"app": "gadget"}
    resources = [{"group": TEST_GROUP, "kind": "Gadget"}]
    for side, cluster_label in (("daemon", "daemon"), ("module", "module")):
        create_placement(hub, ns[side], placement("gadgets", labels, resources, cluster_label))
        custom(hub, ns[side], "gadgets", "Gadget", "g1", 1, labels)

    work = wait_for(
        "member2's SyncWork degraded",
        lambda: (
            degraded(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Gadget", "g1"), "KindNotServed")
            and syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Gadget", "g1")
        ),
    )
    daemon_message = assert_failed_as(work, "KindNotServed")
    assert "Gadget" in daemon_message and f"{TEST_GROUP}/v1" in daemon_message

    result = sync_module(bed, ns["module"])
    module_work = syncwork(hub, MODULE_CLUSTER, ns["module"], "Gadget", "g1")
    assert assert_failed_as(module_work, "KindNotServed") == daemon_message  # daemon and module agree
    assert [(e["reason"], e["message"]) for e in result["errors"] if e.get("kind") == "Gadget"] == [
        ("KindNotServed", daemon_message)
    ]
    assert result["available"] is False

    # The placement counts it degraded, not available.
    row, conditions = wait_for(
        "the placement's summary",
        lambda: (lambda r: r if r[0] and r[0]["degraded"] == 1 else None)(
            placement_summary(hub, ns["daemon"], "gadgets", DAEMON_CLUSTER)
        ),
    )
    assert row == {"cluster": DAEMON_CLUSTER, "applied": 0, "available": 0, "degraded": 1}
    assert conditions["Available"]["status"] == "False" and conditions["Synced"]["status"] == "False"

    # kubectl get syncwork shows the reason.
    table = kubectl(bed, "get", "syncwork", "-n", f"tmc-cluster-{DAEMON_CLUSTER}", work["metadata"]["name"])
    header, line = table.strip().splitlines()
    assert header.split()[:7] == ["NAME", "CLUSTER", "KIND", "SOURCE", "APPLIED", "AVAILABLE", "REASON"]
    assert line.split()[1:7] == [DAEMON_CLUSTER, "Gadget", "g1", "false", "false", "KindNotServed"]
    wide = kubectl(
        bed, "get", "syncwork", "-n", f"tmc-cluster-{DAEMON_CLUSTER}", work["metadata"]["name"], "-o", "wide"
    )
    assert daemon_message in wide

    # Not log spam: the syncer keeps asking (the watch's restarts, with backoff) and says it once.
    key = f"tmc-cluster-{DAEMON_CLUSTER}/{work['metadata']['name']}"
    wait_for("the syncer to ask again twice", lambda: watch_restarts(syncer, "gadget", "unserved") >= 3, timeout=60)
    assert len(syncer_lines(syncer, "SyncWork cannot be applied", key)) == 1
    assert len(gadget_unserved_lines(syncer)) == 1

    # The kind served later: applied with no change on the hub.
    install_crd(truth["members"][DAEMON_CLUSTER], crd("gadgets", "Gadget"))
    wait_for(
        "the Gadget on member2",
        lambda: member_object(truth["members"][DAEMON_CLUSTER], "gadgets", ns["daemon"], "g1"),
        timeout=90,
    )
    wait_for("member2's SyncWork healthy", lambda: healthy(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Gadget", "g1")))
    assert len(syncer_lines(syncer, "SyncWork applied again", key)) == 1


def watch_restarts(daemon: Daemon, kind: str, reason: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.health_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if re.match(r"^\w*watch_restarts_total\{", line) and f'reason="{reason}"' in line and kind in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def gadget_unserved_lines(daemon: Daemon) -> list[dict]:
    out = []
    for line in daemon.log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "not served" in str(entry.get("msg", entry.get("message"))) and entry.get("kind") == "Gadget":
            out.append(entry)
    return out


def test_a_crd_removed_from_a_member_turns_its_syncworks_degraded(truth):
    """Widgets applied and available; the member's Widget CRD removed (and so its Widgets): the
    SyncWorks turn Degraded KindNotServed (daemon and module alike), never left available, the
    placement counts them; the CRD back: the syncer applies the Widget again. A Widget the member's
    schema refuses (size over its maximum) is RefusedByMember, naming the field."""
    hub, bed, ns, members = truth["hub"], truth["bed"], truth["ns"], truth["members"]
    for cluster in (DAEMON_CLUSTER, MODULE_CLUSTER):
        install_crd(members[cluster], crd("widgets", "Widget", maximum=5))
    labels = {"app": "widget"}
    resources = [{"group": TEST_GROUP, "kind": "Widget"}]
    for side in ("daemon", "module"):
        create_placement(hub, ns[side], placement("widgets", labels, resources, side))
        custom(hub, ns[side], "widgets", "Widget", "small", 1, labels)
        custom(hub, ns[side], "widgets", "Widget", "big", 10, labels)

    wait_for(
        "small healthy on member2", lambda: healthy(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "small"))
    )
    big = wait_for(
        "big refused by member2",
        lambda: (
            degraded(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "big"), "RefusedByMember")
            and syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "big")
        ),
    )
    refused = assert_failed_as(big, "RefusedByMember")
    assert "spec.size" in refused, refused
    sync_module(bed, ns["module"])
    assert healthy(syncwork(hub, MODULE_CLUSTER, ns["module"], "Widget", "small"))
    assert assert_failed_as(syncwork(hub, MODULE_CLUSTER, ns["module"], "Widget", "big"), "RefusedByMember") == refused

    first = member_object(members[DAEMON_CLUSTER], "widgets", ns["daemon"], "small")
    assert (
        syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "small")["status"]["downstreamUID"]
        == first["metadata"]["uid"]
    )

    # The CRD goes, and every Widget with it.
    delete_crd(members[DAEMON_CLUSTER], f"widgets.{TEST_GROUP}")
    work = wait_for(
        "small degraded on member2",
        lambda: (
            degraded(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "small"), "KindNotServed")
            and syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "small")
        ),
        timeout=90,
    )
    gone = assert_failed_as(work, "KindNotServed")
    assert work["status"]["downstreamUID"] == "" and work["status"].get("downstreamStatus", {}) == {}
    wait_for(
        "big degraded for the same reason",
        lambda: degraded(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "big"), "KindNotServed"),
        timeout=90,
    )
    row, conditions = wait_for(
        "the placement counts both degraded",
        lambda: (lambda r: r if r[0] and r[0]["degraded"] == 2 else None)(
            placement_summary(hub, ns["daemon"], "widgets", DAEMON_CLUSTER)
        ),
    )
    assert row["available"] == 0 and conditions["Available"]["status"] == "False"

    delete_crd(members[MODULE_CLUSTER], f"widgets.{TEST_GROUP}")
    result = sync_module(bed, ns["module"])
    assert assert_failed_as(syncwork(hub, MODULE_CLUSTER, ns["module"], "Widget", "small"), "KindNotServed") == gone
    assert sorted((e["name"], e["reason"]) for e in result["errors"] if e.get("kind") == "Widget") == [
        ("big", "KindNotServed"),
        ("small", "KindNotServed"),
    ]

    # The CRD back: applied again by the syncer, with no change on the hub.
    install_crd(members[DAEMON_CLUSTER], crd("widgets", "Widget", maximum=5))
    again = wait_for(
        "small applied again on member2",
        lambda: member_object(members[DAEMON_CLUSTER], "widgets", ns["daemon"], "small"),
        timeout=90,
    )
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    wait_for(
        "its SyncWork healthy with the new object",
        lambda: (
            healthy(w := syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "small"))
            and w["status"]["downstreamUID"] == again["metadata"]["uid"]
        ),
    )
    wait_for(
        "big refused again",
        lambda: degraded(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Widget", "big"), "RefusedByMember"),
        timeout=90,
    )


def test_an_object_deleted_on_the_member_is_applied_again(truth):
    """A Deployment deleted on member2 comes back (a new object), and its SyncWork reports the new one."""
    hub, ns, members = truth["hub"], truth["ns"], truth["members"]
    labels = {"app": "phoenix"}
    create_placement(
        hub, ns["daemon"], placement("phoenix", labels, [{"group": "apps", "kind": "Deployment"}], "daemon")
    )
    client.AppsV1Api(hub).create_namespaced_deployment(ns["daemon"], deployment("phoenix", labels))
    apps = client.AppsV1Api(members[DAEMON_CLUSTER])
    wait_for("phoenix healthy", lambda: healthy(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Deployment", "phoenix")))
    first = apps.read_namespaced_deployment("phoenix", ns["daemon"]).metadata.uid
    apps.delete_namespaced_deployment("phoenix", ns["daemon"])
    new_uid = wait_for(
        "phoenix re-created",
        lambda: (lambda d: d and d.metadata.uid != first and d.metadata.uid)(
            read_deployment(apps, ns["daemon"], "phoenix")
        ),
    )
    wait_for(
        "its SyncWork describes the new object",
        lambda: (
            (w := syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Deployment", "phoenix"))
            and w["status"]["downstreamUID"] == new_uid
            and healthy(w)
        ),
    )


def read_deployment(apps, ns, name):
    try:
        return apps.read_namespaced_deployment(name, ns)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def deployment(name, labels, replicas=1):
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
            },
        },
    }


def without_use(message: str) -> str:
    """A quota refusal's message without what the namespace uses now."""
    return re.sub(r"used: \S+, ", "", message)


def test_a_quota_refusal_is_reported_once_and_retried_with_backoff(truth):
    """A ResourceQuota allowing no Deployment: RefusedByMember in the member's words (daemon and module
    alike), on the SyncWork, the placement summary and the hub Deployment's status; the syncer says it
    once while it retries; once the quota goes, the retry applies it, with no change on the hub."""
    hub, bed, ns, members, syncer = truth["hub"], truth["bed"], truth["ns"], truth["members"], truth["syncer"]
    labels = {"app": "quota"}
    quota = {"metadata": {"name": "no-deployments"}, "spec": {"hard": {"count/deployments.apps": "0"}}}
    for side, cluster in (("daemon", DAEMON_CLUSTER), ("module", MODULE_CLUSTER)):
        core = client.CoreV1Api(members[cluster])
        try:
            core.create_namespace({"metadata": {"name": ns[side]}})
        except ApiException as err:
            if err.status != 409:
                raise
        core.create_namespaced_resource_quota(ns[side], quota)
        wait_for(
            f"the quota on {cluster} counting",
            lambda c=core, n=ns[side]: c.read_namespaced_resource_quota("no-deployments", n).status.hard or {},
        )
        create_placement(hub, ns[side], placement("quota", labels, [{"group": "apps", "kind": "Deployment"}], side))
        client.AppsV1Api(hub).create_namespaced_deployment(ns[side], deployment("quota", labels))

    work = wait_for(
        "refused on member2",
        lambda: (
            degraded(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Deployment", "quota"), "RefusedByMember")
            and syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Deployment", "quota")
        ),
    )
    message = assert_failed_as(work, "RefusedByMember")
    assert "exceeded quota: no-deployments" in message, message
    result = sync_module(bed, ns["module"])
    # The same words; only the quota's use differs (member2's namespace runs phoenix, member1's nothing).
    module_message = assert_failed_as(
        syncwork(hub, MODULE_CLUSTER, ns["module"], "Deployment", "quota"), "RefusedByMember"
    )
    assert without_use(module_message) == without_use(message)
    assert [(e["reason"], e["message"]) for e in result["errors"] if e.get("kind") == "Deployment"] == [
        ("RefusedByMember", module_message)
    ]

    # Up to the placement and the hub Deployment.
    wait_for(
        "the placement counts it degraded",
        lambda: (placement_summary(hub, ns["daemon"], "quota", DAEMON_CLUSTER)[0] or {}).get("degraded") == 1,
    )
    source = wait_for(
        "the hub Deployment says why",
        lambda: (lambda d: d if any(c.type == "Degraded" for c in d.status.conditions or ()) else None)(
            client.AppsV1Api(hub).read_namespaced_deployment_status("quota", ns["daemon"])
        ),
    )
    reported = next(c for c in source.status.conditions if c.type == "Degraded")
    assert (reported.status, reported.reason) == ("True", "RefusedByMember")
    assert "exceeded quota" in reported.message

    # Retried with backoff, said once.
    key = f"tmc-cluster-{DAEMON_CLUSTER}/{work['metadata']['name']}"
    wait_for("three refused applies", lambda: apply_errors(syncer, "Deployment") >= 3, timeout=60)
    assert len(syncer_lines(syncer, "SyncWork cannot be applied", key)) == 1

    client.CoreV1Api(members[DAEMON_CLUSTER]).delete_namespaced_resource_quota("no-deployments", ns["daemon"])
    wait_for(
        "applied once the quota is gone",
        lambda: read_deployment(client.AppsV1Api(members[DAEMON_CLUSTER]), ns["daemon"], "quota"),
        timeout=400,  # the backoff of a refusal grows to REFUSED_RETRY_MAX (300 s)
    )
    wait_for(
        "its SyncWork healthy", lambda: healthy(syncwork(hub, DAEMON_CLUSTER, ns["daemon"], "Deployment", "quota"))
    )
    wait_for(
        "the hub Deployment no longer degraded",
        lambda: (
            not any(
                c.type == "Degraded"
                for c in client.AppsV1Api(hub)
                .read_namespaced_deployment_status("quota", ns["daemon"])
                .status.conditions
                or ()
            )
        ),
    )


def test_a_manifest_without_a_name_is_reported_or_refused_by_the_hub(truth):
    """A SyncWork whose manifest has no name: the hub refuses it at admission (naming the field) where
    the CRD validates it; else the syncer reports MissingName on it, and workload_sync, which plans
    that namespace, removes it without failing."""
    hub, bed, ns, syncer = truth["hub"], truth["bed"], truth["ns"], truth["syncer"]
    objects = client.CustomObjectsApi(hub)
    orphan_ns = f"truth-manual-{uuid.uuid4().hex[:6]}"  # a source namespace no controller watches

    def nameless(cluster, source_ns):
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SyncWork",
            "metadata": {
                "name": f"{source_ns}.nameless.configmap",
                "labels": {LABEL_SOURCE_NAMESPACE: source_ns, "tmc.kcp.io/cluster": cluster},
            },
            "spec": {
                "cluster": cluster,
                "source": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": source_ns, "name": "nameless"},
                "manifest": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"namespace": source_ns},
                    "data": {"a": "b"},
                },
            },
        }

    try:
        objects.create_namespaced_custom_object(
            GROUP, VERSION, f"tmc-cluster-{DAEMON_CLUSTER}", "syncworks", nameless(DAEMON_CLUSTER, orphan_ns)
        )
    except ApiException as err:
        assert err.status == 422 and "metadata.name" in err.body, err.body  # refused by the hub
        return
    name = f"{orphan_ns}.nameless.configmap"
    try:
        work = wait_for(
            "MissingName on the SyncWork",
            lambda: (lambda w: w if degraded(w, "MissingName") else None)(
                objects.get_namespaced_custom_object(GROUP, VERSION, f"tmc-cluster-{DAEMON_CLUSTER}", "syncworks", name)
            ),
        )
        message = assert_failed_as(work, "MissingName")
        assert "spec.manifest.metadata.name" in message
        assert len(syncer_lines(syncer, "SyncWork cannot be applied", f"tmc-cluster-{DAEMON_CLUSTER}/{name}")) == 1
    finally:
        objects.delete_namespaced_custom_object(GROUP, VERSION, f"tmc-cluster-{DAEMON_CLUSTER}", "syncworks", name)

    # workload_sync plans its namespace: a SyncWork no placement wants goes, nameless or not, and the
    # pass does not fail on it.
    body = nameless(MODULE_CLUSTER, ns["module"])
    body["metadata"]["finalizers"] = ["tmc.kcp.io/syncer"]
    objects.create_namespaced_custom_object(GROUP, VERSION, f"tmc-cluster-{MODULE_CLUSTER}", "syncworks", body)
    sync_module(bed, ns["module"])
    wait_for(
        "the nameless SyncWork gone",
        lambda: body["metadata"]["name"] not in syncwork_names(hub, MODULE_CLUSTER, ns["module"]),
        timeout=30,
    )
