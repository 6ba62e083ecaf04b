"""Files with secrets are written safely (issue 17, class 7): a planted symlink is never followed."""

from __future__ import annotations

import json
import stat

import pytest

from .ansible_cli import hub_args, run_module


@pytest.mark.parametrize("planted", ["destination", "temporary"])
def test_cluster_registration_does_not_write_its_token_through_a_planted_symlink(tmc_hub, tmp_path, planted):
    bed = tmc_hub
    victim = tmp_path / "attacker-readable.txt"
    victim.write_text("untouched")
    dest = tmp_path / "member3-syncer.kubeconfig"
    # The module wrote "<dest>.tmp" first before; a link at either name must not receive the token.
    (dest if planted == "destination" else tmp_path / "member3-syncer.kubeconfig.tmp").symlink_to(victim)
    run = run_module(
        "cluster_registration",
        hub_args(
            bed,
            name="member3",
            sync_mode="Pull",
            syncer_kubeconfig_dest=str(dest),
            member={"kubeconfig": str(bed.kubeconfig("member3", direct=True))},
        ),
    )
    assert not run.failed, run.output
    assert victim.read_text() == "untouched"
    assert not dest.is_symlink()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    token = json.loads(dest.read_text())["users"][0]["user"]["token"]
    assert token and token not in run.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".member3-syncer")]  # no temporary file left
    gone = run_module("cluster_registration", hub_args(bed, name="member3", state="absent", drain=False))
    assert not gone.failed, gone.output  # as the other modules' tests expect to find it: not registered by us
