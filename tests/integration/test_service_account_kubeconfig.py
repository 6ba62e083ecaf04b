"""service_account_kubeconfig on the testbed's hub: a daemon's least-privilege kubeconfig, and check mode in
a play whose earlier task would create the ServiceAccount (the roles' identity step)."""

from __future__ import annotations

import json
import stat
import uuid

from kubernetes import client

from .ansible_cli import hub_args, run_module


def test_check_mode_before_the_service_account_exists_predicts_and_a_real_run_refuses(
    tmc_hub, hub_api_client, tmp_path
):
    name, dest = f"sak-{uuid.uuid4().hex[:6]}", tmp_path / "identity.kubeconfig"
    args = hub_args(tmc_hub, namespace="default", service_account=name, dest=str(dest))

    check = run_module("service_account_kubeconfig", args, check=True)
    assert not check.failed and check.changed, check.output
    assert "does not exist yet: check mode assumes an earlier task creates it" in check.output, check.output
    assert not dest.exists()

    real = run_module("service_account_kubeconfig", args)
    assert real.failed and f"ServiceAccount default/{name} does not exist" in real.result["msg"], real.output
    assert not dest.exists()


def test_a_kubeconfig_that_acts_as_the_service_account(tmc_hub, hub_api_client, tmp_path):
    name, dest = f"sak-{uuid.uuid4().hex[:6]}", tmp_path / "identity.kubeconfig"
    core = client.CoreV1Api(hub_api_client)
    core.create_namespaced_service_account("default", {"metadata": {"name": name}})
    try:
        args = hub_args(tmc_hub, namespace="default", service_account=name, dest=str(dest))
        first = run_module("service_account_kubeconfig", args)
        assert not first.failed and first.changed, first.output
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600
        token = json.loads(dest.read_text())["users"][0]["user"]["token"]
        assert token not in first.output, "the token is never in the output"
        review = client.AuthenticationV1Api(hub_api_client).create_token_review({"spec": {"token": token}})
        assert review.status.user.username == f"system:serviceaccount:default:{name}"
        again = run_module("service_account_kubeconfig", args)
        assert not again.failed and not again.changed, again.output
    finally:
        core.delete_namespaced_service_account(name, "default")  # its token Secret goes with it
