"""Every documented example runs: each module's EXAMPLES and each role README's YAML, as a user pastes them.

They run on a testbed of their own (the examples remove the TMC API at the end), in the order of a story
(install the hub, register, apply, place, sync, look, run the daemons), with a home directory that holds
what the examples name: ``~/.kube/hub.kubeconfig``, ``~/.kube/member1.kubeconfig`` ..., ``~/.kube/config``
(the hub, for the examples that give no kubeconfig) and the collection in ``~/.ansible/collections``.

A module example task runs in check mode, then for real, then again: any failure, and any change on the
repeat, fails the test and names the example. A role README example (a play) runs the same way as a
whole, with an inventory of ``localhost`` (so a play that needs ``connection: local`` says so).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import pytest
import yaml

from hack.testbed import Testbed

from ..conftest import COLLECTIONS, REPO
from .ansible_cli import run_module, run_playbook

MODULE_ORDER = [
    "cluster_registration",
    "cluster_info",
    "manifest_apply",
    "placement",
    "workload_sync",
    "workload_info",
    "daemon_process",
    "hub_backup",
    "hub_restore",
]
# Modules whose examples act on what the roles made (the syncer's member ServiceAccount): after the role READMEs.
AFTER_ROLES = ["service_account_kubeconfig"]
RAN: list[str] = []  # every example run, for the report (pytest -s shows it)


def module_examples(name: str) -> list[dict]:
    source = (REPO / "plugins" / "modules" / f"{name}.py").read_text()
    return yaml.safe_load(re.search(r'EXAMPLES = r"""(.*?)"""', source, re.S).group(1))


def readme_examples(role: str) -> list[list[dict]]:
    """The README's YAML blocks, each as a list of plays (a block of tasks becomes one play)."""
    text = (REPO / "roles" / role / "README.md").read_text()
    blocks = []
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        items = yaml.safe_load(block)
        if items and "hosts" in items[0]:
            blocks.append(items)
        else:
            blocks.append(
                [
                    {
                        "name": f"{role} README example",
                        "hosts": "localhost",
                        "connection": "local",
                        "gather_facts": False,
                        "tasks": items,
                    }
                ]
            )
    return blocks


def all_module_examples_are_covered():
    return sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py")) == sorted(MODULE_ORDER + AFTER_ROLES)


@pytest.fixture(scope="module")
def bed():
    attach = os.environ.get("TMC_EXAMPLES_TESTBED")
    testbed = Testbed(attach or REPO / ".testbed" / "examples")
    if not attach:
        testbed.down()
    testbed.up()
    try:
        yield testbed
    finally:
        if not attach:
            testbed.down()


@pytest.fixture(scope="module")
def home(bed, tmp_path_factory):
    """A home directory with what the examples name."""
    home = tmp_path_factory.mktemp("home")
    kube = home / ".kube"
    kube.mkdir()
    (kube / "hub.kubeconfig").symlink_to(bed.kubeconfig("hub", direct=True))
    (kube / "config").symlink_to(bed.kubeconfig("hub", direct=True))
    (kube / "new-hub.kubeconfig").symlink_to(bed.kubeconfig("hub", direct=True))  # the restore example's "new" hub
    for name in bed.members:
        (kube / f"{name}.kubeconfig").symlink_to(bed.kubeconfig(name, direct=True))
    # The rekey example's "rebuilt" cluster: the same one here, so that it runs (and changes nothing).
    (kube / "member1-rebuilt.kubeconfig").symlink_to(bed.kubeconfig("member1", direct=True))
    # The backup examples' key: a file only its owner reads.
    (home / ".tmc").mkdir(mode=0o700)
    (home / ".tmc" / "backup.key").write_text(secrets.token_urlsafe(32))
    collections = home / ".ansible" / "collections"
    collections.parent.mkdir()
    collections.symlink_to(COLLECTIONS)
    return home


def environment(home: Path, bed) -> dict:
    return {
        "HOME": str(home),
        "KUBECONFIG": str(bed.kubeconfig("hub", direct=True)),
        "ANSIBLE_LOCAL_TEMP": str(home / ".ansible" / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / ".ansible" / "tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }


def check_real_repeat(task: dict, index: int) -> list[dict]:
    """One example task three times: check mode, real, and again (which must change nothing)."""
    name = task.get("name", f"task {index}")
    check = {**task, "name": f"{name} [check]", "check_mode": True}
    if "until" not in task:  # (an until reads the task's own result under its registered name)
        check.pop("register", None)  # a later example reads what the real run registered
    real = {**task, "name": f"{name} [real]"}
    repeat = {**task, "name": f"{name} [repeat]", "register": f"_example_repeat_{index}"}
    verdict = {
        "name": f"{name} [repeat changed nothing]",
        "ansible.builtin.assert": {
            "that": [f"not (_example_repeat_{index}.changed | default(false))"],
            "fail_msg": f"the example {name!r} changed something when repeated",
        },
    }
    return [check, real, repeat, verdict]


def run_module_examples(name: str, home: Path, bed, tmp_path: Path) -> None:
    tasks = []
    for index, task in enumerate(module_examples(name)):
        tasks += check_real_repeat(task, index)
        RAN.append(f"module {name}: {task.get('name')}")
    playbook = tmp_path / f"{name}-examples.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": f"{name} examples",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": tasks,
                }
            ]
        )
    )
    run = run_playbook(playbook, env=environment(home, bed))
    assert run.returncode == 0, f"{name} examples:\n{run.stdout[-6000:]}{run.stderr[-2000:]}"


def run_play(plays: list[dict], label: str, home: Path, bed, tmp_path: Path) -> None:
    playbook = tmp_path / f"{re.sub(r'[^a-z0-9]+', '-', label.lower())}.yml"
    playbook.write_text(json.dumps(plays))
    env = {**environment(home, bed), "ANSIBLE_CONNECTION": "ssh"}  # a play must say connection: local itself
    outputs = {}
    for mode in ("check", "real", "repeat"):
        # -v on the real run and the repeat: a change the repeat reports shows with what the real run left
        verbose = int(mode != "check")
        run = run_playbook(
            playbook, check=mode == "check", env=env, inventory="localhost,", local=False, verbosity=verbose
        )
        outputs[mode] = run.stdout
        assert run.returncode == 0, f"{label} ({mode}):\n{run.stdout[-6000:]}{run.stderr[-2000:]}"
        if mode == "repeat" and not only_the_clock_changed(run.stdout):
            recap = re.findall(r"changed=(\d+)", run.stdout)
            assert recap and all(c == "0" for c in recap), (
                f"{label} changed something when repeated:\n{run.stdout}\nthe real run before it:\n{outputs['real']}"
            )
    RAN.append(f"role README: {label}")


def only_the_clock_changed(verbose_output: str) -> bool:
    """Whether every change a repeat (run with -v) reports is a registration's status that followed the clock:
    a heartbeat that went stale between the runs (a pull-mode member whose syncer is not running yet). That
    is the world changing, not the example; any other change, or none of these, is judged as usual."""
    changed = re.findall(r"^changed: \[localhost\](?: => \(item=[^)]*\))? => (\{.*\})$", verbose_output, re.M)
    if not changed:
        return False
    for text in changed:
        result = json.loads(text)
        name = (result.get("registration") or {}).get("metadata", {}).get("name")
        stale = (result.get("health") or {}).get("reason") in ("HeartbeatStale", "NoHeartbeat")
        if result.get("changes") != [f"ClusterRegistration/status/{name}"] or not stale:
            return False
    return True


def test_every_documented_example_runs(bed, home, tmp_path):
    assert all_module_examples_are_covered(), "a module without a place in MODULE_ORDER"
    hub_install, *hub_rest = readme_examples("hub")
    run_play(hub_install, "hub README: install", home, bed, tmp_path)
    for name in MODULE_ORDER:
        run_module_examples(name, home, bed, tmp_path)
    try:
        for index, plays in enumerate(readme_examples("syncer")):
            run_play(plays, f"syncer README example {index + 1}", home, bed, tmp_path)
        for index, plays in enumerate(readme_examples("controller")):
            run_play(plays, f"controller README example {index + 1}", home, bed, tmp_path)
        for name in AFTER_ROLES:
            run_module_examples(name, home, bed, tmp_path)
    finally:
        stop_daemons(home, bed, tmp_path)  # also when an example failed: no daemon outlives the test
    drain_everything(bed)
    for index, plays in enumerate(hub_rest):
        run_play(plays, f"hub README example {index + 2}", home, bed, tmp_path)
    print("\nexamples run:\n  " + "\n  ".join(RAN))


def stop_daemons(home: Path, bed, tmp_path: Path) -> None:
    """What the role examples started, stopped again (not an example: the harness's own clean-up)."""
    playbook = tmp_path / "stop.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "ansible.builtin.include_role": {"name": "tmc.multicluster.controller"},
                            "vars": {
                                "tmc_controller_state": "absent",
                                "tmc_hub_kubeconfig": str(home / ".kube" / "hub.kubeconfig"),
                            },
                        },
                        *[
                            {
                                "ansible.builtin.include_role": {"name": "tmc.multicluster.syncer"},
                                "vars": {
                                    "tmc_syncer_state": "absent",
                                    "tmc_syncer_cluster_name": name,
                                    "tmc_syncer_hub_kubeconfig": str(home / ".kube" / "hub.kubeconfig"),
                                    # absent also removes the syncer's identity from the member
                                    "tmc_syncer_member_kubeconfig": str(home / ".kube" / f"{name}.kubeconfig"),
                                },
                            }
                            for name in bed.members
                        ],
                    ],
                }
            ]
        )
    )
    run = run_playbook(playbook, env=environment(home, bed))
    assert run.returncode == 0, run.stdout[-4000:]


def drain_everything(bed) -> None:
    """The hub README says: drain first, then remove the API. The clusters go with drain: false (the
    testbed goes right after)."""
    run = run_module("cluster_info", {"kubeconfig": str(bed.kubeconfig("hub", direct=True))})
    assert not run.failed, run.output
    for cluster in run.result["clusters"]:
        gone = run_module(
            "cluster_registration",
            {
                "kubeconfig": str(bed.kubeconfig("hub", direct=True)),
                "name": cluster["name"],
                "state": "absent",
                "drain": False,
            },
        )
        assert not gone.failed, gone.output
