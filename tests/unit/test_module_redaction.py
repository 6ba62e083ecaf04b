"""Secret values among a module's own arguments: never in its result (``invocation``) nor in its log line.

The module runs in-process with ``ansible.module_utils.testing.patch_module_args``; it fails before it
would reach an API server, and what it prints is the result Ansible would show.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.tmc.multicluster.plugins.module_utils import module as tmc_module
from ansible_collections.tmc.multicluster.plugins.module_utils import redact
from ansible_collections.tmc.multicluster.plugins.modules import manifest_apply

TOKEN = "tok-7f3c9a1e5b2d4c68a0e1f2b3c4d5e6f7"
DEFINITIONS = [
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "stringData": {"token": TOKEN}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}, "data": {"color": "blue"}},
]


class RecordingModule(tmc_module._RedactingModule):
    """Keeps what AnsibleModule would send to syslog or the journal."""

    def __init__(self, *args, **kwargs):
        self.logged: list[str] = []
        super().__init__(*args, **kwargs)

    def log(self, msg, log_args=None):
        self.logged.append(f"{msg} {log_args}")


def _result(capsys) -> tuple[dict, str]:
    out = capsys.readouterr().out
    return json.loads(out), out


def test_result_and_log_line_hide_secret_values(capsys):
    args = {"kubeconfig": "/nonexistent", "definitions": DEFINITIONS}
    with patch_module_args(args):
        module = RecordingModule(
            argument_spec=manifest_apply.ARGSPEC, redact_args=redact.redact_definitions, supports_check_mode=True
        )
        assert module.logged and all(TOKEN not in line for line in module.logged)
        assert "Invoked with" in module.logged[0] and "token" in module.logged[0]
        assert module.params["definitions"][0]["stringData"] == {"token": TOKEN}, "the module itself sees the value"
        with pytest.raises(SystemExit):
            module.exit_json(changed=False)
    result, out = _result(capsys)
    assert TOKEN not in out
    shown = result["invocation"]["module_args"]["definitions"]
    assert shown[0]["stringData"] == {"token": redact.HIDDEN}
    assert shown[1]["data"] == {"color": "blue"}


def test_argument_errors_hide_secret_values(capsys):
    with patch_module_args({"definitions": DEFINITIONS, "no_such_option": 1}), pytest.raises(SystemExit):
        RecordingModule(argument_spec=manifest_apply.ARGSPEC, redact_args=redact.redact_definitions)
    result, out = _result(capsys)
    assert result["failed"] and "no_such_option" in result["msg"]
    assert TOKEN not in out


def test_manifest_apply_failing_early_hides_secret_values(capsys):
    args = {"kubeconfig": "/nonexistent", "definitions": DEFINITIONS, "feature_gates": {"TMC": False}}
    with patch_module_args(args), pytest.raises(SystemExit):
        manifest_apply.main()
    result, out = _result(capsys)
    assert result["failed"] and "TMC" in result["msg"]
    assert TOKEN not in out
    assert result["invocation"]["module_args"]["definitions"][0]["stringData"] == {"token": redact.HIDDEN}
