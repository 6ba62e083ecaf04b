"""The collection tarball, as a user gets it: built, installed into a fresh path, and the getting-started
guide's first steps (install the hub, register the members, write and place a workload, sync it) run
from the installed copy, exactly as the guide's shell blocks say, on the session testbed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ..conftest import REPO
from .ansible_cli import free_members

BIN = Path(sys.executable).parent
GUIDE = REPO / "docs" / "getting-started" / "first-workload.md"
# The guide's sections run here: 2 (hub and members), 3 (a workload), 4 (sync). Section 1 starts the
# testbed from a checkout; this test sets up the same environment from the installed copy instead.
SECTIONS = ("## 2.", "## 3.", "## 4.")


# What a used checkout holds that is not the collection: testbed state (with private keys), Ansible's and
# Python's caches, at the top and deeper down. The tarball is built from a copy with these planted.
DIRT = (
    ".testbed/mine/pki/ca.key",
    "tests/integration/.testbed/pytest/pki/ca.key",
    "extensions/molecule/default/.ansible/tmp/state.json",
    "roles/hub/.ansible/roles/cache.json",
    "plugins/modules/__pycache__/workload_sync.cpython-312.pyc",
    "hack/testbed/.pytest_cache/v/cache/lastfailed",
    ".build/collections/ansible_collections/tmc/multicluster/README.md",
)
GENERATED = re.compile(r"(^|/)(\.testbed|\.ansible|\.build|__pycache__|\.pytest_cache)(/|$)")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    """The tarball as ``make dist`` builds it, from a copy of this checkout with ``DIRT`` in it."""
    checkout = tmp_path_factory.mktemp("checkout") / "tmc.multicluster"
    # The checkout's own generated directories are left out of the copy (.testbed is hundreds of MB);
    # the planted ones stand for them.
    shutil.copytree(REPO, checkout, symlinks=True, ignore=shutil.ignore_patterns(".git", ".testbed", ".build"))
    for path in DIRT:
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_text("generated\n")
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(checkout)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return next(out.glob("tmc-multicluster-*.tar.gz"))


def test_the_tarball_ships_what_works_and_nothing_generated(tarball):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "plugins/modules/workload_sync.py" in names and "roles/hub/tasks/main.yml" in names
    generated = [n for n in names if GENERATED.search(n)]
    assert generated == [], generated
    assert not [n for n in names if n.endswith(".pyc")]
    assert "hack/testbed/build.sh" in names and "hack/testbed/go/kube/go.mod" in names, "the testbed can be built"
    assert not [n for n in names if n.startswith("benchmarks")]
    # No shipped test imports what is not shipped.
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.name.startswith("tests/") and member.name.endswith(".py"):
                text = tar.extractfile(member).read().decode()
                assert not re.search(r"^\s*(from|import) benchmarks", text, re.M), member.name


def guide_blocks(*sections: str) -> list[str]:
    """The bash blocks of the guide's ``sections`` (their headings' starts), in order."""
    blocks = []
    for section in re.split(r"(?m)^(?=## )", GUIDE.read_text()):
        if section.startswith(sections):
            blocks += re.findall(r"```bash\n(.*?)```", section, re.S)
    return blocks


def test_the_getting_started_guide_runs_from_the_installed_copy(
    tarball, tmc_hub, hub_api_client, member_api_clients, tmp_path
):
    bed = tmc_hub
    installed = tmp_path / "collections"
    # Nothing of the checkout on the way: no PYTHONPATH, no collections path but the installed one (with
    # the checkout's on ANSIBLE_COLLECTIONS_PATH, ansible-galaxy finds tmc.multicluster "already installed"),
    # and a $HOME of the user's own (the guide works in ~/tmc-first-workload and its clean-up removes it).
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATH")}
    env["HOME"] = str(home)
    install = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(installed), str(tarball)],
        capture_output=True,
        text=True,
        env={**env, "ANSIBLE_COLLECTIONS_PATH": str(installed)},
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    root = installed / "ansible_collections" / "tmc" / "multicluster"
    assert (root / "MANIFEST.json").is_file(), install.stdout + install.stderr
    steps, cleanup = guide_blocks(*SECTIONS), guide_blocks("## 6.")[-1:]
    assert len(steps) >= 4 and "delete namespace shop" in "".join(cleanup), "the guide moved: update SECTIONS"
    free_members(bed)  # the guide registers the members under their own names
    try:
        client.CoreV1Api(hub_api_client).delete_namespace("shop")
    except ApiException as err:
        if err.status != 404:
            raise
    preamble = [
        "set -euo pipefail",
        # What section 1 does from a checkout, from the installed copy: its own hack.testbed.
        f'cd "{root}"',
        f'eval "$(python3 -m hack.testbed env --state "{bed.dir}")"',
        f'export PATH="$TMC_TESTBED_BIN:{BIN}:$PATH"',
        f'export ANSIBLE_COLLECTIONS_PATH="{installed}"',
        'export KUBECONFIG="$TMC_HUB_KUBECONFIG"',
        "export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_NOCOLOR=1",
        "mkdir -p ~/tmc-first-workload && cd ~/tmc-first-workload",
    ]

    def shell(*lines: str) -> subprocess.CompletedProcess:
        script = "\n".join([*preamble, *lines])
        return subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=1500, env=env, check=False
        )

    try:
        run = shell(
            "ansible-galaxy collection list tmc.multicluster",  # the installed copy, and no other
            "kubectl wait --for=delete namespace/shop --timeout=120s 2>/dev/null || true",
            *steps,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-6000:]
        found = re.findall(r"(?m)^# (/\S*ansible_collections)$", run.stdout)
        assert found == [str(installed / "ansible_collections")], output[:3000]
        # What the guide says you get: the replicas divided 3:2:1 on the members, their sum on the hub.
        share = {
            c: client.AppsV1Api(member_api_clients[c])
            .read_namespaced_deployment("web", "shop")
            .status.available_replicas
            for c in bed.members
        }
        assert share == {"member1": 3, "member2": 2, "member3": 1}, output[-3000:]
        deployment = client.AppsV1Api(hub_api_client).read_namespaced_deployment("web", "shop")
        assert deployment.status.available_replicas == 6, output[-3000:]
    finally:
        # The guide's own clean-up, from the installed copy too: the testbed is left as it was found.
        done = shell(*cleanup)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert not (home / "tmc-first-workload").exists()
