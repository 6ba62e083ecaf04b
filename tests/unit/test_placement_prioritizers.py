"""The prioritizer registry: the CRD's enum and the registry name the same prioritizers, in the same order,
and what each one contributes to a score is what the placement documentation says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.tmc.multicluster.plugins.module_utils import placement as P
from ansible_collections.tmc.multicluster.plugins.module_utils.placement import prioritizers

CRD = Path(__file__).resolve().parents[2] / "roles" / "hub" / "files" / "crds" / "workloadplacements.yaml"


def crd_enum() -> list[str]:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["spec"]["properties"]["prioritizers"]["items"]["properties"]["name"]["enum"]


def test_the_registry_and_the_crd_enum_name_the_same_prioritizers():
    assert list(prioritizers.NAMES) == crd_enum()
    assert P.PRIORITIZERS == prioritizers.NAMES


@pytest.mark.parametrize(
    ("spec", "labels"),
    [
        ({}, [("Balance", 1.0, "workloads", False), ("Steady", 1.0, None, True)]),
        (
            {"prioritizers": [{"name": "Capacity", "weight": 4}, {"name": "Balance", "weight": 2}]},
            [
                ("Balance", 2.0, "workloads", False),
                ("Capacity(cpu)", 2.0, "cpu", True),
                ("Capacity(memory)", 2.0, "memory", True),
            ],
        ),
    ],
)
def test_metrics_come_from_the_registry_in_its_order(spec, labels):
    compiled = P.compile_placement({"spec": {"numberOfClusters": 1, **spec}})
    assert [(m.label, m.weight, m.column, m.higher) for m in compiled.metrics] == labels


def test_steady_is_what_keeps_a_decision():
    assert prioritizers.keeps_previous({"Steady"}) and not prioritizers.keeps_previous({"Balance", "Capacity"})


def test_a_prioritizer_registered_twice_is_refused():
    class Again(prioritizers.Prioritizer):
        name = "Balance"

    with pytest.raises(ValueError, match="registered twice"):
        prioritizers.register(Again)
