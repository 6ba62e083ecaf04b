"""The tmc.multicluster.place filter: the engine's decisions offline, in Jinja."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tmc.multicluster.plugins.filter.place import FilterModule
from ansible_collections.tmc.multicluster.plugins.module_utils import placement

place = FilterModule().filters()["place"]
BIN = Path(sys.executable).parent

CLUSTERS = [
    {
        "name": "east-1",
        "labels": {"tier": "prod"},
        "location": "us-east",
        "allocatable": {"cpu": "16", "memory": "64Gi", "pods": 110},
    },
    {
        "name": "west-1",
        "labels": {"tier": "prod"},
        "location": "us-west",
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": 55},
    },
    {
        "metadata": {"name": "dev-1", "labels": {"tier": "dev"}},
        "spec": {"location": "us-east"},
        "status": {"allocatable": {"cpu": "4"}},
    },
]
PROD = {"clusterSelector": {"matchLabels": {"tier": "prod"}}}


def test_place_returns_status_decisions():
    assert place(CLUSTERS, PROD) == [
        {"cluster": "east-1", "weight": 1, "reason": "Selected: eligible (no numberOfClusters limit)"},
        {"cluster": "west-1", "weight": 1, "reason": "Selected: eligible (no numberOfClusters limit)"},
    ]


def test_place_equals_the_engine_for_an_object_policy_and_a_mapping_of_clusters():
    policy = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"numberOfClusters": 1, "prioritizers": [{"name": "Steady"}], "replicaScheduling": {"type": "Divided"}},
    }
    by_name = {"east-1": CLUSTERS[0], "west-1": CLUSTERS[1], "dev-1": CLUSTERS[2]}
    got = place(by_name, policy, previous=["west-1"], replicas=3)
    assert got == placement.decide(policy, CLUSTERS, ["west-1"], replicas=3).to_status()
    assert got == [
        {"cluster": "west-1", "weight": 1, "replicas": 3, "reason": "Selected: ranked within numberOfClusters=1"}
    ]


def test_place_divides_replicas_by_capacity():
    spec = {**PROD, "replicaScheduling": {"type": "Divided", "dynamic": "AvailableCapacity"}}
    assert [(d["cluster"], d["weight"], d["replicas"]) for d in place(CLUSTERS, spec, replicas=6)] == [
        ("east-1", 110, 4),  # free pod slots (was allocatable millicores)
        ("west-1", 55, 2),
    ]


def test_place_explains():
    out = place(CLUSTERS, {**PROD, "locations": ["us-east"]}, explain=True)
    assert [d["cluster"] for d in out["decisions"]] == ["east-1"]
    assert out["message"] == "1 of 1 eligible clusters selected (3 clusters)"
    assert out["explanations"]["west-1"] == {
        "selected": False,
        "reasons": ["location: us-west is not in locations [us-east]"],
    }
    assert out["explanations"]["dev-1"]["reasons"] == [
        "label mismatch: clusterSelector requires tier In [prod], cluster has tier=dev"
    ]


def test_place_honours_now_namespace_labels_and_feature_gates():
    tainted = [
        {
            "name": "flaky",
            "taints": [{"key": "tmc.kcp.io/unreachable", "effect": "NoExecute", "timeAdded": "2024-05-01T12:00:00Z"}],
            "namespaceSelector": {"matchLabels": {"team": "a"}},
        }
    ]
    spec = {
        "tolerations": [
            {"key": "tmc.kcp.io/unreachable", "operator": "Exists", "tolerationSeconds": 60, "effect": "NoExecute"}
        ]
    }
    assert place(tainted, spec, now="2024-05-01T12:00:30Z", namespace_labels={"team": "a"})[0]["cluster"] == "flaky"
    assert place(tainted, spec, now="2024-05-01T12:01:00Z", namespace_labels={"team": "a"}) == []
    assert place(tainted, spec, now="2024-05-01T12:00:30Z", namespace_labels={"team": "b"}) == []
    with pytest.raises(AnsibleFilterError, match="TMCAdvancedPlacement"):
        place(CLUSTERS, {"predicates": ["true"]}, feature_gates={"TMCAdvancedPlacement": False})
    with pytest.raises(AnsibleFilterError, match="TMCAdvancedPlacement"):
        place(CLUSTERS, {"prioritizers": [{"name": "Balance"}]}, feature_gates="TMC=true,TMCAdvancedPlacement=false")
    assert place(CLUSTERS, PROD, feature_gates="TMCAdvancedPlacement=false") == place(CLUSTERS, PROD)


@pytest.mark.parametrize(
    ("clusters", "policy", "message"),
    [
        (CLUSTERS, {"numberOfClusters": 0}, "spec.numberOfClusters"),
        (CLUSTERS, {"predicates": ["cluster.labels["]}, r"spec.predicates\[0\]"),
        (CLUSTERS, "tier=prod", "must be a WorkloadPlacement"),
        (CLUSTERS, {}, "feature_gates must be"),
    ],
)
def test_place_errors_are_filter_errors_that_name_the_field(clusters, policy, message):
    kwargs = {"feature_gates": 3} if message == "feature_gates must be" else {}
    with pytest.raises(AnsibleFilterError, match=message):
        place(clusters, policy, **kwargs)


def test_unreadable_cluster_data_is_an_explained_rejection_not_an_error():
    """Like the controller (issue 17): one cluster's unreadable data rejects that cluster only (was an error)."""
    clusters = [{"name": "x", "allocatable": {"cpu": "many"}}, {"name": "y"}]
    out = place(clusters, {}, explain=True)
    assert [d["cluster"] for d in out["decisions"]] == ["y"]
    assert out["explanations"]["x"]["reasons"][0].startswith("unreadable cluster data: clusters[x].allocatable.cpu")


@pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook is not installed")
def test_place_in_a_real_playbook(tmp_path):
    out = tmp_path / "decisions.json"
    playbook = tmp_path / "play.yml"
    policy = "{'clusterSelector': {'matchLabels': {'tier': 'prod'}}, 'numberOfClusters': 1}"
    playbook.write_text(
        f"""
- hosts: localhost
  gather_facts: false
  vars:
    clusters: {json.dumps(CLUSTERS)}
  tasks:
    - ansible.builtin.copy:
        dest: {out}
        content: "{{{{ clusters | tmc.multicluster.place({policy}) | to_json }}}}"
"""
    )
    env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    run = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(out.read_text()) == [
        {"cluster": "east-1", "weight": 1, "reason": "Selected: ranked within numberOfClusters=1"}
    ]


@pytest.mark.skipif(shutil.which("ansible-doc", path=str(BIN)) is None, reason="ansible-doc is not installed")
def test_sidecar_documentation_parses():
    run = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", "filter", "--json", "tmc.multicluster.place"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)["tmc.multicluster.place"]
    options = doc["doc"]["options"]
    assert {"_input", "policy", "previous", "namespace_labels", "now", "replicas", "explain", "feature_gates"} <= set(
        options
    )
    assert doc["doc"]["positional"] == "_input, policy"
    assert "tmc.multicluster.place" in doc["examples"]
    assert doc["return"]["_value"]["type"] == "list"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"previous": "east-1"}, "previous must be"),
        ({"previous": 3}, "previous must be"),
        ({"namespace_labels": ["team=a"]}, "namespace_labels must be"),
        ({"now": ["yesterday"]}, "now must be"),
        ({"replicas": "3"}, "replicas must be"),
        ({"replicas": True}, "replicas must be"),
        ({"per_replica_request": "500m"}, "per_replica_request must be"),
        ({"explain": "yes"}, "explain must be"),
    ],
)
def test_every_argument_of_the_wrong_type_is_a_filter_error_naming_it(kwargs, argument):
    """A raw TypeError came out of the engine for some of these (issue 20, found 7)."""
    with pytest.raises(AnsibleFilterError, match=f"place: {argument}"):
        place(CLUSTERS, PROD, **kwargs)


@pytest.mark.parametrize("clusters", ["east-1", 3, b"x"])
def test_an_input_that_is_not_clusters_is_a_filter_error(clusters):
    with pytest.raises(AnsibleFilterError, match="its input \\(the clusters\\) must be a list"):
        place(clusters, PROD)


def test_a_misspelled_field_is_refused_with_a_hint():
    with pytest.raises(AnsibleFilterError, match="did you mean 'numberOfClusters'"):
        place(CLUSTERS, {"numberOfCluster": 1})


def test_explain_says_when_the_spec_is_not_fully_met():
    out = place(CLUSTERS, {"numberOfClusters": 5}, explain=True)
    assert out["scheduled"]["status"] == "False"
    assert out["scheduled"]["reason"] == "InsufficientClusters"
    assert "3 of numberOfClusters=5 clusters chosen: only 3 of 3 clusters are eligible" in out["message"]
