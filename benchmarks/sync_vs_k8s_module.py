#!/usr/bin/env python3
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""workload_sync against a kubernetes.core.k8s loop: the same manifests onto the same member clusters.

    python benchmarks/sync_vs_k8s_module.py --objects 200 --clusters 3 --json
    python benchmarks/sync_vs_k8s_module.py --objects 30 --clusters 3 --attach .testbed/dev

Run it with the project venv's python (``make bench-sync`` does): its ``ansible-playbook``
runs ``tmc.multicluster.workload_sync``. ``kubernetes.core`` comes from the ``ansible``
package on PyPI, installed in the benchmark's own virtualenv
(``~/.cache/tmc-multicluster/bench-venv-<hash>``, made once and reused).

Set-up (not timed): a testbed (``hack.testbed``, state ``.testbed/bench``, torn down at the
end) unless ``--attach DIR`` names a running one; the hub role (only when its CRDs are
missing on an attached testbed); the first ``--clusters`` members registered in push mode
(only when missing, not in push mode or tainted on an attached testbed); a hub namespace
``bench-tmc-<id>`` holding ``--objects`` small manifests (a third each Deployments,
Services and ConfigMaps) and one WorkloadPlacement (``Duplicated``, a CEL predicate that
admits exactly those clusters).

Timed, each as the wall time of one ``ansible-playbook`` process (so Ansible's own start-up,
templating and module transport count on both sides):

- ours: one task ``tmc.multicluster.workload_sync`` for namespace ``bench-tmc-<id>``;
- k8s: a task creating namespace ``bench-k8s-<id>`` on every cluster, then one task looping
  ``kubernetes.core.k8s`` (state present, apply true) over clusters x manifests.

Order: ours first run, k8s first run, ours repeat, k8s repeat (a no-op: nothing changed);
before every timed run the members' Deployments of the previous one are waited for until
they settle (available), so no run pays for another's controllers. ``ours_steady_s`` is a
third workload_sync run (the repeat may still write the statuses that changed as pods came
up; this one writes nothing at all).

Then every object of both namespaces is read back from every member and compared by
``spec`` (Deployments, Services; Service clusterIP(s) are per object and left out) and
``data`` (ConfigMaps): ``specs_equal``. Finally the WorkloadPlacement is removed and one
more (untimed) workload_sync pass deletes the SyncWorks and the member objects; the hub and
member namespaces are deleted. The benchmark only talks to 127.0.0.1 and stops by itself:
every subprocess and wait has a time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"
CACHE = Path.home() / ".cache" / "tmc-multicluster"
BIN = Path(sys.executable).parent
DEFAULT_STATE = REPO / ".testbed" / "bench"

# The benchmark's own virtualenv: kubernetes.core from the ansible package (galaxy is not needed).
BENCH_REQUIREMENTS = ("ansible==12.*", "kubernetes==37.0.2", "PyYAML==6.0.3")
# Labels the integration tests' fixture registers members with: re-registering with the same
# ones changes nothing for others on a shared testbed.
REGISTRATION_LABELS = {"env": "test"}
GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
KINDS = ("ConfigMap", "Service", "Deployment")
SETTLE_TIMEOUT = 300.0


def log(message: str) -> None:
    print(f"[bench-sync] {message}", file=sys.stderr, flush=True)


def _import_engine():
    link = COLLECTIONS / "ansible_collections" / "tmc" / "multicluster"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(REPO, target_is_directory=True)
    for path in (str(COLLECTIONS), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from ansible_collections.tmc.multicluster.plugins.module_utils import kube

    return kube


# ------------------------------------------------------------------ bench venv


def bench_venv() -> Path:
    """The benchmark's virtualenv with ansible (kubernetes.core) and kubernetes; made once, then reused."""
    digest = hashlib.sha256(
        "\n".join([f"python{sys.version_info.major}.{sys.version_info.minor}", *BENCH_REQUIREMENTS]).encode()
    ).hexdigest()[:16]
    venv = CACHE / f"bench-venv-{digest}"
    marker = venv / ".installed"
    if marker.exists():
        return venv
    log(f"creating {venv} ({', '.join(BENCH_REQUIREMENTS)}); once per machine")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, timeout=600)
    subprocess.run([*pip, *BENCH_REQUIREMENTS], check=True, timeout=1800)
    marker.write_text("\n".join(BENCH_REQUIREMENTS) + "\n")
    return venv


def _version_of(python: Path, package: str) -> str:
    proc = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout.strip() or "?"


# ------------------------------------------------------------------ manifests


def make_manifests(count: int) -> list[dict]:
    """Small, realistic objects: ConfigMaps, Services and Deployments in turn (a third each)."""
    manifests = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        app = f"app-{i // len(KINDS):04d}"
        labels = {"app": app, "bench": "sync", "tier": ("web", "api", "worker")[i % 3]}
        if kind == "ConfigMap":
            manifests.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"{app}-config", "labels": labels},
                    "data": {
                        "LOG_LEVEL": ("info", "debug", "warn")[i % 3],
                        "FEATURE_FLAGS": f"search,checkout,variant-{i % 7}",
                        "app.properties": f"server.port=8080\ncache.size={64 * (1 + i % 4)}\nname={app}\n",
                    },
                }
            )
        elif kind == "Service":
            manifests.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": app, "labels": labels},
                    "spec": {
                        "selector": {"app": app},
                        "ports": [
                            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                            {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
                        ],
                    },
                }
            )
        else:
            manifests.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": app, "labels": labels},
                    "spec": {
                        "replicas": 1 + i % 2,
                        "selector": {"matchLabels": {"app": app}},
                        "template": {
                            "metadata": {"labels": {"app": app, "bench": "sync"}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "app",
                                        "image": f"registry.example/bench/{app}:1.{i % 5}",
                                        "ports": [{"containerPort": 8080, "name": "http"}],
                                        "envFrom": [{"configMapRef": {"name": f"{app}-config"}}],
                                        "resources": {
                                            "requests": {"cpu": "10m", "memory": "16Mi"},
                                            "limits": {"memory": "64Mi"},
                                        },
                                    }
                                ]
                            },
                        },
                    },
                }
            )
    return manifests


def placement(namespace: str, clusters: list[str]) -> dict:
    names = ", ".join(f"'{c}'" for c in clusters)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkloadPlacement",
        "metadata": {"name": "bench", "namespace": namespace},
        "spec": {
            "workloadSelector": {"matchLabels": {"bench": "sync"}},
            "resources": [{"group": "apps", "kind": "Deployment"}, {"kind": "Service"}, {"kind": "ConfigMap"}],
            # Exactly these clusters, whatever else a shared hub has registered.
            "predicates": [f"cluster.name in [{names}]"],
            "replicaScheduling": {"type": "Duplicated"},
        },
    }


# ------------------------------------------------------------------ ansible


def _ansible_env(interpreter: Path, collections: str, scan_sys_path: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": collections,
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "true" if scan_sys_path else "false",
            "ANSIBLE_PYTHON_INTERPRETER": str(interpreter),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
        }
    )
    return env


def run_playbook(ansible_playbook: Path, playbook: Path, env: dict, timeout: float, verbose: bool = False):
    """(seconds, CompletedProcess) of one ansible-playbook run; fails loudly on a failed task."""
    cmd = [str(ansible_playbook), "-i", "localhost,", "-c", "local", str(playbook)]
    if verbose:
        cmd.append("-v")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=playbook.parent, timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()
        failed = [line for line in lines if line.startswith(("failed:", "fatal:", "[ERROR]", "ERROR!"))]
        tail = "\n".join([*failed[:10], "...", *lines[-15:]])
        raise RuntimeError(f"{playbook.name} failed (rc={proc.returncode}):\n{tail[-6000:]}")
    return seconds, proc


def recap(stdout: str) -> dict:
    """The PLAY RECAP counters of localhost."""
    for line in stdout.splitlines():
        if line.startswith("localhost") and "ok=" in line:
            return {k: int(v) for k, v in (part.split("=") for part in line.split()[2:] if "=" in part)}
    return {}


def module_result(stdout: str) -> dict:
    """The result of the single workload_sync task, from ``-v`` output."""
    for marker in ("changed: [localhost] => ", "ok: [localhost] => "):
        at = stdout.find(marker)
        if at >= 0:
            return json.JSONDecoder().raw_decode(stdout[at + len(marker) :])[0]
    raise RuntimeError(f"no workload_sync result in the output:\n{stdout[-4000:]}")


OURS_PLAYBOOK = """\
- name: TMC sync of one hub namespace
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Sync the namespace's workloads to the members
      tmc.multicluster.workload_sync:
        kubeconfig: {kubeconfig}
        namespace: {namespace}
"""

K8S_PLAYBOOK = """\
- name: kubernetes.core.k8s over clusters x manifests
  hosts: localhost
  gather_facts: false
  vars_files:
    - k8s-vars.json
  tasks:
    - name: The namespace on every cluster
      kubernetes.core.k8s:
        kubeconfig: "{{ item.kubeconfig }}"
        state: present
        apply: true
        definition:
          apiVersion: v1
          kind: Namespace
          metadata:
            name: "{{ bench_namespace }}"
      loop: "{{ bench_clusters }}"
      loop_control:
        label: "{{ item.name }}"

    - name: Every manifest on every cluster
      kubernetes.core.k8s:
        kubeconfig: "{{ item.0.kubeconfig }}"
        namespace: "{{ bench_namespace }}"
        state: present
        apply: true
        definition: "{{ item.1 }}"
      loop: "{{ bench_clusters | product(bench_manifests) | list }}"
      loop_control:
        label: "{{ item.0.name }}/{{ item.1.kind }}/{{ item.1.metadata.name }}"
"""


# ------------------------------------------------------------------ testbed set-up


def install_hub_role(bed, hub, work: Path, attached: bool) -> None:
    crds = [
        hub.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.{GROUP}")
        for plural in ("clusterregistrations", "workloadplacements", "syncworks")
    ]
    if attached and all(crds):
        log("hub role: the TMC CRDs are installed already (attached testbed): not run again")
        return
    from hack.testbed import HUB

    playbook = work / "hub.yml"
    playbook.write_text(
        "- name: TMC hub\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: tmc.multicluster.hub\n"
        f"      tmc_hub_kubeconfig: {bed.kubeconfig(HUB, direct=True)}\n"
    )
    env = _ansible_env(BIN / "python", str(COLLECTIONS), scan_sys_path=False)
    env["PYTHONPATH"] = f"{COLLECTIONS}:{REPO}"
    log("hub role: installing")
    run_playbook(BIN / "ansible-playbook", playbook, env, timeout=600)
    for api_version in ("tmc.kcp.io/v1alpha1",):
        hub.forget(api_version)


def _registration_usable(registration: dict | None) -> bool:
    if not registration:
        return False
    spec, status = registration.get("spec") or {}, registration.get("status") or {}
    taints = (spec.get("taints") or []) + (status.get("taints") or [])
    blocking = [t for t in taints if t.get("effect") in ("NoSchedule", "NoExecute")]
    return bool(spec.get("credentialsSecretRef")) and not spec.get("unschedulable") and not blocking


def register_members(bed, hub, clusters: list[str], work: Path, attached: bool) -> list[str]:
    """Push-mode registrations of ``clusters`` (with member credentials); returns those (re)registered."""
    from hack.testbed import HUB

    todo = [
        c
        for c in clusters
        if not attached or not _registration_usable(hub.get(f"{GROUP}/{VERSION}", "ClusterRegistration", c))
    ]
    if not todo:
        log(f"members {', '.join(clusters)}: registered in push mode already")
        return []
    tasks = "".join(
        "    - name: Register " + c + "\n"
        "      tmc.multicluster.cluster_registration:\n"
        + "        "
        + json.dumps(
            {
                "kubeconfig": str(bed.kubeconfig(HUB, direct=True)),
                "name": c,
                "location": bed.state["clusters"][c]["region"],
                "heartbeat": True,
                "labels": REGISTRATION_LABELS,
                "member": {"kubeconfig": str(bed.kubeconfig(c, direct=True))},
            }
        )
        + "\n"
        for c in todo
    )
    playbook = work / "register.yml"
    playbook.write_text(f"- name: Register members\n  hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}")
    env = _ansible_env(BIN / "python", str(COLLECTIONS), scan_sys_path=False)
    env["PYTHONPATH"] = f"{COLLECTIONS}:{REPO}"
    log(f"registering {', '.join(todo)} in push mode")
    run_playbook(BIN / "ansible-playbook", playbook, env, timeout=600)
    return todo


def create_sources(hub, namespace: str, manifests: list[dict], clusters: list[str]) -> None:
    hub.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for manifest in manifests:
        hub.create({**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}})
    hub.create(placement(namespace, clusters))


# ------------------------------------------------------------------ members


def settle(members: dict, namespace: str, expected: int, timeout: float = SETTLE_TIMEOUT) -> float:
    """Wait until every member holds ``expected`` Deployments in ``namespace``, all rolled out and available."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        pending = []
        for cluster, member in members.items():
            items = member.list("apps/v1", "Deployment", namespace=namespace)
            ready = [
                d
                for d in items
                if (d.get("status") or {}).get("observedGeneration") == d["metadata"].get("generation")
                and (d.get("status") or {}).get("availableReplicas") == (d.get("spec") or {}).get("replicas")
                and (d.get("status") or {}).get("updatedReplicas") == (d.get("spec") or {}).get("replicas")
            ]
            if len(items) != expected or len(ready) != expected:
                pending.append(f"{cluster}: {len(ready)}/{expected} of {len(items)}")
        if not pending:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise RuntimeError(f"Deployments in {namespace} did not settle in {timeout:.0f}s: {'; '.join(pending)}")
        time.sleep(1.0)


def _comparable(obj: dict) -> dict:
    """The namespace-independent content of an object: spec (Service IPs are per object) or data."""
    kind = obj["kind"]
    if kind == "ConfigMap":
        return {"data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}}
    spec = json.loads(json.dumps(obj.get("spec") or {}))
    if kind == "Service":
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
    return {"spec": spec}


def compare_members(members: dict, ours_ns: str, k8s_ns: str, manifests: list[dict]) -> tuple[bool, list[str]]:
    """Whether every member holds the same objects, with equal specs/data, in both namespaces."""
    wanted = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    problems: list[str] = []
    compared = 0
    for cluster, member in members.items():
        found: dict = {}
        for ns in (ours_ns, k8s_ns):
            objects = {}
            for api_version, kind in (("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment")):
                for obj in member.list(api_version, kind, namespace=ns, label_selector="bench=sync"):
                    objects[(kind, obj["metadata"]["name"])] = obj
            found[ns] = objects
            if set(objects) != wanted:
                missing, extra = wanted - set(objects), set(objects) - wanted
                problems.append(f"{cluster}/{ns}: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}")
        for key in sorted(wanted & set(found[ours_ns]) & set(found[k8s_ns])):
            a, b = _comparable(found[ours_ns][key]), _comparable(found[k8s_ns][key])
            compared += 1
            if a != b:
                problems.append(f"{cluster}/{key[0]}/{key[1]}: ours {json.dumps(a)[:400]} != k8s {json.dumps(b)[:400]}")
    if compared != len(wanted) * len(members):
        problems.append(f"compared {compared} object pairs, expected {len(wanted) * len(members)}")
    return not problems, problems


# ------------------------------------------------------------------ run


def run(
    objects: int, cluster_count: int, attach: str | None, state: str, keep: bool, item_timeout: float = 10.0
) -> dict:
    kube = _import_engine()
    from hack.testbed import HUB, Testbed

    venv = bench_venv()
    bench_python = venv / "bin" / "python"
    work = Path(tempfile.mkdtemp(prefix="tmc-bench-sync-"))
    started = attach is None
    if attach:  # keep its own member count: up() below only checks that it runs
        state_file = Path(attach) / "state.json"
        existing = json.loads(state_file.read_text())["members"] if state_file.exists() else []
        bed = Testbed(attach, members=max(len(existing), cluster_count))
    else:
        bed = Testbed(state, members=cluster_count)
    run_id = uuid.uuid4().hex[:6]
    ours_ns, k8s_ns = f"bench-tmc-{run_id}", f"bench-k8s-{run_id}"
    hub = members = None
    created_sources = False
    try:
        if started:
            log(f"testbed: starting hub + {cluster_count} members in {bed.dir}")
            bed.down()  # one a killed run left behind
        else:
            log(f"testbed: attaching to {bed.dir}")
        bed.up()
        if len(bed.members) < cluster_count:
            raise RuntimeError(f"the testbed in {bed.dir} has {len(bed.members)} members, not {cluster_count}")
        clusters = bed.members[:cluster_count]
        hub = _client(kube, bed.kubeconfig(HUB, direct=True))
        members = {c: _client(kube, bed.kubeconfig(c, direct=True)) for c in clusters}
        install_hub_role(bed, hub, work, attached=not started)
        registered = register_members(bed, hub, clusters, work, attached=not started)

        manifests = make_manifests(objects)
        deployments = sum(1 for m in manifests if m["kind"] == "Deployment")
        setup_start = time.perf_counter()
        create_sources(hub, ours_ns, manifests, clusters)
        created_sources = True
        hub_setup_s = time.perf_counter() - setup_start

        (work / "ours.yml").write_text(
            OURS_PLAYBOOK.format(kubeconfig=bed.kubeconfig(HUB, direct=True), namespace=ours_ns)
        )
        (work / "k8s.yml").write_text(K8S_PLAYBOOK)
        (work / "k8s-vars.json").write_text(
            json.dumps(
                {
                    "bench_namespace": k8s_ns,
                    "bench_clusters": [
                        {"name": c, "kubeconfig": str(bed.kubeconfig(c, direct=True))} for c in clusters
                    ],
                    "bench_manifests": manifests,
                }
            )
        )
        ours_env = _ansible_env(BIN / "python", str(COLLECTIONS), scan_sys_path=False)
        ours_env["PYTHONPATH"] = f"{COLLECTIONS}:{REPO}"
        (work / "no-collections").mkdir()
        k8s_env = _ansible_env(bench_python, str(work / "no-collections"), scan_sys_path=True)
        # The k8s loop starts one module process per item: ~1.5 s idle, 6-8 s on an overloaded machine.
        timeout = 300 + item_timeout * objects * cluster_count

        def ours():
            seconds, proc = run_playbook(BIN / "ansible-playbook", work / "ours.yml", ours_env, timeout, verbose=True)
            result = module_result(proc.stdout)
            if result.get("errors"):
                raise RuntimeError(f"workload_sync reported errors: {result['errors'][:3]}")
            return seconds, result

        def k8s():
            seconds, proc = run_playbook(venv / "bin" / "ansible-playbook", work / "k8s.yml", k8s_env, timeout)
            return seconds, recap(proc.stdout)

        log(f"ours first: workload_sync of {objects} objects to {', '.join(clusters)}")
        ours_first_s, ours_first = ours()
        chosen = sorted(d["cluster"] for d in ours_first["decisions"].get("bench", []))
        if chosen != sorted(clusters):
            raise RuntimeError(f"the placement chose {chosen}, not {clusters}")
        settle_ours_s = settle(members, ours_ns, deployments)
        log(f"  {ours_first_s:.2f}s (members settled {settle_ours_s:.1f}s later)")

        log(f"k8s first: kubernetes.core.k8s loop over {cluster_count} x {objects}")
        k8s_first_s, k8s_first = k8s()
        settle_k8s_s = settle(members, k8s_ns, deployments)
        log(f"  {k8s_first_s:.2f}s (members settled {settle_k8s_s:.1f}s later)")

        log("ours repeat (no-op)")
        ours_noop_s, ours_noop = ours()
        log(f"  {ours_noop_s:.2f}s")
        log("k8s repeat (no-op)")
        k8s_noop_s, k8s_noop = k8s()
        log(f"  {k8s_noop_s:.2f}s")
        log("ours steady (a third run: no status left to write)")
        ours_steady_s, ours_steady = ours()
        log(f"  {ours_steady_s:.2f}s")

        specs_equal, problems = compare_members(members, ours_ns, k8s_ns, manifests)
        noop_ok = not ours_noop.get("changed") and not ours_steady.get("changed") and k8s_noop.get("changed", -1) == 0
        return {
            "objects": objects,
            "clusters": cluster_count,
            "ours_first_s": round(ours_first_s, 3),
            "k8s_first_s": round(k8s_first_s, 3),
            "ours_noop_s": round(ours_noop_s, 3),
            "k8s_noop_s": round(k8s_noop_s, 3),
            "ratio_first": round(k8s_first_s / ours_first_s, 2),
            "ratio_noop": round(k8s_noop_s / ours_noop_s, 2),
            "specs_equal": specs_equal,
            "noop_unchanged": noop_ok,
            "ours_steady_s": round(ours_steady_s, 3),
            "hub_setup_s": round(hub_setup_s, 3),
            "member_objects": objects * cluster_count,
            "ours_first": _summary(ours_first),
            "ours_noop": _summary(ours_noop),
            "ours_steady": _summary(ours_steady),
            "k8s_first_recap": k8s_first,
            "k8s_noop_recap": k8s_noop,
            "spec_problems": problems[:10],
            "namespaces": {"ours": ours_ns, "k8s": k8s_ns},
            "testbed": {"state": str(bed.dir), "attached": not started, "registered_now": registered},
            "versions": {
                "ansible_core_ours": _version_of(BIN / "python", "ansible-core"),
                "ansible_bench": _version_of(bench_python, "ansible"),
                "ansible_core_bench": _version_of(bench_python, "ansible-core"),
                "kubernetes_core": _collection_version(bench_python),
                "python": sys.version.split()[0],
            },
        }
    finally:
        if started and not keep:
            log(f"testbed: stopping {bed.dir}")
            bed.down()
        elif hub is not None and not keep:
            _cleanup(bed, hub, members or {}, ours_ns, k8s_ns, created_sources, work)
        shutil.rmtree(work, ignore_errors=True)


def _summary(result: dict) -> dict:
    return {
        "changed": result.get("changed"),
        "syncworks": result.get("syncworks"),
        "status_updates": result.get("status_updates"),
        "members": {
            c: {k: v for k, v in r.items() if k != "errors"} for c, r in (result.get("clusters") or {}).items()
        },
    }


def _collection_version(python: Path) -> str:
    proc = subprocess.run(
        [
            str(python),
            "-c",
            "import json, pathlib, ansible_collections.kubernetes.core as c; "
            "print(json.loads((pathlib.Path(c.__path__[0]) / 'MANIFEST.json').read_text())"
            "['collection_info']['version'])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout.strip() or "?"


def _client(kube, kubeconfig: Path):
    """An admin client of one cluster (the engine's plain-dict Kube)."""
    return kube.client_for(kube.ClientConfig(kubeconfig=str(kubeconfig)))


def _cleanup(bed, hub, members: dict, ours_ns: str, k8s_ns: str, created_sources: bool, work: Path) -> None:
    """On an attached testbed: remove what this run made (SyncWorks first, through workload_sync)."""
    from hack.testbed import HUB

    log(f"cleaning up {ours_ns} and {k8s_ns}")
    if created_sources:
        try:
            hub.delete(f"{GROUP}/{VERSION}", "WorkloadPlacement", "bench", ours_ns)
            playbook = work / "cleanup.yml"
            playbook.write_text(OURS_PLAYBOOK.format(kubeconfig=bed.kubeconfig(HUB, direct=True), namespace=ours_ns))
            env = _ansible_env(BIN / "python", str(COLLECTIONS), scan_sys_path=False)
            env["PYTHONPATH"] = f"{COLLECTIONS}:{REPO}"
            run_playbook(BIN / "ansible-playbook", playbook, env, timeout=1800)
        except Exception as err:  # e.g. someone re-registered a shared member in pull mode meanwhile
            log(f"workload_sync could not clean up ({type(err).__name__}: {str(err)[-300:]}); removing directly")
    try:
        for member in members.values():
            member.delete("v1", "Namespace", ours_ns)
            member.delete("v1", "Namespace", k8s_ns)
        remove_syncworks(hub, ours_ns)
        hub.delete("v1", "Namespace", ours_ns)
    except Exception as err:  # leave the rest to a human, but say what is left
        log(f"cleanup incomplete ({type(err).__name__}: {str(err)[:300]}); namespaces {ours_ns}, {k8s_ns} may remain")


def remove_syncworks(hub, source_namespace: str) -> int:
    """Delete the SyncWorks of one source namespace, dropping their finalizer (the member side is gone)."""
    selector = f"{GROUP}/source-namespace={source_namespace}"
    works = hub.list(f"{GROUP}/{VERSION}", "SyncWork", label_selector=selector)
    for work in works:
        meta = work["metadata"]
        hub.delete(f"{GROUP}/{VERSION}", "SyncWork", meta["name"], meta["namespace"])
        try:
            hub.patch(
                f"{GROUP}/{VERSION}", "SyncWork", meta["name"], {"metadata": {"finalizers": None}}, meta["namespace"]
            )
        except Exception as err:  # gone already
            if getattr(err, "status", None) != 404:
                raise
    return len(works)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--objects", type=int, default=200, help="manifests (a third each ConfigMap/Service/Deployment)"
    )
    parser.add_argument("--clusters", type=int, default=3, help="member clusters")
    parser.add_argument("--attach", metavar="STATE_DIR", help="use this running testbed (left running)")
    parser.add_argument("--state", default=str(DEFAULT_STATE), help="state dir of the testbed it starts")
    parser.add_argument(
        "--item-timeout",
        type=float,
        default=10.0,
        help="seconds allowed per cluster x manifest in each timed run, plus 300 (default: %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the testbed / namespaces in place")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: key: value lines)")
    args = parser.parse_args(argv)
    if args.objects < 1 or args.clusters < 1:
        parser.error("--objects and --clusters must be at least 1")
    result = run(args.objects, args.clusters, args.attach, args.state, args.keep, args.item_timeout)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0 if result["specs_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
