"""Run the collection's modules and playbooks through the real ansible CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..conftest import COLLECTIONS, REPO

BIN = Path(sys.executable).parent


def hub_args(bed, **extra) -> dict:
    """Module arguments that reach the testbed's hub directly, plus ``extra``."""
    return {"kubeconfig": str(bed.kubeconfig("hub", direct=True)), **extra}


def register_members(bed, labels_of) -> None:
    """Register every member of the testbed in push mode with a fresh heartbeat; ``labels_of(name)``
    gives each one's labels, and its location is its region. A registration of the same member under
    another name (an earlier test's) is taken over: one registration per member."""
    for name in bed.members:
        run = run_module(
            "cluster_registration",
            hub_args(
                bed,
                name=name,
                location=bed.state["clusters"][name]["region"],
                heartbeat=True,
                labels=labels_of(name),
                member={"kubeconfig": str(bed.kubeconfig(name, direct=True))},
                take_over=True,
            ),
        )
        assert not run.failed, run.output


def deregister_members(bed) -> None:
    """Start from members registered nowhere under their own names, and with no object left labelled
    for them (an earlier module's leftovers would be swept, and counted, by the next deregistration):
    each is deregistered with drain: false and the member given, so its leftovers are released."""
    for name in bed.members:
        args = hub_args(bed, name=name, state="absent", drain=False)
        args["member"] = {"kubeconfig": str(bed.kubeconfig(name, direct=True))}
        run = run_module("cluster_registration", args)
        assert not run.failed, run.output


def labelled_for(bed, cluster: str) -> list[str]:
    """``kind/namespace/name`` of every object of the default kinds on member ``cluster`` that still carries
    TMC's labels for it, read by kubectl: what its deregistration will delete (drain) or release."""
    kubectl = [str(Path(bed.state["bin_dir"]) / "kubectl"), "--kubeconfig", str(bed.kubeconfig(cluster, direct=True))]
    kinds = "deployments,statefulsets,daemonsets,jobs,services,configmaps,secrets,ingresses"
    selector = f"tmc.kcp.io/managed=true,tmc.kcp.io/cluster={cluster}"
    run = subprocess.run(
        [*kubectl, "get", kinds, "-A", "-l", selector, "-o", "json"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    return sorted(
        f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}" for o in json.loads(run.stdout)["items"]
    )


def free_members(bed) -> list[str]:
    """Deregister (drain: false) every registration of a testbed member, whatever its name, for a test
    that registers the members under names of its own with a build that cannot take them over (the
    previous build of the upgrade test). Returns the names it deregistered."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(bed.kubeconfig("hub", direct=True)), client_configuration=configuration)
    urls, ids = set(), set()
    for name in bed.members:
        urls |= {bed.server(name), bed.server(name, direct=True)}
        member_config = client.Configuration()
        config.load_kube_config(config_file=str(bed.kubeconfig(name, direct=True)), client_configuration=member_config)
        with client.ApiClient(member_config) as api:
            ids.add(client.CoreV1Api(api).read_namespace("kube-system").metadata.uid)
    with client.ApiClient(configuration) as api:
        found = client.CustomObjectsApi(api).list_cluster_custom_object(
            "tmc.kcp.io", "v1alpha1", "clusterregistrations"
        )
    freed = []
    for item in found["items"]:
        status, spec = item.get("status") or {}, item.get("spec") or {}
        if status.get("clusterID") in ids or spec.get("endpoint") in urls:
            name = item["metadata"]["name"]
            run = run_module("cluster_registration", hub_args(bed, name=name, state="absent", drain=False))
            assert not run.failed, run.output
            freed.append(name)
    return freed


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "PYTHONPATH": f"{COLLECTIONS}:{REPO}",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class ModuleRun:
    rc: int
    result: dict
    output: str

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed")) or self.rc != 0


def run_module(
    name: str, args: dict, check: bool = False, diff: bool = False, verbosity: int = 0, env: dict | None = None
) -> ModuleRun:
    """``ansible localhost -m tmc.multicluster.<name> -a <json>``; returns its result dict."""
    cmd = [
        str(BIN / "ansible"),
        "localhost",
        "-c",
        "local",
        "-i",
        "localhost,",
        "-m",
        f"tmc.multicluster.{name}",
        "-a",
        json.dumps(args),
    ]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(env), cwd=REPO, timeout=600, check=False)
    output = proc.stdout + proc.stderr
    marker = proc.stdout.find("localhost | ")
    start = proc.stdout.find("=>", marker) if marker >= 0 else -1
    if start >= 0:
        result = json.JSONDecoder().raw_decode(proc.stdout[start + 2 :].lstrip())[0]
        return ModuleRun(proc.returncode, result, output)
    raise AssertionError(f"no module result in ansible output (rc={proc.returncode}):\n{output}")


def run_playbook(
    playbook: Path | str,
    extra_vars: dict | None = None,
    verbosity: int = 0,
    check: bool = False,
    env: dict | None = None,
    inventory: str = "localhost,",
    local: bool = True,
) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "ansible-playbook"), "-i", inventory, *(["-c", "local"] if local else []), str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(env), cwd=REPO, timeout=1200, check=False)
