"""execution-environment.yml: ansible-builder (v3 format) turns it into a build context with this collection.

``ansible-builder create`` writes the Containerfile and the context only; building the image needs podman or
docker, which CI does not have.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO

BUILDER = shutil.which("ansible-builder", path=str(Path(sys.executable).parent)) or shutil.which("ansible-builder")


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    if BUILDER is None:
        pytest.fail("ansible-builder is not installed: pip install -r requirements-test.txt")
    out = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run(
        [
            BUILDER,
            "create",
            "--file",
            "execution-environment.yml",
            "--context",
            str(out),
            "--output-filename",
            "Containerfile",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_definition_is_version_3():
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    assert definition["dependencies"]["python"] == "requirements.txt"
    assert definition["dependencies"]["ansible_core"]["package_pip"].startswith("ansible-core==")


def test_containerfile_installs_the_requirements_and_the_collection(context):
    containerfile = (context / "Containerfile").read_text()
    assert "requirements.txt" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert "tmc.multicluster" in containerfile
    assert "ENV PYTHONPATH=/usr/share/ansible/collections" in containerfile
    assert "import ansible_collections.tmc.multicluster.plugins.module_utils.daemons" in containerfile
    assert "\nUSER 1000\n" in containerfile  # the pods run with runAsNonRoot


def test_context_holds_the_requirements_and_the_collection_source(context):
    build = context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy["collections"] == [{"name": "/build/tmc.multicluster", "type": "dir"}]
    collection = build / "tmc.multicluster"
    assert yaml.safe_load((collection / "galaxy.yml").read_text())["name"] == "multicluster"
    for path in (
        "meta/runtime.yml",
        "plugins/module_utils/daemons/__main__.py",
        "plugins/modules/daemon_process.py",
        "plugins/module_utils/supervisor.py",
        "roles/controller/tasks/main.yml",
        "roles/syncer/tasks/main.yml",
    ):
        assert (collection / path).is_file(), path
