"""A second testbed beside the session's one: no shared port, idempotent up, nothing left after down."""

from __future__ import annotations

import os
from pathlib import Path

from hack.testbed import HUB, Testbed


def _processes_in(directory: Path) -> list[int]:
    """Pids of processes whose working directory lies in ``directory`` (every testbed process does)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == directory or directory in cwd.parents:
            found.append(int(entry.name))
    return found


def _ports(bed: Testbed) -> set[int]:
    ports = {bed.state["toxiproxy"]["port"]}
    for cluster in bed.state["clusters"].values():
        ports.update(cluster["ports"].values())
    return ports


def test_second_testbed_is_isolated_and_down_leaves_nothing(testbed, tmp_path):
    second = Testbed(tmp_path / "second", members=1)
    try:
        first_up = second.up()
        assert first_up["running"]
        assert not (_ports(second) & _ports(testbed)), "two testbeds share a port"
        pids = {c: second.pid(c) for c in second.components()}
        # up is idempotent: nothing restarts, everything stays ready.
        second.up()
        assert {c: second.pid(c) for c in second.components()} == pids
        status, body = second.request(HUB, "GET", "/version")
        assert status == 200 and body["gitVersion"] == "v1.36.3"
        assert _processes_in(second.dir)
    finally:
        state_dir = second.dir
        stopped = second.down()
    assert len(stopped) == len(pids)
    assert _processes_in(state_dir) == []
    assert not state_dir.exists()
    # The session's testbed is untouched.
    assert testbed.status()["running"]
