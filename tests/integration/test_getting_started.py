"""Every shell and YAML example of docs/getting-started runs, on the testbed, as a reader would run it:
each page's shell blocks in order in one bash (``set -euo pipefail``), from the repository root, with the
page's testbed (``.testbed/demo``) pointed at the session's testbed and ``$HOME`` at a scratch directory.
A standalone YAML block is a Kubernetes object (the hub's server-side dry run accepts it) or a playbook
(``ansible-playbook --syntax-check`` accepts it). A block preceded by ``<!-- docs-test: skip (why) -->`` is
not run; each skip says why, and there are few."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from hack.testbed import HUB

from ..conftest import COLLECTIONS, REPO

PAGES = ["installation.md", "first-cluster.md", "first-workload.md", "troubleshooting.md"]
DOCS = REPO / "docs" / "getting-started"
BLOCK = re.compile(
    r"(?P<skip><!-- docs-test: skip \((?P<why>[^)]+)\) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)```", re.S
)
MAX_SKIPS = 2
CONTINUES = {"troubleshooting.md": "first-cluster.md"}


def blocks(page: str) -> list[dict]:
    return [m.groupdict() for m in BLOCK.finditer((DOCS / page).read_text())]


def test_the_getting_started_pages_are_all_there():
    assert sorted(p.name for p in DOCS.glob("*.md")) == sorted(PAGES)


def test_skips_are_few_and_say_why():
    skips = [(page, b["why"]) for page in PAGES for b in blocks(page) if b["skip"]]
    assert len(skips) <= MAX_SKIPS, skips
    assert all(why.strip() for _page, why in skips)


@pytest.fixture(scope="module")
def reader(testbed, tmp_path_factory):
    """A reader's shell: the session's testbed where the pages say .testbed/demo, a scratch $HOME."""
    home = tmp_path_factory.mktemp("reader-home")
    real_home = Path(os.environ.get("HOME", "/root"))
    go = subprocess.run(["go", "env", "GOPATH", "GOCACHE", "GOMODCACHE"], capture_output=True, text=True, check=False)
    gopath, gocache, gomodcache = (go.stdout.split() + ["", "", ""])[:3]
    env = {
        **os.environ,
        "HOME": str(home),
        "DEMO_STATE": str(testbed.dir),
        "PYTHONPATH": str(COLLECTIONS),
        # $HOME is a scratch directory for what the pages write; every cache stays the real one (the
        # venv, the testbed binaries, Go's), so nothing is installed or built again.
        "TMC_REAL_HOME": str(real_home),
        "CACHE": os.environ.get("CACHE", str(real_home / ".cache" / "tmc-multicluster")),
        "TMC_TESTBED_CACHE": os.environ.get("TMC_TESTBED_CACHE", str(real_home / ".cache" / "tmc-testbed")),
        "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")),
        **{k: v for k, v in (("GOPATH", gopath), ("GOCACHE", gocache), ("GOMODCACHE", gomodcache)) if v},
    }
    return {"bed": testbed, "env": env, "home": home}


def script(page: str, bed) -> str:
    shell = [b["body"] for b in blocks(page) if b["lang"] in ("bash", "sh") and not b["skip"]]
    text = "\n".join(shell).replace(".testbed/demo", str(bed.dir))
    # The pages find make's venv under $HOME/.cache; the reader's $HOME is a scratch directory.
    text = text.replace("$HOME/.cache/", "$TMC_REAL_HOME/.cache/")
    return "set -euo pipefail\n" + text


@pytest.mark.parametrize("page", PAGES)
def test_shell_examples_run(page, reader, tmc_hub):
    if not [b for b in blocks(page) if b["lang"] in ("bash", "sh") and not b["skip"]]:
        pytest.skip(f"{page} has no shell example")
    # troubleshooting.md continues in the shell first-cluster.md set up (its first block).
    prelude = ""
    if page in CONTINUES:
        setup = blocks(CONTINUES[page])[0]["body"]
        prelude = setup.replace(".testbed/demo", str(reader["bed"].dir)).replace(
            "$HOME/.cache/", "$TMC_REAL_HOME/.cache/"
        )
    done = subprocess.run(
        ["bash", "-c", prelude + "\n" + script(page, reader["bed"])],
        cwd=REPO,
        env=reader["env"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, f"{page} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


@pytest.mark.parametrize("page", PAGES)
def test_yaml_examples_are_valid(page, reader, tmc_hub):
    examples = [b["body"] for b in blocks(page) if b["lang"] == "yaml" and not b["skip"]]
    for body in examples:
        docs = [d for d in yaml.safe_load_all(body) if d is not None]
        assert docs, f"{page}: an empty YAML example"
        for doc in docs:
            if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                kubectl = Path(reader["bed"].state["bin_dir"]) / "kubectl"
                done = subprocess.run(
                    [
                        str(kubectl),
                        "--kubeconfig",
                        str(reader["bed"].kubeconfig(HUB, direct=True)),
                        "apply",
                        "--dry-run=server",
                        "-f",
                        "-",
                    ],
                    input=yaml.safe_dump(doc),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert done.returncode == 0, f"{page}: {done.stderr}"
            elif isinstance(doc, list) and all(isinstance(p, dict) and "hosts" in p for p in doc):
                playbook = reader["home"] / "example.yml"
                playbook.write_text(body)
                done = subprocess.run(
                    ["ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook)],
                    capture_output=True,
                    text=True,
                    env=reader["env"],
                    check=False,
                )
                assert done.returncode == 0, f"{page}: {done.stdout}{done.stderr}"
            else:
                assert isinstance(doc, dict | list), f"{page}: a YAML example that is neither object nor playbook"
