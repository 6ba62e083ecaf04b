"""Session fixtures for tests on the real testbed (hack/testbed).

The testbed starts once per test run in .testbed/pytest and stops at the end.
Set TMC_TESTBED_ATTACH=<state dir> to use a testbed that is already running
(``python -m hack.testbed up --state <dir>``); it is then left running.
"""

from __future__ import annotations

import os

import pytest

from hack.testbed import HUB, Testbed

from ..conftest import REPO


@pytest.fixture(scope="session")
def testbed():
    attach = os.environ.get("TMC_TESTBED_ATTACH")
    if attach:
        bed = Testbed(attach)
        bed.up()  # idempotent: verifies that everything runs and is ready
        yield bed
        return
    bed = Testbed(REPO / ".testbed" / "pytest", members=int(os.environ.get("TMC_TESTBED_MEMBERS", "3")))
    bed.down()  # a previous run that was killed may have left one behind
    bed.up()
    try:
        yield bed
    finally:
        bed.down()


def _api_client(kubeconfig):
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def hub_kubeconfig(testbed):
    return testbed.kubeconfig(HUB, direct=True)


@pytest.fixture(scope="session")
def hub_api_client(testbed):
    with _api_client(testbed.kubeconfig(HUB, direct=True)) as api:
        yield api


@pytest.fixture(scope="session")
def member_api_clients(testbed):
    """Admin ApiClients of the members, straight to their API servers, by cluster name."""
    clients = {m: _api_client(testbed.kubeconfig(m, direct=True)) for m in testbed.members}
    yield clients
    for api in clients.values():
        api.close()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.testbed)


@pytest.fixture(scope="session")
def tmc_hub(testbed, tmp_path_factory):
    """The TMC API installed on the hub by the hub role (run twice: the second run must change nothing)."""
    from .ansible_cli import run_playbook

    playbook = tmp_path_factory.mktemp("hub") / "hub.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: tmc.multicluster.hub\n"
        f"      tmc_hub_kubeconfig: {testbed.kubeconfig(HUB, direct=True)}\n"
    )
    first = run_playbook(playbook)
    assert first.returncode == 0, first.stdout + first.stderr
    again = run_playbook(playbook)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout
    return testbed


@pytest.fixture(scope="module")
def registered(tmc_hub):
    """Every member registered in push mode with a fresh heartbeat (labels env=test, location = region)."""
    from .ansible_cli import register_members

    register_members(tmc_hub, lambda _name: {"env": "test"})
    return tmc_hub
