"""``kubectl tmc`` on the testbed, run as kubectl runs it (the ``kubectl-tmc`` plugin on PATH), against a
controller and a syncer per member running as real processes. Oracles: the official kubernetes client
(the hub's objects, the members' Deployments) and the controller itself (what-if against what it does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from kubernetes import client

from hack.testbed import HUB

from ..conftest import COLLECTIONS
from .monitoring import HEARTBEAT, MonitoredFleet, wait_for

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
THRESHOLDS = [
    "--heartbeat-threshold",
    HEARTBEAT["--heartbeat-threshold"],
    "--eviction-timeout",
    HEARTBEAT["--eviction-timeout"],
]


def kubectl_tmc(bed, *args, expect: int | None = 0) -> subprocess.CompletedProcess:
    """``kubectl tmc ARGS`` with the testbed's kubectl, which finds the plugin ``kubectl-tmc`` on PATH."""
    plugin = shutil.which("kubectl-tmc")
    assert plugin, "kubectl-tmc is not on PATH: `make cli` installs it (make unit/integration do)"
    env = {**os.environ, "PYTHONPATH": str(COLLECTIONS), "KUBECONFIG": str(bed.kubeconfig(HUB, direct=True))}
    kubectl = os.path.join(bed.state["bin_dir"], "kubectl")
    done = subprocess.run([kubectl, "tmc", *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    if expect is not None:
        assert done.returncode == expect, (
            f"kubectl tmc {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def as_json(bed, *args, expect: int | None = 0) -> dict:
    return json.loads(kubectl_tmc(bed, "-o", "json", *THRESHOLDS, *args, expect=expect).stdout)


@pytest.fixture(scope="module")
def fleet(tmc_hub, tmp_path_factory):
    monitored = MonitoredFleet(tmc_hub, tmp_path_factory.mktemp("cli"), with_prometheus=False)
    try:
        yield monitored.start()
    finally:
        monitored.stop()


@pytest.fixture(scope="module")
def hub(fleet):
    from .conftest import _api_client

    api = _api_client(fleet.bed.kubeconfig(HUB, direct=True))
    client.CoreV1Api(api).create_namespace({"metadata": {"name": fleet.ns}})
    yield api
    client.CoreV1Api(api).delete_namespace(fleet.ns)
    api.close()


def deployment(name: str, tier: str, replicas: int = 2) -> dict:
    labels = {"app": name, "tier": tier}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "r.example/a:1"}]},
            },
        },
    }


def placement_body(name: str, spec: dict) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WorkloadPlacement", "metadata": {"name": name}, "spec": spec}


def status_clusters(hub, ns: str, name: str) -> list[str]:
    wp = client.CustomObjectsApi(hub).get_namespaced_custom_object(GROUP, VERSION, ns, "workloadplacements", name)
    return sorted(d["cluster"] for d in (wp.get("status") or {}).get("decisions") or [])


def on_members(fleet, name: str) -> set[str]:
    from .conftest import _api_client

    found = set()
    for member in fleet.bed.members:
        with _api_client(fleet.bed.kubeconfig(member, direct=True)) as api:
            try:
                client.AppsV1Api(api).read_namespaced_deployment(name, fleet.ns)
                found.add(member)
            except client.ApiException as err:
                if err.status != 404:
                    raise
    return found


@pytest.fixture(scope="module")
def placed(fleet, hub):
    """Two placements (2 clusters Steady; every cluster) and their workloads, converged."""
    custom, apps = client.CustomObjectsApi(hub), client.AppsV1Api(hub)
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        fleet.ns,
        "workloadplacements",
        placement_body(
            "two",
            {
                "workloadSelector": {"matchLabels": {"tier": "two"}},
                "numberOfClusters": 2,
                "prioritizers": [{"name": "Steady", "weight": 10}],
            },
        ),
    )
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        fleet.ns,
        "workloadplacements",
        placement_body("all", {"workloadSelector": {"matchLabels": {"tier": "all"}}}),
    )
    apps.create_namespaced_deployment(fleet.ns, deployment("api", "two"))
    apps.create_namespaced_deployment(fleet.ns, deployment("agent", "all", replicas=1))
    wait_for("api on two clusters", lambda: len(on_members(fleet, "api")) == 2, timeout=120)
    wait_for("agent everywhere", lambda: on_members(fleet, "agent") == set(fleet.bed.members), timeout=120)
    return fleet


def test_kubectl_finds_the_plugin_and_it_explains_itself(fleet):
    done = kubectl_tmc(fleet.bed, "--help")
    for command in ("clusters", "placements", "explain", "workloads", "cordon", "drain", "what-if", "doctor"):
        assert command in done.stdout


def test_clusters_lists_every_member_with_its_health(placed, hub):
    data = as_json(placed.bed, "clusters")
    names = {c["name"] for c in data["clusters"]}
    registered = {
        r["metadata"]["name"]
        for r in client.CustomObjectsApi(hub).list_cluster_custom_object(GROUP, VERSION, "clusterregistrations")[
            "items"
        ]
    }
    assert names == registered and set(placed.bed.members) <= names
    for view in data["clusters"]:
        if view["name"] in placed.bed.members:
            assert view["ready"] is True and view["sync_mode"] == "Pull" and view["heartbeat_age_seconds"] < 6
            assert view["allocatable"].get("cpu")
    table = kubectl_tmc(placed.bed, "clusters").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "READY", "HEARTBEAT"]
    yaml_out = kubectl_tmc(placed.bed, "-o", "yaml", "clusters").stdout
    assert yaml_out.startswith("clusters:")


def test_placements_and_explain_agree_with_the_controller(placed, hub):
    ns = placed.ns
    data = as_json(placed.bed, "placements", "-n", ns)
    by_name = {p["name"]: p for p in data["placements"]}
    assert sorted(by_name["two"]["clusters"]) == status_clusters(hub, ns, "two")
    explained = as_json(placed.bed, "explain", "two", "-n", ns, "--workload", "Deployment/api")
    chosen = sorted(c for c, e in explained["clusters"].items() if e["selected"])
    assert chosen == status_clusters(hub, ns, "two") == sorted(on_members(placed, "api"))
    assert all(e["reasons"] for e in explained["clusters"].values())
    assert explained["workload"]["selected"] is True
    other = as_json(placed.bed, "explain", "two", "-n", ns, "--workload", "agent")
    assert other["workload"]["selected"] is False
    missing = kubectl_tmc(placed.bed, "explain", "nope", "-n", ns, expect=2)
    assert "nope" in missing.stderr


def test_workloads_shows_each_copy_where_it_runs(placed):
    data = as_json(placed.bed, "workloads", "-n", placed.ns)
    where = {}
    for workload in data["workloads"]:
        where[workload["name"]] = {c["cluster"] for c in workload["clusters"]}
    assert where["api"] == on_members(placed, "api")
    assert where["agent"] == on_members(placed, "agent") == set(placed.bed.members)


def test_cordon_uncordon_and_drain(placed, hub):
    custom = client.CustomObjectsApi(hub)
    victim = sorted(on_members(placed, "api"))[0]

    def spec():
        return custom.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", victim)["spec"]

    assert as_json(placed.bed, "cordon", victim)["changed"] is True
    assert spec()["unschedulable"] is True
    assert as_json(placed.bed, "cordon", victim)["changed"] is False  # idempotent
    assert victim in on_members(placed, "api")  # cordon moves nothing
    dry = as_json(placed.bed, "drain", victim, "--dry-run")
    assert dry["changed"] is True and not any(t["key"] == "tmc.kcp.io/draining" for t in spec().get("taints") or [])
    as_json(placed.bed, "drain", victim)
    assert {"key": "tmc.kcp.io/draining", "effect": "NoExecute"} in [
        {k: t[k] for k in ("key", "effect")} for t in spec()["taints"]
    ]
    wait_for(
        f"api moved off {victim}",
        lambda: victim not in on_members(placed, "api") and len(on_members(placed, "api")) == 2,
        timeout=180,
    )
    as_json(placed.bed, "uncordon", victim)
    after = spec()
    assert not after.get("unschedulable") and not any(
        t["key"] == "tmc.kcp.io/draining" for t in after.get("taints") or []
    )


def test_what_if_lose_matches_what_the_controller_does(placed, hub):
    ns = placed.ns
    victim = sorted(on_members(placed, "api"))[0]
    predicted = {p["placement"]: p for p in as_json(placed.bed, "what-if", "--lose", victim, "-n", ns)["placements"]}
    assert victim in predicted["two"]["removed"] and victim not in predicted["two"]["after"]
    assert predicted["all"]["after"] == sorted(set(placed.bed.members) - {victim})
    syncer = placed.syncers[victim]
    syncer.stop()
    try:
        for name, expected in predicted.items():
            wait_for(
                f"the controller's decisions for {name} without {victim}",
                lambda n=name: victim not in status_clusters(hub, ns, n),
                timeout=180,
            )
            assert status_clusters(hub, ns, name) == sorted(expected["after"]), name
    finally:
        syncer.start().wait_ready()
    wait_for(
        f"{victim} Ready again",
        lambda: any(c["name"] == victim and c["ready"] is True for c in as_json(placed.bed, "clusters")["clusters"]),
        timeout=120,
    )


def test_what_if_drain_is_offline(placed, hub):
    custom = client.CustomObjectsApi(hub)
    name = placed.bed.members[1]

    def ours(reg):  # what the CLI's field manager wrote, and when (the controller writes status meanwhile)
        return reg["spec"], [f for f in reg["metadata"].get("managedFields") or [] if f["manager"] == "tmc-cli"]

    before = ours(custom.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name))
    data = as_json(placed.bed, "what-if", "--drain", name, "-n", placed.ns)
    assert data["scenario"]["drain"] == name and data["placements"]
    agent = next(p for p in data["placements"] if p["placement"] == "all")
    assert agent["removed"] == [name]  # drained, the every-cluster placement leaves it
    assert ours(custom.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", name)) == before
    kubectl_tmc(placed.bed, "what-if", "--drain", "no-such-cluster", expect=2)


def doctor(fleet, expect=None) -> dict:
    daemons = [arg for name, url in fleet.endpoints().items() for arg in ("--daemon", f"{name}={url}")]
    return as_json(fleet.bed, "doctor", *daemons, "--leader-lease-duration", "6", expect=expect)


def failing(report: dict, check: str) -> list[dict]:
    return [f for f in report["findings"] if f["check"] == check and f["status"] != "ok"]


def ours_clean(fleet, report: dict) -> bool:
    """No finding about this module's clusters, daemons or the leader (other tests of the session may
    leave clusters of their own behind: not this test's business)."""
    names = [*fleet.bed.members, *(d.name for d in fleet.daemons)]
    bad = [f for f in report["findings"] if f["status"] != "ok"]
    return not [f for f in bad if f["check"] in ("leader", "hub", "crds") or any(n in f["message"] for n in names)]


def test_doctor_reports_a_stopped_syncer_and_its_stale_heartbeat_with_fixes(placed):
    wait_for("a clean doctor report", lambda: ours_clean(placed, doctor(placed, expect=None)), timeout=60)
    victim = placed.bed.members[2]
    syncer = placed.syncers[victim]
    syncer.stop()
    try:
        report = doctor(placed, expect=1)
        (down,) = [f for f in failing(report, "daemons") if syncer.name in f["message"]]
        assert "does not answer" in down["message"] and "start it again" in down["fix"]
        stale = wait_for(
            f"the stale heartbeat of {victim}",
            lambda: [f for f in failing(doctor(placed, expect=1), "heartbeats") if victim in f["message"]],
            timeout=60,
        )
        assert "stale" in stale[0]["message"] and "syncer of" in stale[0]["fix"] and "pull mode" in stale[0]["fix"]
        table = kubectl_tmc(
            placed.bed,
            *THRESHOLDS,
            "doctor",
            "--daemon",
            f"{syncer.name}=http://127.0.0.1:{syncer.health_port}",
            expect=1,
        ).stdout
        assert "FAIL" in table and "fix (daemons):" in table and "fix (heartbeats):" in table
    finally:
        syncer.start().wait_ready()
    wait_for("a clean doctor report again", lambda: ours_clean(placed, doctor(placed, expect=None)), timeout=60)


def test_doctor_reports_a_missing_admission_policy_with_its_fix(placed, hub):
    from ansible_collections.tmc.multicluster.plugins.module_utils.cli.doctor import shipped_policies

    shipped = [name for kind, name in shipped_policies() if kind == "ValidatingAdmissionPolicy"]
    if not shipped:
        pytest.skip("this checkout's hub role ships no ValidatingAdmissionPolicy")
    admission = client.AdmissionregistrationV1Api(hub)
    victim = shipped[0]
    saved = admission.read_validating_admission_policy(victim)
    admission.delete_validating_admission_policy(victim)
    try:
        report = doctor(placed, expect=1)
        (finding,) = [f for f in failing(report, "admission") if victim in f["message"]]
        assert "missing" in finding["message"] and "tmc.multicluster.hub" in finding["fix"]
    finally:
        body = client.ApiClient().sanitize_for_serialization(saved)
        body["metadata"] = {"name": victim, "labels": body["metadata"].get("labels")}
        admission.create_validating_admission_policy(body)
    assert not failing(doctor(placed, expect=None), "admission")


def test_doctor_on_an_unreachable_hub_says_so(fleet, tmp_path):
    broken = tmp_path / "broken.kubeconfig"
    config = json.loads(json.dumps(__import__("yaml").safe_load(fleet.bed.kubeconfig(HUB, direct=True).read_text())))
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    broken.write_text(json.dumps(config))
    env = {**os.environ, "PYTHONPATH": str(COLLECTIONS)}
    done = subprocess.run(
        ["kubectl-tmc", "--kubeconfig", str(broken), "-o", "json", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["findings"][0]["check"] == "hub" and report["findings"][0]["fix"]
