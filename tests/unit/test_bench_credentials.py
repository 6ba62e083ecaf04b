"""A failed bench-latency run keeps its logs for a look, never the kubeconfigs (tokens) it wrote."""

from __future__ import annotations

from benchmarks import sync_latency


def test_a_failed_run_keeps_logs_and_playbooks_but_no_kubeconfig(tmp_path):
    (tmp_path / "lat-member1-syncer.kubeconfig").write_text("users: [{user: {token: secret}}]")
    (tmp_path / "controller.kubeconfig").write_text("users: [{user: {token: secret}}]")
    (tmp_path / "hub.yml").write_text("- hosts: localhost")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "controller.log").write_text("{}")

    sync_latency.forget_credentials(tmp_path)

    kept = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert kept == ["hub.yml", "logs", "logs/controller.log"]
