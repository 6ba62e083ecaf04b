"""Feature gates: defaults, overrides, the master rule, and clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import api

SUB_GATES = sorted(set(api.FEATURE_GATES) - {api.MASTER_GATE})


def test_every_gate_is_owned_and_versioned():
    for gate in api.FEATURE_GATES.values():
        assert gate.owner == "@jessesanford"
        assert gate.version == "0.1"


def test_defaults_are_all_on():
    gates = api.FeatureGates.from_overrides()
    assert all(gates.is_enabled(name) for name in api.FEATURE_GATES)


@given(st.dictionaries(st.sampled_from(SUB_GATES), st.booleans()))
def test_master_off_turns_every_sub_gate_off(sub_overrides):
    gates = api.FeatureGates.from_overrides({api.MASTER_GATE: False, **sub_overrides})
    assert not any(gates.is_enabled(name) for name in api.FEATURE_GATES)


@given(st.dictionaries(st.sampled_from(SUB_GATES), st.booleans()))
def test_master_on_keeps_sub_gate_choices(sub_overrides):
    gates = api.FeatureGates.from_overrides({api.MASTER_GATE: True, **sub_overrides})
    for name in SUB_GATES:
        assert gates.is_enabled(name) == sub_overrides.get(name, True)


def test_flag_form_round_trips():
    gates = api.FeatureGates.from_flag("TMC=true,TMCFailover=false")
    assert not gates.is_enabled("TMCFailover")
    assert gates.is_enabled("TMCAdvancedPlacement")
    assert api.FeatureGates.from_flag(gates.as_flag()) == gates


@pytest.mark.parametrize("text", ["TMCFailovr=false", "Bogus=true"])
def test_unknown_gate_is_an_error_naming_it(text):
    name = text.split("=")[0]
    with pytest.raises(api.FeatureGateError, match=name):
        api.FeatureGates.from_flag(text)


def test_unknown_gate_in_overrides_names_it():
    with pytest.raises(api.FeatureGateError, match="NoSuchGate"):
        api.FeatureGates.from_overrides({"NoSuchGate": True})


@pytest.mark.parametrize("text,fragment", [("TMCFailover", "no value"), ("TMCFailover=maybe", "true or false")])
def test_malformed_flag_says_what_to_write(text, fragment):
    with pytest.raises(api.FeatureGateError, match=fragment):
        api.FeatureGates.from_flag(text)


def test_require_names_the_gate_and_the_master():
    with pytest.raises(api.FeatureGateError, match="TMCFailover is off because the master gate TMC is off"):
        api.FeatureGates.from_overrides({"TMC": False}).require("TMCFailover")
    with pytest.raises(api.FeatureGateError, match="feature gate TMCFailover is off"):
        api.FeatureGates.from_overrides({"TMCFailover": "false"}).require("TMCFailover")
    api.FeatureGates.from_overrides().require("TMCFailover")
