"""The inventory plugin tmc.multicluster.clusters, through the real ansible-inventory, on the real testbed.

The clusters are registered under names of their own (``inv-*``, pointing at the
testbed members) and labelled ``tmc-test=inventory``, so that other test modules
sharing the testbed neither see nor remove them; they are deregistered at the end.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from ..conftest import REPO
from .ansible_cli import BIN, _env, hub_args, run_module

MARK = {"tmc-test": "inventory"}
EAST, WEST, EDGE = "inv-east", "inv-west", "inv-edge"
OURS = {EAST, WEST, EDGE}
MEMBER_SA = "tmc-inventory-test"
VIEWER_SA = "tmc-inventory-viewer"

HOST_VARIABLES = {
    "ansible_connection",
    "tmc_cluster_name",
    "tmc_location",
    "tmc_labels",
    "tmc_ready",
    "tmc_ready_status",
    "tmc_ready_reason",
    "tmc_heartbeat_age_seconds",
    "tmc_last_heartbeat",
    "tmc_schedulable",
    "tmc_cordoned",
    "tmc_taints",
    "tmc_capacity",
    "tmc_allocatable",
    "tmc_kubernetes_version",
    "tmc_sync_mode",
    "tmc_endpoint",
    "tmc_workloads",
    "tmc_workloads_applied",
    "tmc_workloads_available",
    "tmc_hub_namespace",
}


# ------------------------------------------------------------------ helpers


def deregister(bed, name):
    run = run_module("cluster_registration", hub_args(bed, name=name, state="absent", drain=False))
    assert not run.failed, run.output


def _ignore_conflict(call, *args):
    try:
        call(*args)
    except ApiException as err:
        if err.status != 409:
            raise


def _ignore_missing(call, *args):
    try:
        call(*args)
    except ApiException as err:
        if err.status != 404:
            raise


def service_account_token(api_client, namespace, name, cluster_role):
    """A ServiceAccount bound to ``cluster_role`` and a short-lived token for it."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    _ignore_conflict(core.create_namespaced_service_account, namespace, {"metadata": {"name": name}})
    _ignore_conflict(
        rbac.create_cluster_role_binding,
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )
    return core.create_namespaced_service_account_token(name, namespace, {"spec": {}}).status.token


def remove_service_account(api_client, namespace, name):
    _ignore_missing(client.RbacAuthorizationV1Api(api_client).delete_cluster_role_binding, name)
    _ignore_missing(client.CoreV1Api(api_client).delete_namespaced_service_account, name, namespace)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unwrap(obj):
    """ansible-inventory marks untrusted strings as {"__ansible_unsafe": value}."""
    return obj["__ansible_unsafe"] if set(obj) == {"__ansible_unsafe"} else obj


def parse_graph(text):
    """``ansible-inventory --graph`` output as {group: set of direct hosts}."""
    groups: dict[str, set] = {}
    stack: list[str] = []
    for line in text.splitlines():
        if line.startswith("@"):
            depth, name = 0, line
        elif "|--" in line:
            at = line.index("|--")
            depth, name = at // 3 + 1, line[at + 3 :]
        else:
            continue
        if name.startswith("@"):
            group = name[1:].rstrip(":")
            groups.setdefault(group, set())
            del stack[depth:]
            stack.append(group)
        else:
            groups[stack[depth - 1]].add(name)
    return groups


@dataclass
class Inventory:
    rc: int
    stdout: str
    stderr: str

    @property
    def data(self):
        return json.loads(self.stdout, object_hook=_unwrap)

    @property
    def hostvars(self):
        return self.data["_meta"]["hostvars"]

    def hosts(self, group):
        return set(self.data.get(group, {}).get("hosts", []))


def ansible_inventory(source: Path, *args: str, env: dict | None = None) -> Inventory:
    cmd = [str(BIN / "ansible-inventory"), "-i", str(source), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(env), cwd=REPO, timeout=300, check=False)
    return Inventory(proc.returncode, proc.stdout, proc.stderr)


def write_config(path: Path, **options) -> Path:
    path.write_text(yaml.safe_dump({"plugin": "tmc.multicluster.clusters", **options}, sort_keys=False))
    return path


FAIL_ON_ERROR = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"}


# ------------------------------------------------------------------ the registered clusters


@dataclass
class Setup:
    bed: object
    dir: Path
    config: Path
    syncer_kubeconfig: Path
    secrets: list = field(default_factory=list)


def _credentials_secrets(hub_api_client, name):
    """The push-mode credentials Secret's data, and every secret string in the kubeconfig it holds."""
    stored = client.CoreV1Api(hub_api_client).read_namespaced_secret(f"cluster-{name}-credentials", "tmc-system")
    encoded = stored.data["kubeconfig"]
    kubeconfig = json.loads(base64.b64decode(encoded))
    found = [encoded]
    for user in kubeconfig["users"]:
        found += [value for value in user["user"].values() if isinstance(value, str)]
    return found


@pytest.fixture(scope="module")
def registered(tmc_hub, hub_api_client, member_api_clients, tmp_path_factory):
    """Three clusters: east (push with a bearer token, heartbeat, syncer kubeconfig), west (push with client
    certificates, heartbeat, cordoned) and edge (pull, never a heartbeat). Deregistered at the end."""
    bed = tmc_hub
    workdir = tmp_path_factory.mktemp("inventory")
    for name in OURS:
        deregister(bed, name)  # left over from an interrupted run
    token = service_account_token(member_api_clients["member1"], "kube-system", MEMBER_SA, "cluster-admin")
    syncer_kubeconfig = workdir / "inv-east-syncer.kubeconfig"
    runs = {
        EAST: hub_args(
            bed,
            name=EAST,
            location="lab-us-east",
            labels={**MARK, "tier": "prod", "gpu": "true"},
            member={
                "host": bed.server("member1", direct=True),
                "api_key": token,
                "ca_cert": str(bed.dir / "pki" / "ca.crt"),
            },
            heartbeat=True,
            syncer_kubeconfig_dest=str(syncer_kubeconfig),
        ),
        WEST: hub_args(
            bed,
            name=WEST,
            location="lab-us-west",
            labels={**MARK, "tier": "prod", "gpu": "false"},
            member={"kubeconfig": str(bed.kubeconfig("member2", direct=True))},
            unschedulable=True,
            heartbeat=True,
        ),
        EDGE: hub_args(bed, name=EDGE, location="lab-eu-central", labels={**MARK, "tier": "staging"}, sync_mode="Pull"),
    }
    try:
        for args in runs.values():  # one registration per member: an earlier test's is taken over
            run = run_module("cluster_registration", {**args, "take_over": True})
            assert not run.failed, run.output
        east_credentials = _credentials_secrets(hub_api_client, EAST)
        assert token in east_credentials, "push mode stores the member token on the hub"
        secrets = [token, *east_credentials, *_credentials_secrets(hub_api_client, WEST)]
        secrets.append(json.loads(syncer_kubeconfig.read_text())["users"][0]["user"]["token"])
        syncer_secret = client.CoreV1Api(hub_api_client).read_namespaced_secret("syncer-token", f"tmc-cluster-{EAST}")
        secrets += [syncer_secret.data["token"], base64.b64decode(syncer_secret.data["token"]).decode()]
        config = write_config(
            workdir / "hub.tmc_clusters.yml",
            kubeconfig=str(bed.kubeconfig(HUB, direct=True)),
            label_selector="tmc-test=inventory",
            group_by_labels=["tier", "gpu"],
            heartbeat_threshold=600,
            eviction_timeout=1200,
            compose={"cpu_allocatable": "tmc_allocatable.cpu | default('0') | int"},
            groups={"schedulable": "tmc_schedulable"},
            keyed_groups=[{"key": "tmc_sync_mode", "prefix": "sync"}],
            strict=True,
        )
        yield Setup(bed, workdir, config, syncer_kubeconfig, [s for s in secrets if s])
    finally:
        for name in OURS:
            deregister(bed, name)
        remove_service_account(member_api_clients["member1"], "kube-system", MEMBER_SA)


# ------------------------------------------------------------------ tests


def test_graph_groups_by_location_labels_health_and_cordon(registered):
    run = ansible_inventory(registered.config, "--graph")
    assert run.rc == 0, run.stderr
    groups = parse_graph(run.stdout)
    expected = {
        "location_lab_us_east": {EAST},
        "location_lab_us_west": {WEST},
        "location_lab_eu_central": {EDGE},
        "tier_prod": {EAST, WEST},
        "tier_staging": {EDGE},
        "gpu_true": {EAST},
        "gpu_false": {WEST},
        "ready": {EAST, WEST},
        "not_ready": {EDGE},
        "cordoned": {WEST},
        # constructed features: groups and keyed_groups
        "schedulable": {EAST},
        "sync_Push": {EAST, WEST},
        "sync_Pull": {EDGE},
    }
    for group, hosts in expected.items():
        assert groups.get(group) == hosts, f"{group}: {groups.get(group)}\n{run.stdout}"
    # Only the clusters the label selector matches.
    assert set().union(*groups.values()) == OURS


def test_list_host_variables(registered):
    bed = registered.bed
    run = ansible_inventory(registered.config, "--list")
    assert run.rc == 0, run.stderr
    hostvars = run.hostvars
    assert set(hostvars) == OURS
    for name, variables in hostvars.items():
        assert set(variables) == HOST_VARIABLES | {"cpu_allocatable"}, name
        assert variables["tmc_cluster_name"] == name
        assert variables["tmc_hub_namespace"] == f"tmc-cluster-{name}"
        assert variables["tmc_workloads"] == 0
        assert variables["ansible_connection"] == "local"

    east = hostvars[EAST]
    assert east["tmc_location"] == "lab-us-east"
    assert east["tmc_labels"] == {**MARK, "tier": "prod", "gpu": "true"}
    assert east["tmc_ready"] is True and east["tmc_ready_status"] == "True"
    assert east["tmc_ready_reason"] == "ClusterReady"
    assert 0 <= east["tmc_heartbeat_age_seconds"] < 600
    assert east["tmc_last_heartbeat"].endswith("Z")
    assert east["tmc_schedulable"] is True and east["tmc_cordoned"] is False
    assert east["tmc_taints"] == []
    assert east["tmc_allocatable"] == {"cpu": "48", "memory": "192Gi", "pods": "1500"}
    assert east["tmc_capacity"]["cpu"] == "48"
    assert east["cpu_allocatable"] == 48
    assert east["tmc_kubernetes_version"] == "v1.36.3"
    assert east["tmc_sync_mode"] == "Push"
    assert east["tmc_endpoint"] == bed.server("member1", direct=True)
    assert east["tmc_workloads_applied"] == 0 and east["tmc_workloads_available"] == 0

    west = hostvars[WEST]
    assert west["tmc_ready"] is True
    assert west["tmc_cordoned"] is True and west["tmc_schedulable"] is False
    assert [(t["key"], t["effect"]) for t in west["tmc_taints"]] == [("tmc.kcp.io/unschedulable", "NoSchedule")]
    assert west["tmc_capacity"]["cpu"] == "24"
    assert west["tmc_endpoint"] == bed.server("member2", direct=True)

    edge = hostvars[EDGE]
    assert edge["tmc_ready"] is False and edge["tmc_ready_status"] == "Unknown"
    assert edge["tmc_ready_reason"] == "NoHeartbeat"
    assert edge["tmc_heartbeat_age_seconds"] is None and edge["tmc_last_heartbeat"] is None
    assert [(t["key"], t["effect"]) for t in edge["tmc_taints"]] == [("tmc.kcp.io/unreachable", "NoSchedule")]
    assert edge["tmc_schedulable"] is False and edge["tmc_cordoned"] is False
    assert edge["tmc_sync_mode"] == "Pull"
    assert edge["tmc_endpoint"] is None
    assert edge["tmc_capacity"] == {} and edge["cpu_allocatable"] == 0
    assert edge["tmc_labels"] == {**MARK, "tier": "staging"}
    assert run.hosts("ready") == {EAST, WEST} and run.hosts("not_ready") == {EDGE}


def test_no_credential_in_the_inventory(registered):
    assert len(registered.secrets) >= 6
    for args in (("--list",), ("--graph", "--vars"), ("--list", "--yaml", "-vvv")):
        run = ansible_inventory(registered.config, *args)
        assert run.rc == 0, run.stderr
        for secret in registered.secrets:
            assert secret not in run.stdout, f"a credential is in the output of ansible-inventory {' '.join(args)}"
            assert secret not in run.stderr
    hostvars = ansible_inventory(registered.config, "--list").hostvars
    for variables in hostvars.values():
        for name in variables:
            assert not any(word in name for word in ("token", "kubeconfig", "credential", "secret", "key")), name


def test_all_clusters_through_the_environment_tolerates_others(registered):
    """No label selector and the hub kubeconfig from K8S_AUTH_KUBECONFIG: other clusters may be there too."""
    # Health here is not the point: heartbeats count as fresh for an hour (a loaded machine is slow).
    config = write_config(registered.dir / "env.tmc_clusters.yml", heartbeat_threshold=3600, eviction_timeout=7200)
    run = ansible_inventory(
        config, "--list", env={"K8S_AUTH_KUBECONFIG": str(registered.bed.kubeconfig(HUB, direct=True))}
    )
    assert run.rc == 0, run.stderr
    assert set(run.hostvars) >= OURS
    assert {EAST, WEST} <= run.hosts("ready") and EDGE in run.hosts("not_ready")
    assert run.hosts("location_lab_us_east") == {EAST}
    assert "tier_prod" not in run.data, "no label groups without group_by_labels"


def test_thresholds_decide_health(registered):
    """With a tiny heartbeat threshold and eviction timeout every heartbeat is stale, and evicting."""
    config = write_config(
        registered.dir / "strict.tmc_clusters.yml",
        kubeconfig=str(registered.bed.kubeconfig(HUB, direct=True)),
        label_selector="tmc-test=inventory",
        heartbeat_threshold=0.001,
        eviction_timeout=0.002,
    )
    run = ansible_inventory(config, "--list")
    assert run.rc == 0, run.stderr
    east = run.hostvars[EAST]
    assert east["tmc_ready"] is False and east["tmc_ready_reason"] == "HeartbeatStale"
    assert [(t["key"], t["effect"]) for t in east["tmc_taints"]] == [
        ("tmc.kcp.io/unreachable", "NoSchedule"),
        ("tmc.kcp.io/unreachable", "NoExecute"),
    ]
    assert run.hosts("not_ready") == OURS and not run.hosts("ready")


def test_unreachable_hub_says_what_to_fix_without_the_token(registered, tmp_path):
    port = free_port()
    api_key = f"tmc-inventory-secret-{uuid.uuid4().hex}"
    config = write_config(
        tmp_path / "down.tmc_clusters.yml",
        host=f"https://127.0.0.1:{port}",
        api_key=api_key,
        validate_certs=False,
        request_timeout=5,
    )
    failed = ansible_inventory(config, "--list", env=FAIL_ON_ERROR)
    assert failed.rc != 0
    message = " ".join(failed.stderr.split())
    assert f"cannot reach the hub at https://127.0.0.1:{port}" in message, failed.stderr
    assert "hub API server is running" in message and "kubeconfig, context, host, api_key" in message
    assert api_key not in failed.stdout + failed.stderr
    # By default a failed source is a warning with the same message, and the inventory is empty.
    warned = ansible_inventory(config, "--list")
    assert warned.rc == 0
    assert f"cannot reach the hub at https://127.0.0.1:{port}" in " ".join(warned.stderr.split())
    assert api_key not in warned.stdout + warned.stderr


def test_bad_options_say_what_to_fix(registered, tmp_path):
    hub = str(registered.bed.kubeconfig(HUB, direct=True))
    cases = {
        "thresholds": (
            {"kubeconfig": hub, "heartbeat_threshold": 60, "eviction_timeout": 30},
            "eviction_timeout: must be at least the heartbeat threshold",
        ),
        "gates": ({"kubeconfig": hub, "feature_gates": {"TMC": False}}, "feature gate TMC is off"),
        "selector": ({"kubeconfig": hub, "label_selector": "tier in (prod"}, "label_selector 'tier in (prod' is not"),
        "kubeconfig": ({"kubeconfig": str(tmp_path / "missing.kubeconfig")}, "cannot load kubeconfig"),
    }
    for case, (options, expected) in cases.items():
        run = ansible_inventory(
            write_config(tmp_path / f"{case}.tmc_clusters.yml", **options), "--list", env=FAIL_ON_ERROR
        )
        assert run.rc != 0, case
        assert expected in " ".join(run.stderr.split()), f"{case}: {run.stderr}"


def test_forbidden_identity_names_the_role_without_the_token(registered):
    """The syncer's identity may not list registrations: the error says which permission, not the token."""
    config = write_config(registered.dir / "syncer.tmc_clusters.yml", kubeconfig=str(registered.syncer_kubeconfig))
    run = ansible_inventory(config, "--list", env=FAIL_ON_ERROR)
    assert run.rc != 0
    message = " ".join(run.stderr.split())
    assert "forbids this" in message and "clusterregistrations.tmc.kcp.io" in message and "tmc-view" in message
    for secret in registered.secrets:
        assert secret not in run.stdout + run.stderr


def test_view_only_identity_falls_back_to_registration_status(registered, hub_api_client):
    """Bound to tmc-view only (no Leases): heartbeats come from status.lastHeartbeatTime, with a warning."""
    bed = registered.bed
    token = service_account_token(hub_api_client, "default", VIEWER_SA, "tmc-view")
    try:
        config = write_config(
            registered.dir / "viewer.tmc_clusters.yml",
            host=bed.server(HUB, direct=True),
            ca_cert=str(bed.dir / "pki" / "ca.crt"),
            label_selector="tmc-test=inventory",
            heartbeat_threshold=600,
            eviction_timeout=1200,
        )
        run = ansible_inventory(config, "--list", env={"K8S_AUTH_API_KEY": token})
        assert run.rc == 0, run.stderr
        assert "may not list leases in namespace tmc-system" in " ".join(run.stderr.split())
        assert set(run.hostvars) == OURS
        assert run.hostvars[EAST]["tmc_ready"] is True
        assert run.hostvars[EAST]["tmc_heartbeat_age_seconds"] < 600
        assert run.hostvars[EDGE]["tmc_ready_reason"] == "NoHeartbeat"
        assert token not in run.stdout + run.stderr
    finally:
        remove_service_account(hub_api_client, "default", VIEWER_SA)


def test_cache_serves_the_inventory_until_flushed(registered, tmp_path):
    bed = registered.bed
    cache_dir = tmp_path / "cache"
    path = tmp_path / "cached.tmc_clusters.yml"
    cache = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache_dir)}
    write_config(path, kubeconfig=str(bed.kubeconfig(HUB, direct=True)), label_selector="tmc-test=inventory", **cache)
    first = ansible_inventory(path, "--list")
    assert first.rc == 0, first.stderr
    assert set(first.hostvars) == OURS
    cached = "".join(p.read_text() for p in cache_dir.iterdir())
    assert EAST in cached
    for secret in registered.secrets:
        assert secret not in cached, "a credential is in the inventory cache"

    # Same source, now pointing at a hub that is down: the cache answers until it is flushed.
    write_config(path, host=f"https://127.0.0.1:{free_port()}", validate_certs=False, request_timeout=5, **cache)
    again = ansible_inventory(path, "--list", env=FAIL_ON_ERROR)
    assert again.rc == 0, again.stderr
    assert set(again.hostvars) == OURS
    flushed = ansible_inventory(path, "--list", "--flush-cache", env=FAIL_ON_ERROR)
    assert flushed.rc != 0 and "cannot reach the hub" in " ".join(flushed.stderr.split())
