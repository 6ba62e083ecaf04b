"""The testbed is made of real, working clusters (issue: testbed evidence)."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from hack.testbed import HUB


def _wait_for(what, check, timeout=120.0, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def _deployment(name, replicas):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
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


@pytest.fixture
def namespace_on():
    made = []

    def make(api_client):
        name = f"tb-{uuid.uuid4().hex[:8]}"
        client.CoreV1Api(api_client).create_namespace({"metadata": {"name": name}})
        made.append((api_client, name))
        return name

    yield make
    for api_client, name in made:
        try:
            client.CoreV1Api(api_client).delete_namespace(name)
        except ApiException as err:
            if err.status != 404:
                raise


def test_members_have_ready_fake_nodes_with_capacity_and_topology(testbed, member_api_clients):
    regions = set()
    for member, api in member_api_clients.items():
        nodes = client.CoreV1Api(api).list_node().items
        assert len(nodes) == 3, member
        for node in nodes:
            ready = {c.type: c.status for c in node.status.conditions}
            assert ready.get("Ready") == "True", (member, node.metadata.name)
            assert int(node.status.allocatable["pods"]) > 0
            assert node.metadata.labels["topology.kubernetes.io/zone"].startswith(
                node.metadata.labels["topology.kubernetes.io/region"]
            )
        regions.add(nodes[0].metadata.labels["topology.kubernetes.io/region"])
    assert len(regions) == len(member_api_clients)


def test_member_deployment_becomes_available(member_api_clients, namespace_on):
    api = member_api_clients["member1"]
    ns = namespace_on(api)
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, _deployment("web", 3))

    def available():
        status = apps.read_namespaced_deployment_status("web", ns).status
        return status.available_replicas == 3 and status

    _wait_for("3 available replicas on member1", available)
    pods = client.CoreV1Api(api).list_namespaced_pod(ns).items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.spec.node_name for p in pods)


def test_hub_has_no_workload_controllers_and_deletes_namespaces(hub_api_client, namespace_on):
    ns = namespace_on(hub_api_client)
    apps = client.AppsV1Api(hub_api_client)
    apps.create_namespaced_deployment(ns, _deployment("web", 2))
    # Give a (nonexistent) deployment controller ample time to act.
    time.sleep(5)
    assert apps.list_namespaced_replica_set(ns).items == []
    assert client.CoreV1Api(hub_api_client).list_namespaced_pod(ns).items == []
    # The hub's namespace controller finalizes deletion (removes the Deployment too).
    core = client.CoreV1Api(hub_api_client)
    core.delete_namespace(ns)

    def gone():
        try:
            core.read_namespace(ns)
        except ApiException as err:
            return err.status == 404
        return False

    _wait_for(f"namespace {ns} deleted on the hub", gone, timeout=90)


def test_rbac_is_enforced(testbed, hub_api_client):
    """An identity without bindings is refused: the API servers authorize with RBAC."""
    core = client.CoreV1Api(hub_api_client)
    ns = "default"
    name = f"nobody-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_service_account(ns, {"metadata": {"name": name}})
    try:
        token = core.create_namespaced_service_account_token(
            name, ns, {"spec": {"expirationSeconds": 600}}
        ).status.token
        configuration = client.Configuration()
        configuration.host = testbed.server(HUB, direct=True)
        configuration.ssl_ca_cert = str(testbed.dir / "pki" / "ca.crt")
        configuration.api_key = {"authorization": "Bearer " + token}
        with client.ApiClient(configuration) as api, pytest.raises(ApiException) as err:
            client.CoreV1Api(api).list_namespaced_secret("kube-system")
        assert err.value.status == 403
    finally:
        core.delete_namespaced_service_account(name, ns)


def _proxied_client(testbed, cluster):
    from kubernetes import config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(testbed.kubeconfig(cluster)), client_configuration=configuration)
    configuration.retries = 0
    return client.ApiClient(configuration)


def test_cutting_a_proxy_partitions_the_cluster(testbed):
    with _proxied_client(testbed, "member2") as api:
        version = client.VersionApi(api)
        assert version.get_code(_request_timeout=5).git_version.startswith("v1.36.")
        testbed.proxy_cut("member2")
        try:
            with pytest.raises((Urllib3Error, OSError)):
                version.get_code(_request_timeout=3)
        finally:
            testbed.proxy_restore("member2")
        assert _wait_for("member2 reachable again", lambda: version.get_code(_request_timeout=5).git_version)


def test_binaries_report_their_real_versions(testbed):
    import subprocess
    from pathlib import Path

    bin_dir = Path(testbed.state["bin_dir"])
    out = subprocess.run([bin_dir / "kube-apiserver", "--version"], capture_output=True, text=True, check=False).stdout
    assert out.strip() == "Kubernetes v1.36.3"
    out = subprocess.run([bin_dir / "etcd", "--version"], capture_output=True, text=True, check=False).stdout
    assert "etcd Version: 3.6.8" in out
