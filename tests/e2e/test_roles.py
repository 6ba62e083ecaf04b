"""The controller and syncer roles on the real testbed, and the daemon_process module under them.

- daemon_process: check mode, diff, idempotence, restart on crash and on changed settings, stop.
- process runtime: ansible-playbook with the roles runs 2 controller replicas and 3 syncers; they are healthy,
  serve metrics, and a Deployment + WorkloadPlacement created on the hub reaches the members with no module
  run; a second run changes nothing; ``absent`` leaves no process and no pid file.
- kubernetes runtime: the objects are there, and RBAC is least privilege (SubjectAccessReviews).

Other people use the same testbed at the same time, so everything here has a unique name: the members are
registered again under names of their own (``<ns>-member1`` ...) whose namespaceSelector admits only this
test's namespace, the controller only looks at that namespace (``--namespaces``) and elects its leader in it
(``--namespace``), and every process started here is stopped in the fixtures' teardown.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from ..conftest import REPO
from ..integration.ansible_cli import BIN, run_module, run_playbook

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
SCOPE_LABEL = "tmc-test/roles"
ROLES = REPO / "roles"
DAEMONS = "ansible_collections.tmc.multicluster.plugins.module_utils.daemons"

PROCESS_PLAYBOOK = """\
- name: TMC controller and syncers as local processes
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Controller
      ansible.builtin.include_role:
        name: tmc.multicluster.controller
    - name: Syncers
      ansible.builtin.include_role:
        name: tmc.multicluster.syncer
      vars:
        tmc_syncer_cluster_name: "{{ item.cluster }}"
        tmc_syncer_hub_kubeconfig: "{{ item.hub_kubeconfig }}"
        tmc_syncer_member_kubeconfig: "{{ item.member_kubeconfig }}"
        tmc_syncer_metrics_port: "{{ item.port }}"
        tmc_syncer_health_port: "{{ item.port }}"
      loop: "{{ lab_syncers }}"
      loop_control:
        label: "{{ item.cluster }}"
"""

KUBERNETES_PLAYBOOK = """\
- name: TMC controller on the hub and a syncer on a member, as Kubernetes objects
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Controller
      ansible.builtin.include_role:
        name: tmc.multicluster.controller
    - name: Syncer
      ansible.builtin.include_role:
        name: tmc.multicluster.syncer
"""


# ------------------------------------------------------------------ helpers


def wait_for(what, check, timeout=120.0, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


_TAKEN: set[int] = set()


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1 (none handed out before by this module)."""
    rng = random.Random()
    for _attempt in range(200):
        base = rng.randrange(20000, 45000)
        block = range(base, base + count)
        if _TAKEN.intersection(block):
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in block:
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        _TAKEN.update(block)
        return base
    raise AssertionError("no free block of ports")


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def recap(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("localhost") and "ok=" in line]
    return lines[-1] if lines else ""


def assert_ok(run, unchanged=False):
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    if unchanged:
        assert "changed=0" in recap(run.stdout), run.stdout[-8000:]


def kill_leftovers(state_dir: Path, marker: str) -> None:
    """Safety net: SIGKILL whatever a failed test left running from ``state_dir`` (only our own processes)."""
    for pid_file in state_dir.glob("*.pid"):
        pid = read_pid(pid_file)
        if not pid or not alive(pid):
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if marker in cmdline or str(state_dir) in cmdline:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def delete_namespace(api, name: str) -> None:
    with contextlib.suppress(ApiException):
        client.CoreV1Api(api).delete_namespace(name)


def can(
    api,
    user: str,
    verb: str,
    resource: str,
    group: str = "",
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> bool:
    """A SubjectAccessReview: may ``user`` (a ServiceAccount) do this?"""
    sa_namespace = user.split(":")[2]
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, group=group, resource=resource, namespace=namespace, name=name, subresource=subresource
            ),
        )
    )
    return client.AuthorizationV1Api(api).create_subject_access_review(review).status.allowed


def register(bed, name: str, member: str, ns: str, dest: Path) -> None:
    run = run_module(
        "cluster_registration",
        {
            "kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
            "name": name,
            "sync_mode": "Pull",
            "location": bed.state["clusters"][member]["region"],
            "labels": {SCOPE_LABEL: ns},
            "namespace_selector": {"matchLabels": {SCOPE_LABEL: ns}},
            "member": {"kubeconfig": str(bed.kubeconfig(member, direct=True))},
            "syncer_kubeconfig_dest": str(dest),
            "take_over": True,  # one registration per member: an earlier test's goes first
        },
    )
    assert not run.failed, run.output


def deregister(bed, name: str, member: str) -> None:
    run_module(
        "cluster_registration",
        {
            "kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
            "name": name,
            "state": "absent",
            "drain": True,
            "drain_timeout": 60,
            "member": {"kubeconfig": str(bed.kubeconfig(member, direct=True))},
        },
    )


# ------------------------------------------------------------------ daemon_process on its own


@pytest.fixture
def web_server(tmp_path):
    """A tiny HTTP server as the supervised process (stopped by the test or, failing that, here)."""
    port = free_ports(1)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "readyz").write_text("ok")
    args = {
        "name": "web",
        "pid_file": str(tmp_path / "state" / "web.pid"),
        "chdir": str(tmp_path / "www"),
        "argv": [str(BIN / "python"), "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        "env": {"GREETING": "hello", "API_TOKEN": "s3cr3t-value"},
        "restart_policy": "always",
        "stop_timeout": 5,
        "wait_ready_url": f"http://127.0.0.1:{port}/readyz",
        "wait_timeout": 30,
    }
    yield args, port, tmp_path / "state"
    run_module("daemon_process", {"name": "web", "pid_file": args["pid_file"], "state": "stopped"})
    kill_leftovers(tmp_path / "state", "http.server")


def test_daemon_process_starts_supervises_and_stops(web_server):
    args, port, state = web_server
    check = run_module("daemon_process", args, check=True, diff=True)
    assert not check.failed, check.output
    assert check.changed and check.result["action"] == "started"
    assert http_get(port, "/readyz")[0] == 0 and not list(state.glob("*.pid"))

    started = run_module("daemon_process", args, diff=True)
    assert not started.failed, started.output
    assert started.changed and started.result["action"] == "started" and started.result["ready"]
    pid, supervisor = started.result["pid"], started.result["supervisor_pid"]
    assert alive(pid) and alive(supervisor) and pid != supervisor
    assert read_pid(state / "web.pid") == pid and read_pid(state / "web.supervisor.pid") == supervisor
    assert http_get(port, "/readyz") == (200, "ok")
    # The diff (printed by the callback): argv and environment, the token masked.
    assert '"GREETING": "hello"' in started.output and '"API_TOKEN": "********"' in started.output
    assert '"http.server",' in started.output
    assert "s3cr3t-value" not in started.output and "s3cr3t-value" not in (state / "web.state.json").read_text()

    again = run_module("daemon_process", args)
    assert not again.changed and again.result["action"] == "none" and again.result["pid"] == pid
    assert not run_module("daemon_process", args, check=True).changed

    # A crash: the supervisor starts the process again.
    os.kill(pid, signal.SIGKILL)
    new_pid = wait_for(
        "a new process", lambda: (read_pid(state / "web.pid") or pid) != pid and read_pid(state / "web.pid"), timeout=30
    )
    wait_for("ready again", lambda: http_get(port, "/readyz")[0] == 200, timeout=30)
    assert json.loads((state / "web.state.json").read_text())["restarts"] == 1
    assert read_pid(state / "web.supervisor.pid") == supervisor

    # Other settings: restarted, with a diff of the environment.
    changed = run_module("daemon_process", {**args, "env": {**args["env"], "GREETING": "bye"}}, diff=True)
    assert changed.changed and changed.result["action"] == "restarted", changed.output
    diff_lines = [line.replace(" ", "") for line in changed.output.splitlines()]
    assert '-"GREETING":"hello"' in diff_lines and '+"GREETING":"bye"' in diff_lines, changed.output
    assert not alive(new_pid) and not alive(supervisor)

    stop = {"name": "web", "pid_file": args["pid_file"], "state": "stopped"}
    assert run_module("daemon_process", stop, check=True).changed
    assert http_get(port, "/readyz")[0] == 200
    stopped = run_module("daemon_process", stop)
    assert stopped.changed and stopped.result["action"] == "stopped" and not stopped.result["running"]
    assert not list(state.glob("*.pid")) and not (state / "web.state.json").exists()
    assert http_get(port, "/readyz")[0] == 0
    assert not run_module("daemon_process", stop).changed


def test_daemon_process_reports_a_process_that_cannot_start(tmp_path):
    run = run_module(
        "daemon_process",
        {
            "name": "broken",
            "pid_file": str(tmp_path / "broken.pid"),
            "restart_policy": "never",
            "argv": [str(BIN / "python"), "-c", "import sys; print('cannot start: bad flag'); sys.exit(2)"],
            "wait_ready_url": f"http://127.0.0.1:{free_ports(1)}/readyz",
            "wait_timeout": 20,
        },
    )
    assert run.failed and "broken exited (exit code 2)" in run.result["msg"]
    assert run.result["last_error"] == "cannot start: bad flag"
    assert run.result["last_exit"]["code"] == 2
    assert any("cannot start: bad flag" in line for line in run.result["log_tail"])
    assert not (tmp_path / "broken.pid").exists()


def test_systemd_unit_template_quotes_arguments(tmp_path):
    """No systemd runs here: render the unit the roles install where it does, and read it."""
    playbook = tmp_path / "unit.yml"
    out = tmp_path / "tmc-controller-0.service"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Render",
                            "ansible.builtin.template": {
                                "src": str(ROLES / "controller" / "templates" / "tmc-daemon.service.j2"),
                                "dest": str(out),
                                "mode": "0644",
                            },
                            "vars": {
                                "_controller_unit_description": "TMC controller tmc-controller-0",
                                "_controller_unit_argv": [
                                    "/usr/bin/python3",
                                    "-m",
                                    "x",
                                    "--label-selector=a in (b, c)",
                                    'say "hi"',
                                    "100%",
                                ],
                                "_controller_unit_env": {"PYTHONPATH": "/opt/collections"},
                                "_controller_unit_restart_policy": "never",
                                "_controller_unit_stop_timeout": 30,
                                "_controller_unit_log_file": "/var/log/tmc/tmc-controller-0.log",
                            },
                        }
                    ],
                }
            ]
        )
    )
    assert_ok(run_playbook(playbook))
    unit = out.read_text()
    assert 'ExecStart="/usr/bin/python3" "-m" "x" "--label-selector=a in (b, c)" "say \\"hi\\"" "100%%"' in unit
    assert 'Environment="PYTHONPATH=/opt/collections"' in unit
    assert "Restart=no" in unit and "TimeoutStopSec=30" in unit and "KillSignal=SIGTERM" in unit
    assert "StandardOutput=append:/var/log/tmc/tmc-controller-0.log" in unit


# ------------------------------------------------------------------ process runtime


@pytest.fixture(scope="module")
def lab(tmc_hub, hub_api_client, member_api_clients, tmp_path_factory):
    """Members registered again (Pull) under names of their own, then the roles run once (present)."""
    bed = tmc_hub
    ns = f"roles-{uuid.uuid4().hex[:6]}"
    work = tmp_path_factory.mktemp("roles")
    state_dir = work / "state"
    playbook = work / "process.yml"
    playbook.write_text(PROCESS_PLAYBOOK)
    clusters: dict[str, str] = {}
    variables: dict = {}
    try:
        client.CoreV1Api(hub_api_client).create_namespace({"metadata": {"name": ns, "labels": {SCOPE_LABEL: ns}}})
        for member in bed.members:
            clusters[member] = f"{ns}-{member}"
            register(bed, clusters[member], member, ns, work / f"{clusters[member]}.kubeconfig")
        metrics, health = free_ports(2), free_ports(2)
        syncers = [
            {
                "cluster": clusters[m],
                "hub_kubeconfig": str(work / f"{clusters[m]}.kubeconfig"),
                "member_kubeconfig": str(bed.kubeconfig(m, direct=True)),
                "port": free_ports(1),
            }
            for m in bed.members
        ]
        variables.update(
            {
                "tmc_hub_kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
                "tmc_controller_name": f"ctl-{ns}",
                "tmc_controller_replicas": 2,
                "tmc_controller_namespaces": [ns],
                "tmc_controller_system_namespace": ns,
                "tmc_controller_metrics_port": metrics,
                "tmc_controller_health_port": health,
                # The controller keeps the health of every cluster on the hub, not only of this test's: use the
                # thresholds of test_daemons.py, so that two suites sharing a testbed agree on every verdict.
                "tmc_controller_heartbeat_threshold": 6,
                "tmc_controller_eviction_timeout": 12,
                "tmc_syncer_heartbeat_threshold": 6,
                "tmc_syncer_eviction_timeout": 12,
                "tmc_syncer_heartbeat_interval": 2,
                "tmc_state_dir": str(state_dir),
                "lab_syncers": syncers,
            }
        )

        def converge(state="present", check=False):
            return run_playbook(
                playbook, {**variables, "tmc_controller_state": state, "tmc_syncer_state": state}, check=check
            )

        first = converge()
        assert_ok(first)
        yield {
            "bed": bed,
            "ns": ns,
            "clusters": clusters,
            "state_dir": state_dir,
            "converge": converge,
            "controller_ports": [(metrics + i, health + i) for i in range(2)],
            "syncers": syncers,
            "controller_ids": [f"ctl-{ns}-{i}" for i in range(2)],
        }
    finally:
        if variables and list(state_dir.glob("*.state.json")):  # test_absent... did not run or did not finish
            run_playbook(playbook, {**variables, "tmc_controller_state": "absent", "tmc_syncer_state": "absent"})
        kill_leftovers(state_dir, ns)
        for member, name in clusters.items():
            deregister(bed, name, member)
        delete_namespace(hub_api_client, ns)
        for api in member_api_clients.values():
            delete_namespace(api, ns)


def test_process_runtime_daemons_are_healthy_and_serve_metrics(lab, hub_api_client):
    for metrics, health in lab["controller_ports"]:
        assert http_get(health, "/healthz") == (200, "ok")
        assert http_get(health, "/readyz") == (200, "ok")
        status, text = http_get(metrics, "/metrics")
        assert status == 200 and "tmc_leader" in text
    for syncer in lab["syncers"]:
        assert http_get(syncer["port"], "/healthz") == (200, "ok")
        status, text = http_get(syncer["port"], "/metrics")
        assert status == 200 and "syncer_operations_total" in text
    state = lab["state_dir"]
    names = [*lab["controller_ids"], *(f"tmc-syncer-{s['cluster']}" for s in lab["syncers"])]
    for name in names:
        assert alive(read_pid(state / f"{name}.pid")) and alive(read_pid(state / f"{name}.supervisor.pid")), name
    # The replicas elect their leader in this test's namespace, not in tmc-system.
    lease = wait_for(
        "a leader",
        lambda: (
            client.CoordinationV1Api(hub_api_client)
            .read_namespaced_lease("tmc-controller", lab["ns"])
            .spec.holder_identity
        ),
    )
    assert lease in lab["controller_ids"]
    # The syncers' heartbeats keep their clusters Ready.
    custom = client.CustomObjectsApi(hub_api_client)
    for name in lab["clusters"].values():

        def ready(cluster=name):
            reg = custom.get_cluster_custom_object(GROUP, VERSION, "clusterregistrations", cluster)
            return any(
                c["type"] == "Ready" and c["status"] == "True" for c in (reg.get("status") or {}).get("conditions", [])
            )

        wait_for(f"{name} Ready", ready, timeout=60)


def test_a_workload_converges_on_the_members_without_any_module_run(lab, hub_api_client, member_api_clients):
    ns = lab["ns"]
    labels = {"app": "web"}
    client.AppsV1Api(hub_api_client).create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web", "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "registry.example/web:1"}]},
                },
            },
        },
    )
    client.CustomObjectsApi(hub_api_client).create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkloadPlacement",
            "metadata": {"name": "web"},
            "spec": {
                "workloadSelector": {"matchLabels": labels},
                "clusterSelector": {"matchLabels": {SCOPE_LABEL: ns}},
            },
        },
    )

    def available(api):
        try:
            deployment = client.AppsV1Api(api).read_namespaced_deployment("web", ns)
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return (deployment.status.available_replicas or 0) == 2 and deployment.metadata.labels.get(
            "tmc.kcp.io/managed"
        ) == "true"

    for member, api in member_api_clients.items():
        wait_for(f"web available on {member}", lambda a=api: available(a), timeout=180)
        deployment = client.AppsV1Api(api).read_namespaced_deployment("web", ns)
        assert deployment.metadata.labels["tmc.kcp.io/cluster"] == lab["clusters"][member]
    hub_apps = client.AppsV1Api(hub_api_client)
    wait_for(
        "aggregated status on the hub",
        lambda: (
            (hub_apps.read_namespaced_deployment_status("web", ns).status.available_replicas or 0)
            == 2 * len(member_api_clients)
        ),
        timeout=120,
    )
    for syncer in lab["syncers"]:
        _status, text = http_get(syncer["port"], "/metrics")
        assert (
            f'syncer_operations_total{{operation="created",resource_type="Deployment",result="success",'
            f'sync_target="{syncer["cluster"]}"}}' in text
        )


def test_a_killed_syncer_is_restarted_by_its_supervisor(lab):
    syncer = lab["syncers"][0]
    pid_file = lab["state_dir"] / f"tmc-syncer-{syncer['cluster']}.pid"
    pid = read_pid(pid_file)
    os.kill(pid, signal.SIGKILL)
    wait_for("a new syncer process", lambda: (read_pid(pid_file) or pid) != pid, timeout=30)
    wait_for("the new syncer ready", lambda: http_get(syncer["port"], "/readyz")[0] == 200, timeout=60)


def test_a_second_run_changes_nothing(lab):
    assert_ok(lab["converge"](), unchanged=True)


def test_absent_stops_every_process(lab):
    state = lab["state_dir"]
    pids = [read_pid(p) for p in state.glob("*.pid")]
    assert len(pids) == 2 * (2 + len(lab["syncers"]))  # each process and its supervisor
    assert_ok(lab["converge"]("absent"))
    assert not list(state.glob("*.pid")) and not list(state.glob("*.state.json"))
    assert not [pid for pid in pids if alive(pid)]
    for metrics, health in lab["controller_ports"]:
        assert http_get(health, "/healthz")[0] == 0 and http_get(metrics, "/metrics")[0] == 0
    for syncer in lab["syncers"]:
        assert http_get(syncer["port"], "/healthz")[0] == 0


# ------------------------------------------------------------------ kubernetes runtime


@pytest.fixture(scope="module")
def k8s_lab(tmc_hub, hub_api_client, member_api_clients, tmp_path_factory):
    """The controller's objects on the hub and one syncer's on member1 (the hub runs no pods: objects only)."""
    bed = tmc_hub
    ns = f"rolesk8s-{uuid.uuid4().hex[:6]}"
    member = bed.members[0]
    cluster = f"{ns}-{member}"
    work = tmp_path_factory.mktemp("roles-k8s")
    playbook = work / "kubernetes.yml"
    playbook.write_text(KUBERNETES_PLAYBOOK)
    hub_kubeconfig = work / f"{cluster}.kubeconfig"
    variables = {
        "tmc_runtime": "kubernetes",
        "tmc_hub_kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
        "tmc_controller_name": f"ctl-{ns}",
        "tmc_controller_namespace": ns,
        "tmc_controller_system_namespace": ns,
        "tmc_controller_namespaces": [ns],
        "tmc_controller_resource_types": [
            {"group": "apps", "kind": "Deployment"},
            {"kind": "ConfigMap"},
            {"kind": "Service"},
        ],
        "tmc_syncer_cluster_name": cluster,
        "tmc_syncer_hub_kubeconfig": str(hub_kubeconfig),
        "tmc_syncer_member_kubeconfig": str(bed.kubeconfig(member, direct=True)),
        "tmc_syncer_namespace": ns,
    }

    def converge(state="present", check=False):
        return run_playbook(
            playbook, {**variables, "tmc_controller_state": state, "tmc_syncer_state": state}, check=check
        )

    registered = False
    ctx: dict = {}
    try:
        register(bed, cluster, member, ns, hub_kubeconfig)
        registered = True
        assert_ok(converge())
        ctx.update(
            {
                "ns": ns,
                "member": member,
                "cluster": cluster,
                "converge": converge,
                "controller": f"ctl-{ns}",
                "syncer": f"tmc-syncer-{cluster}",
                "hub_kubeconfig": hub_kubeconfig,
            }
        )
        yield ctx
    finally:
        if not ctx.get("removed"):  # test_kubernetes_runtime_absent... did not run or did not finish
            converge("absent")
        if registered:
            deregister(bed, cluster, member)
        delete_namespace(hub_api_client, ns)
        delete_namespace(member_api_clients[member], ns)


def test_kubernetes_runtime_controller_objects(k8s_lab, hub_api_client):
    ns, name = k8s_lab["ns"], k8s_lab["controller"]
    deployment = client.AppsV1Api(hub_api_client).read_namespaced_deployment(name, ns)
    assert deployment.spec.replicas == 2
    pod = deployment.spec.template.spec
    assert pod.service_account_name == name and pod.security_context.run_as_non_root
    container = pod.containers[0]
    assert container.image == "ghcr.io/tmc-multicluster/tmc-multicluster-ee:0.1.0"
    assert container.command == ["python3.11", "-m", DAEMONS]
    assert container.args[0] == "controller" and f"--namespaces={ns}" in container.args
    assert "--resource-types=apps/Deployment,ConfigMap,Service" in container.args
    assert "--id=$(POD_NAME)" in container.args
    assert container.liveness_probe.http_get.path == "/healthz"
    assert container.readiness_probe.http_get.path == "/readyz"
    assert container.resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert container.security_context.read_only_root_filesystem
    pdb = client.PolicyV1Api(hub_api_client).read_namespaced_pod_disruption_budget(name, ns)
    assert pdb.spec.max_unavailable == 1
    service = client.CoreV1Api(hub_api_client).read_namespaced_service(f"{name}-metrics", ns)
    assert [p.name for p in service.spec.ports] == ["metrics"]
    policy = client.NetworkingV1Api(hub_api_client).read_namespaced_network_policy(name, ns)
    assert policy.spec.policy_types == ["Ingress"]
    # The testbed has no Prometheus Operator: no ServiceMonitor, no PrometheusRule, and no failure.
    with pytest.raises(ApiException):
        client.CustomObjectsApi(hub_api_client).get_namespaced_custom_object(
            "monitoring.coreos.com", "v1", ns, "servicemonitors", name
        )


def test_kubernetes_runtime_controller_rbac_is_least_privilege(k8s_lab, hub_api_client):
    ns = k8s_lab["ns"]
    user = f"system:serviceaccount:{ns}:{k8s_lab['controller']}"
    works = f"tmc-cluster-{k8s_lab['cluster']}"
    allowed = [
        ("watch", "tmc.kcp.io", "clusterregistrations", None, None, None),
        ("patch", "tmc.kcp.io", "clusterregistrations", None, None, "status"),
        ("list", "tmc.kcp.io", "workloadplacements", "team-a", None, None),
        ("patch", "tmc.kcp.io", "workloadplacements", "team-a", None, "status"),
        ("create", "tmc.kcp.io", "syncworks", works, None, None),
        ("patch", "tmc.kcp.io", "syncworks", works, None, None),  # server-side apply: how it updates SyncWorks
        ("delete", "tmc.kcp.io", "syncworks", works, None, None),
        ("watch", "apps", "deployments", "team-a", None, None),
        ("patch", "apps", "deployments", "team-a", None, "status"),
        ("list", "", "configmaps", "team-a", None, None),
        ("get", "", "namespaces", None, "team-a", None),
        ("watch", "", "namespaces", None, None, None),  # namespace labels feed namespaceSelector
        ("watch", "coordination.k8s.io", "leases", "tmc-system", None, None),
        ("create", "coordination.k8s.io", "leases", ns, None, None),
        ("update", "coordination.k8s.io", "leases", ns, "tmc-controller", None),
    ]
    denied = [
        ("get", "", "secrets", "team-a", "db-password", None),
        ("list", "", "secrets", None, None, None),
        ("get", "", "secrets", "tmc-system", "cluster-member1-credentials", None),
        ("update", "apps", "deployments", "team-a", "web", None),
        ("patch", "apps", "deployments", "team-a", "web", None),
        ("delete", "apps", "deployments", "team-a", "web", None),
        ("create", "apps", "deployments", "team-a", None, None),
        ("patch", "tmc.kcp.io", "clusterregistrations", None, "member1", None),
        ("delete", "tmc.kcp.io", "clusterregistrations", None, "member1", None),
        ("patch", "tmc.kcp.io", "syncworks", works, None, "status"),
        ("update", "coordination.k8s.io", "leases", "tmc-system", "cluster-member1", None),
        ("update", "coordination.k8s.io", "leases", ns, "someone-else", None),
        ("list", "", "pods", "team-a", None, None),
        ("create", "rbac.authorization.k8s.io", "clusterroles", None, None, None),
        ("list", "apps", "statefulsets", None, None, None),  # not among tmc_controller_resource_types
    ]
    for verb, group, resource, namespace, name, sub in allowed:
        assert can(hub_api_client, user, verb, resource, group, namespace, name, sub), (verb, resource, sub)
    for verb, group, resource, namespace, name, sub in denied:
        assert not can(hub_api_client, user, verb, resource, group, namespace, name, sub), (verb, resource, sub)


def test_kubernetes_runtime_syncer_on_the_member(k8s_lab, member_api_clients, hub_api_client):
    ns, name = k8s_lab["ns"], k8s_lab["syncer"]
    api = member_api_clients[k8s_lab["member"]]
    deployment = client.AppsV1Api(api).read_namespaced_deployment(name, ns)
    assert deployment.spec.replicas == 1 and deployment.spec.strategy.type == "Recreate"
    container = deployment.spec.template.spec.containers[0]
    assert container.args[:2] == ["syncer", "--kubeconfig=/etc/tmc/hub/kubeconfig"]
    assert f"--cluster-name={k8s_lab['cluster']}" in container.args
    assert "--downstream-kubeconfig" not in " ".join(container.args)  # in-cluster on the member
    secret = client.CoreV1Api(api).read_namespaced_secret(f"{name}-hub-kubeconfig", ns)
    stored = base64.b64decode(secret.data["kubeconfig"])
    assert stored == k8s_lab["hub_kubeconfig"].read_bytes()
    assert deployment.spec.template.metadata.annotations["tmc.kcp.io/hub-kubeconfig-sha256"]
    # kwok runs the pod on the member's fake nodes.
    wait_for(
        "the syncer Deployment available",
        lambda: (client.AppsV1Api(api).read_namespaced_deployment(name, ns).status.available_replicas or 0) == 1,
        timeout=120,
    )

    user = f"system:serviceaccount:{ns}:{name}"
    for verb, group, resource, namespace in [
        ("create", "apps", "deployments", "team-a"),
        ("patch", "apps", "deployments", "team-a"),
        ("delete", "apps", "deployments", "team-a"),
        ("watch", "", "services", None),
        ("create", "", "namespaces", None),
        ("list", "", "nodes", None),
    ]:
        assert can(api, user, verb, resource, group, namespace), (verb, resource)
    for verb, group, resource, namespace in [
        ("delete", "", "namespaces", None),
        ("create", "", "pods", "team-a"),
        ("patch", "", "nodes", None),
        ("create", "rbac.authorization.k8s.io", "clusterrolebindings", None),
        ("list", "apps", "replicasets", None),
    ]:
        assert not can(api, user, verb, resource, group, namespace), (verb, resource)
    # Its hub identity (made by cluster_registration) reaches only its own cluster's work.
    hub_user = f"system:serviceaccount:tmc-cluster-{k8s_lab['cluster']}:syncer"
    assert can(
        hub_api_client, hub_user, "patch", "syncworks", GROUP, f"tmc-cluster-{k8s_lab['cluster']}", subresource="status"
    )
    assert not can(hub_api_client, hub_user, "list", "syncworks", GROUP, "tmc-cluster-member1")
    assert not can(hub_api_client, hub_user, "get", "secrets", "", "tmc-system")


def test_kubernetes_runtime_second_run_changes_nothing(k8s_lab):
    assert_ok(k8s_lab["converge"](), unchanged=True)


def test_kubernetes_runtime_absent_removes_the_objects(k8s_lab, hub_api_client, member_api_clients):
    ns = k8s_lab["ns"]
    assert_ok(k8s_lab["converge"]("absent"))
    hub_api, member_api = hub_api_client, member_api_clients[k8s_lab["member"]]
    gone = [
        lambda: client.AppsV1Api(hub_api).read_namespaced_deployment(k8s_lab["controller"], ns),
        lambda: client.CoreV1Api(hub_api).read_namespaced_service_account(k8s_lab["controller"], ns),
        lambda: client.RbacAuthorizationV1Api(hub_api).read_cluster_role(k8s_lab["controller"]),
        lambda: client.RbacAuthorizationV1Api(hub_api).read_cluster_role_binding(k8s_lab["controller"]),
        lambda: client.RbacAuthorizationV1Api(hub_api).read_namespaced_role(
            f"{k8s_lab['controller']}-heartbeats", "tmc-system"
        ),
        lambda: client.AppsV1Api(member_api).read_namespaced_deployment(k8s_lab["syncer"], ns),
        lambda: client.CoreV1Api(member_api).read_namespaced_secret(f"{k8s_lab['syncer']}-hub-kubeconfig", ns),
        lambda: client.RbacAuthorizationV1Api(member_api).read_cluster_role(k8s_lab["syncer"]),
    ]
    for read in gone:
        with pytest.raises(ApiException) as err:
            read()
        assert err.value.status == 404
    assert client.CoreV1Api(hub_api).read_namespace(ns)  # namespaces are kept
    k8s_lab["removed"] = True
