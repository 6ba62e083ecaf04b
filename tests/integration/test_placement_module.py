"""The placement module on the real hub: validation by the API server, check/real/repeat, Steady, and the
same decisions as the offline filter tmc.multicluster.place."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from hack.testbed import HUB

from .ansible_cli import hub_args, register_members, run_module, run_playbook

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"


@pytest.fixture(scope="module")
def clusters(tmc_hub):
    tiers = {"member1": "prod", "member2": "prod", "member3": "dev"}
    register_members(tmc_hub, lambda name: {"tier": tiers[name]})
    return tmc_hub


@pytest.fixture
def namespace(clusters, hub_api_client):
    name = f"wp-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(hub_api_client).create_namespace({"metadata": {"name": name}})
    yield name
    client.CoreV1Api(hub_api_client).delete_namespace(name)


# These tests are about policy, not health: heartbeats count as fresh for an hour.
PATIENT = {"heartbeat_threshold": 3600, "eviction_timeout": 7200}


def place(bed, ns, spec, check=False, **extra):
    args = hub_args(bed, name="web", namespace=ns, spec=spec, **PATIENT, **extra)
    return run_module("placement", args, check=check)


def test_invalid_specs_are_refused_by_the_api_server(clusters, namespace):
    for spec, field in (
        ({"numberOfClusters": 0}, "numberOfClusters"),
        ({"replicaScheduling": {"type": "Duplicated", "weights": [{"cluster": "a", "weight": 1}]}}, "weights"),
        ({"spreadConstraints": [{"topologyKey": "location", "maxSkew": 0}]}, "maxSkew"),
    ):
        run = place(clusters, namespace, spec)
        assert run.failed and run.result["status"] == 422, run.output
        assert field in run.result["msg"]


def test_check_real_repeat_and_explanations(clusters, namespace, hub_api_client):
    spec = {"clusterSelector": {"matchLabels": {"tier": "prod"}}}
    check = place(clusters, namespace, spec, check=True)
    assert not check.failed, check.output
    assert check.changed
    assert [d["cluster"] for d in check.result["decisions"]] == ["member1", "member2"]
    assert (
        client.CustomObjectsApi(hub_api_client).list_namespaced_custom_object(
            GROUP, VERSION, namespace, "workloadplacements"
        )["items"]
        == []
    )

    real = place(clusters, namespace, spec)
    assert not real.failed and real.changed, real.output
    explanation = real.result["explanations"]["member3"]
    assert explanation["selected"] is False and any("tier" in r for r in explanation["reasons"])
    wp = client.CustomObjectsApi(hub_api_client).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "workloadplacements", "web"
    )
    assert [d["cluster"] for d in wp["status"]["decisions"]] == ["member1", "member2"]
    assert {c["type"]: c["status"] for c in wp["status"]["conditions"]}["Scheduled"] == "True"

    repeat = place(clusters, namespace, spec)
    assert not repeat.failed and not repeat.changed, repeat.result
    assert not place(clusters, namespace, spec, check=True).changed


def test_steady_keeps_decisions_when_an_equally_good_cluster_appears(clusters, namespace):
    spec = {
        "numberOfClusters": 1,
        "clusterSelector": {"matchLabels": {"tier": "prod"}},
        "prioritizers": [{"name": "Steady", "weight": 10}],
    }
    first = place(clusters, namespace, spec)
    chosen = [d["cluster"] for d in first.result["decisions"]]
    assert len(chosen) == 1
    # member3 becomes prod too: just as good, but Steady keeps the cluster already chosen.
    run_module(
        "cluster_registration",
        hub_args(
            clusters,
            name="member3",
            location=clusters.state["clusters"]["member3"]["region"],
            labels={"tier": "prod"},
            member={"kubeconfig": str(clusters.kubeconfig("member3", direct=True))},
        ),
    )
    try:
        again = place(clusters, namespace, spec)
        assert [d["cluster"] for d in again.result["decisions"]] == chosen
        assert not again.changed
    finally:
        run_module(
            "cluster_registration",
            hub_args(
                clusters,
                name="member3",
                location=clusters.state["clusters"]["member3"]["region"],
                labels={"tier": "dev"},
                member={"kubeconfig": str(clusters.kubeconfig("member3", direct=True))},
            ),
        )


def test_module_and_filter_decide_the_same(clusters, namespace, tmp_path):
    spec = {
        "numberOfClusters": 2,
        "spreadConstraints": [{"topologyKey": "location", "maxSkew": 1}],
        "replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"},
        "prioritizers": [{"name": "Capacity", "weight": 1}],
    }
    playbook = tmp_path / "compare.yml"
    hub = str(clusters.kubeconfig(HUB, direct=True))
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Decide on the hub",
                            "register": "online",
                            "tmc.multicluster.placement": {
                                "kubeconfig": hub,
                                "name": "web",
                                "namespace": namespace,
                                "spec": spec,
                                **PATIENT,
                            },
                        },
                        {
                            "name": "Read the clusters",
                            "register": "info",
                            "tmc.multicluster.cluster_info": {"kubeconfig": hub, **PATIENT},
                        },
                        {
                            "name": "Decide offline",
                            "ansible.builtin.set_fact": {
                                "offline": "{{ info.clusters | tmc.multicluster.place({'spec': spec}) }}"
                            },
                            "vars": {"spec": spec},
                        },
                        {
                            "name": "Compare",
                            "ansible.builtin.assert": {
                                "fail_msg": "online {{ online.decisions }} offline {{ offline }}",
                                "that": [
                                    "online.decisions | map(attribute='cluster') | list == "
                                    "offline | map(attribute='cluster') | list",
                                    "online.decisions | map(attribute='weight') | list == "
                                    "offline | map(attribute='weight') | list",
                                ],
                            },
                        },
                    ],
                }
            ]
        )
    )
    run = run_playbook(playbook)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def kubectl_get(bed, ns, *extra):
    """``kubectl get workloadplacement`` with the testbed's own kubectl: the printer columns the API server serves."""
    kubectl = Path(bed.state["bin_dir"]) / "kubectl"
    run = subprocess.run(
        [str(kubectl), "--kubeconfig", str(bed.kubeconfig(HUB, direct=True)), "get", "workloadplacement", "-n", ns]
        + list(extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    header, *rows = run.stdout.splitlines()
    return header.split(), [row.split(None, len(header.split()) - 1) for row in rows], run.stdout


def test_a_fleet_that_cannot_meet_the_spec_shows_the_shortfall_everywhere(clusters, namespace):
    """Issue 20: fewer clusters than numberOfClusters used to read Scheduled=True."""
    spec = {
        "numberOfClusters": 3,
        "clusterSelector": {"matchLabels": {"tier": "prod"}},  # member1 and member2
        "predicates": [f"cluster.name in {sorted(clusters.members)!r}"],  # not clusters other tests registered
    }
    run = place(clusters, namespace, spec)
    assert not run.failed, run.output
    assert run.result["scheduled"] is False and run.result["reason"] == "InsufficientClusters", run.result
    assert "2 of numberOfClusters=3 clusters chosen: only 2 of" in run.result["message"]
    assert [d["cluster"] for d in run.result["decisions"]] == ["member1", "member2"]  # they still run it

    columns, rows, text = kubectl_get(clusters, namespace)
    assert columns[:5] == ["NAME", "CLUSTERS", "SCHEDULED", "REASON", "AVAILABLE"], text
    assert rows[0][:4] == ["web", "3", "False", "InsufficientClusters"], text
    _columns, _rows, wide = kubectl_get(clusters, namespace, "-o", "wide")
    assert "2 of numberOfClusters=3 clusters chosen" in wide, wide

    info = run_module("workload_info", hub_args(clusters, namespace=namespace))
    assert not info.failed, info.output
    scheduled = info.result["placements"][0]["conditions"]["Scheduled"]
    assert scheduled["status"] == "False" and scheduled["reason"] == "InsufficientClusters", scheduled
    assert "2 of numberOfClusters=3" in scheduled["message"]

    # Enough clusters again: the same placement reads Scheduled=True.
    met = place(clusters, namespace, {**spec, "numberOfClusters": 2})
    assert met.result["scheduled"] is True and met.result["reason"] == "Scheduled", met.result
    assert kubectl_get(clusters, namespace)[1][0][:4] == ["web", "2", "True", "Scheduled"]


def test_replicas_beyond_the_room_reported_show_insufficient_capacity(
    clusters, namespace, hub_api_client, member_api_clients
):
    """A Divided workload whose replicas do not fit (a request no member can hold) is placed and reported."""
    apps = client.AppsV1Api(hub_api_client)
    labels = {"app": "huge"}
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "huge", "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "huge",
                                "image": "registry.example/huge:1.0",
                                "resources": {"requests": {"cpu": "100000"}},  # 100,000 cores per replica
                            }
                        ]
                    },
                },
            },
        },
    )
    spec = {
        "workloadSelector": {"matchLabels": labels},
        "resources": [{"group": "apps", "kind": "Deployment"}],
        "clusterSelector": {"matchLabels": {"tier": "prod"}},
        "predicates": [f"cluster.name in {sorted(clusters.members)!r}"],
        "replicaScheduling": {"type": "Divided"},
    }
    assert not place(clusters, namespace, spec).failed
    try:
        sync = run_module("workload_sync", hub_args(clusters, namespace=namespace, **PATIENT))
        assert not sync.failed, sync.output
        _columns, rows, text = kubectl_get(clusters, namespace)
        # no numberOfClusters: the CLUSTERS column is blank, so SCHEDULED and REASON are the 2nd and 3rd words
        assert rows[0][:3] == ["web", "False", "InsufficientCapacity"], text
        wp = client.CustomObjectsApi(hub_api_client).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "workloadplacements", "web"
        )
        [shortfall] = wp["status"]["shortfalls"]
        assert shortfall["workload"] == "Deployment/huge"
        assert shortfall["message"].startswith("2 replicas, room for 0: 2 over capacity"), shortfall
        info = run_module("workload_info", hub_args(clusters, namespace=namespace))
        view = info.result["placements"][0]
        assert view["conditions"]["Scheduled"]["reason"] == "InsufficientCapacity"
        assert view["shortfalls"] == [shortfall]
    finally:
        apps.delete_namespaced_deployment("huge", namespace)
        cleanup = run_module("workload_sync", hub_args(clusters, namespace=namespace, fail_on_error=False, **PATIENT))
        assert not cleanup.failed, cleanup.output
        for member in member_api_clients.values():  # the sync pass leaves the (now empty) namespaces it created
            core = client.CoreV1Api(member)
            found = core.list_namespace(field_selector=f"metadata.name={namespace}").items
            if found and (found[0].metadata.annotations or {}).get("tmc.kcp.io/created-namespace") == "true":
                core.delete_namespace(namespace)
