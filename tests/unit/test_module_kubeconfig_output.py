"""A kubeconfig *path* is shown (a wrong one must be seen to be fixed); a kubeconfig given as a dictionary
is hidden, and its credentials are masked in anything the module prints.

The modules run in-process with ``patch_module_args``; they fail before any API server is reached.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.tmc.multicluster.plugins.modules import cluster_info, cluster_registration

TOKEN = "tok-5e1c2d3f4a5b6c7d8e9f0a1b2c3d4e5f"
KEY_DATA = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTg=="


def _run(main, args, capsys) -> tuple[dict, str]:
    with patch_module_args(args), pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    return json.loads(out), out


def test_a_wrong_kubeconfig_path_is_named_in_the_error_and_the_invocation(capsys, tmp_path):
    missing = str(tmp_path / "no-such-hub.kubeconfig")
    result, out = _run(cluster_info.main, {"kubeconfig": missing}, capsys)
    assert result["failed"]
    assert missing in result["msg"], result["msg"]
    assert result["invocation"]["module_args"]["kubeconfig"] == missing
    assert "********" not in out


def test_a_member_kubeconfig_path_shows_too(capsys, tmp_path):
    hub = str(tmp_path / "hub.kubeconfig")
    member = str(tmp_path / "member.kubeconfig")
    result, _out = _run(
        cluster_registration.main, {"kubeconfig": hub, "name": "east", "member": {"kubeconfig": member}}, capsys
    )
    assert result["failed"]
    assert result["invocation"]["module_args"]["member"]["kubeconfig"] == member


def test_a_kubeconfig_dictionary_is_hidden_and_its_credentials_masked(capsys):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": TOKEN, "client-key-data": KEY_DATA}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "preferences": {"note": TOKEN},  # a credential elsewhere in the dict is masked too
    }
    result, out = _run(cluster_info.main, {"kubeconfig": config, "request_timeout": 1}, capsys)
    assert result["failed"]
    assert TOKEN not in out and KEY_DATA not in out
    assert result["invocation"]["module_args"]["kubeconfig"].startswith("VALUE_HIDDEN")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_reads_connection_refused_not_a_library_class(capsys):
    port = _closed_port()
    args = {"host": f"https://127.0.0.1:{port}", "validate_certs": False, "request_timeout": 2}
    result, out = _run(cluster_info.main, args, capsys)
    assert result["failed"]
    assert f"cannot connect to https://127.0.0.1:{port}: connection refused" in result["msg"], result["msg"]
    assert "NewConnectionError" not in out and "Error'" not in result["msg"]
