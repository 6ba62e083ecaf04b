"""Fidelity: a realistic application synced by TMC to the three members is what the same manifest
applied there directly with ``kubectl apply --server-side`` would be, but for the differences that
docs/concepts/sync.md names ("How a member's copy differs from applying the manifest yourself").

The application (tests/integration/files/fidelity/app.yaml) has HPA-scaled Deployments, a
StatefulSet with volume claims, Jobs, a CronJob, ServiceAccounts, a Role and RoleBinding, a
NetworkPolicy, an Ingress, a PodDisruptionBudget, a token Secret and a custom resource whose CRD
is on every cluster. The oracle is kubectl and the members' own controllers (their HPA controller
holds each autoscaled Deployment at its minReplicas of 2: the testbed has no metrics, and an HPA
without metrics still enforces its bounds).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from hack.testbed import HUB

from ..conftest import REPO
from .ansible_cli import hub_args, run_module
from .security import AllowedKinds

FILES = Path(__file__).parent / "files" / "fidelity"
DOC = REPO / "docs" / "concepts" / "sync.md"
DOC_SECTION = "How a member's copy differs from applying the manifest yourself"
GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
AUTOSCALED = ("storefront", "catalog")
RESOURCES = [
    {"group": "apps", "kind": "Deployment"},
    {"group": "apps", "kind": "StatefulSet"},
    {"group": "batch", "kind": "Job"},
    {"group": "batch", "kind": "CronJob"},
    {"group": "", "kind": "Service"},
    {"group": "", "kind": "ConfigMap"},
    {"group": "", "kind": "Secret"},
    {"group": "", "kind": "ServiceAccount"},
    {"group": "rbac.authorization.k8s.io", "kind": "Role"},
    {"group": "rbac.authorization.k8s.io", "kind": "RoleBinding"},
    {"group": "networking.k8s.io", "kind": "NetworkPolicy"},
    {"group": "networking.k8s.io", "kind": "Ingress"},
    {"group": "policy", "kind": "PodDisruptionBudget"},
    {"group": "autoscaling", "kind": "HorizontalPodAutoscaler"},
    {"group": "bookshop.tmc.example", "kind": "Cache"},
]


def wait_for(what, check, timeout=180.0, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def kubectl(bed, cluster: str, *args: str, stdin: str | None = None) -> str:
    """The testbed's kubectl against one cluster: the oracle's hands."""
    cmd = [str(Path(bed.state["bin_dir"]) / "kubectl"), "--kubeconfig", str(bed.kubeconfig(cluster, direct=True))]
    run = subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, f"kubectl {' '.join(args)} on {cluster}: {run.stderr}"
    return run.stdout


def app_text(namespace: str) -> str:
    return (FILES / "app.yaml").read_text().replace("${NAMESPACE}", namespace)


def app_objects() -> list[dict]:
    return [d for d in yaml.safe_load_all(app_text("x")) if d]


def apply_app(bed, cluster: str, namespace: str) -> None:
    kubectl(bed, cluster, "create", "namespace", namespace)
    kubectl(bed, cluster, "apply", "--server-side", "-n", namespace, "-f", "-", stdin=app_text(namespace))


def install_crd(bed, cluster: str) -> None:
    kubectl(bed, cluster, "apply", "--server-side", "-f", str(FILES / "crd.yaml"))
    kubectl(bed, cluster, "wait", "--for=condition=Established", "crd/caches.bookshop.tmc.example", "--timeout=60s")


def get(bed, cluster: str, namespace: str, obj: dict) -> dict | None:
    kind = f"{obj['kind'].lower()}.{obj['apiVersion'].rpartition('/')[0] or 'core'}"
    kind = kind.removesuffix(".core") if obj["apiVersion"] == "v1" else kind
    cmd = [str(Path(bed.state["bin_dir"]) / "kubectl"), "--kubeconfig", str(bed.kubeconfig(cluster, direct=True))]
    run = subprocess.run(
        [*cmd, "get", kind, obj["metadata"]["name"], "-n", namespace, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if run.returncode != 0:
        assert "NotFound" in run.stderr, run.stderr
        return None
    return json.loads(run.stdout)


# ---------------------------------------------------------------- comparing


def normalize(obj: dict, namespace: str) -> dict:
    """What differs between any two objects of one manifest, whoever applied them, taken out:
    identity and bookkeeping (uid, resourceVersion, creationTimestamp, managedFields), the status
    (the members' controllers fill it in over time), the namespace's name wherever it appears, the
    object's own uid wherever it appears (a Job's generated selector and labels), and the cluster
    IPs each member allocates."""
    uid = obj["metadata"]["uid"]
    obj = json.loads(json.dumps(obj))
    for key in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "namespace", "selfLink"):
        obj["metadata"].pop(key, None)
    obj.pop("status", None)
    if obj["kind"] == "Service" and obj["spec"].get("clusterIP") != "None":
        obj["spec"]["clusterIP"] = "<allocated>"
        obj["spec"]["clusterIPs"] = ["<allocated>"]

    def walk(value):
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if value == namespace:
            return "<namespace>"
        if value == uid:
            return "<uid>"
        return value

    return walk(obj)


def hub_identity(obj: dict, hub_uid: str) -> list[str]:
    """Where a member object carries its hub source's uid, but for TMC's source annotation (which
    names the hub object on purpose)."""
    found = []

    def walk(value, path):
        if isinstance(value, dict):
            for k, v in value.items():
                if path == ".metadata.annotations" and k == "tmc.kcp.io/source":
                    continue
                walk(v, path + _step(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + _step(i))
        elif isinstance(value, str) and hub_uid in value:
            found.append(path.lstrip("."))

    walk(obj, "")
    return found


def _step(key) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    return f".{key}" if re.fullmatch(r"[A-Za-z0-9_]+", key) else f'["{key}"]'


def differences(tmc, direct, path: str = "") -> list[str]:
    """Paths where the two differ (a key on one side only, or another value)."""
    if isinstance(tmc, dict) and direct is _MISSING:
        direct = {}
    if isinstance(direct, dict) and tmc is _MISSING:
        tmc = {}
    if isinstance(tmc, dict) and isinstance(direct, dict):
        found = []
        for key in sorted(set(tmc) | set(direct)):
            found += differences(tmc.get(key, _MISSING), direct.get(key, _MISSING), path + _step(key))
        return found
    if isinstance(tmc, list) and isinstance(direct, list) and len(tmc) == len(direct):
        return [d for i, (a, b) in enumerate(zip(tmc, direct, strict=True)) for d in differences(a, b, path + _step(i))]
    return [] if tmc == direct else [path.lstrip(".")]


_MISSING = object()


def documented_differences() -> list[tuple[str, str]]:
    """(kind or *, path pattern) of every row of the docs' table of differences."""
    text = DOC.read_text()
    start = text.index(f"## {DOC_SECTION}")
    section = text[start : text.find("\n## ", start + 3)]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1].startswith("`"):
            rows += [(cells[0].strip("`"), pattern) for pattern in re.findall(r"`([^`]+)`", cells[1])]
    assert rows, f"no table in '{DOC_SECTION}'"
    return rows


def _matches(path: str, pattern: str) -> bool:
    """``*`` in a documented path stands for anything; everything else is literal."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), path) is not None


def undocumented(kind: str, paths: list[str], rows: list[tuple[str, str]]) -> list[str]:
    return [p for p in paths if not any(k in ("*", kind) and _matches(p, pattern) for k, pattern in rows)]


# ---------------------------------------------------------------- the application


@pytest.fixture(scope="module")
def bookshop(registered, hub_api_client):
    bed = registered
    suffix = uuid.uuid4().hex[:6]
    ns, direct = f"bookshop-{suffix}", f"direct-{suffix}"
    for cluster in [HUB, *bed.members]:
        install_crd(bed, cluster)
    apply_app(bed, HUB, ns)
    # The platform admin lets this namespace's kinds be placed (the hub role's tmc_hub_allowed_kinds).
    allowed = AllowedKinds(hub_api_client, ns, *((r["group"], r["kind"]) for r in RESOURCES))
    allowed.__enter__()
    client.CustomObjectsApi(hub_api_client).create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        "workloadplacements",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkloadPlacement",
            "metadata": {"name": "bookshop", "namespace": ns},
            "spec": {"resources": RESOURCES, "clusterSelector": {"matchLabels": {"env": "test"}}},
        },
    )
    first = run_module("workload_sync", hub_args(bed, namespace=ns))
    assert not first.failed, first.output
    for cluster in bed.members:
        apply_app(bed, cluster, direct)
    try:
        yield {"bed": bed, "ns": ns, "direct": direct, "first": first}
    finally:
        client.CustomObjectsApi(hub_api_client).delete_namespaced_custom_object(
            GROUP, VERSION, ns, "workloadplacements", "bookshop"
        )
        run_module("workload_sync", hub_args(bed, namespace=ns, fail_on_error=False))
        client.CoreV1Api(hub_api_client).delete_namespace(ns)
        for cluster in bed.members:
            kubectl(bed, cluster, "delete", "namespace", direct, "--wait=false")
        allowed.__exit__(None, None, None)


def replicas_held(bed, cluster: str, namespace: str) -> bool:
    apps = {
        d["metadata"]["name"]: d
        for d in json.loads(kubectl(bed, cluster, "get", "deploy", "-n", namespace, "-o", "json"))["items"]
    }
    return all(apps.get(name, {}).get("spec", {}).get("replicas") == 2 for name in AUTOSCALED)


def test_every_member_object_is_the_direct_apply_but_for_documented_differences(bookshop):
    bed, ns, direct = bookshop["bed"], bookshop["ns"], bookshop["direct"]
    rows = documented_differences()
    report, problems = {}, []
    hub_uids = {}
    for obj in app_objects():
        hub_obj = get(bed, HUB, ns, obj)
        hub_uids[(obj["kind"], obj["metadata"]["name"])] = hub_obj["metadata"]["uid"]
    for cluster in bed.members:
        # Both copies of each autoscaled Deployment at the HPA's minReplicas: its controller has acted on both.
        wait_for(
            f"the HPAs on {cluster}", lambda c=cluster: replicas_held(bed, c, ns) and replicas_held(bed, c, direct)
        )
        for obj in app_objects():
            what = f"{cluster} {obj['kind']}/{obj['metadata']['name']}"
            synced, applied = get(bed, cluster, ns, obj), get(bed, cluster, direct, obj)
            assert applied is not None, f"{what}: kubectl's own apply is missing"
            if synced is None:
                if undocumented(obj["kind"], ["(not placed)"], rows):
                    problems.append(f"{what} was not synced, and the docs do not say so")
                report[what] = ["(not placed)"]
                continue
            leaked = hub_identity(synced, hub_uids.get((obj["kind"], obj["metadata"]["name"])))
            if leaked:
                problems.append(f"{what} carries the hub object's uid at {leaked}")
            paths = differences(normalize(synced, ns), normalize(applied, direct))
            gaps = undocumented(obj["kind"], paths, rows)
            if gaps:
                problems.append(
                    f"{what}: differences the docs do not name: {gaps}\n  TMC: {synced}\n  kubectl: {applied}"
                )
            report[what] = paths
    assert not problems, "\n".join(problems)
    # The comparison compared something: every synced object differs at least by TMC's marks.
    assert all(paths for paths in report.values()), report


def test_no_object_a_member_makes_for_itself_is_taken_over(bookshop, member_api_clients):
    bed, ns = bookshop["bed"], bookshop["ns"]
    marks = ("tmc.kcp.io/managed", "tmc.kcp.io/cluster", "tmc.kcp.io/source")
    for cluster in bed.members:
        core = client.CoreV1Api(member_api_clients[cluster])
        own = [core.read_namespaced_service_account("default", ns)]
        own += [s for s in core.list_namespaced_secret(ns).items if s.type == "kubernetes.io/service-account-token"]
        try:
            own.append(core.read_namespaced_config_map("kube-root-ca.crt", ns))
        except ApiException as err:
            assert err.status == 404
        for obj in own:
            meta = obj.metadata
            assert not set(marks) & set(meta.labels or {}), (cluster, obj.kind, meta.name, meta.labels)
            assert not set(marks) & set(meta.annotations or {}), (cluster, obj.kind, meta.name, meta.annotations)


def test_the_hub_holds_what_members_run_and_a_repeat_changes_nothing(bookshop, hub_api_client):
    bed, ns = bookshop["bed"], bookshop["ns"]
    for cluster in bed.members:
        wait_for(f"the HPAs on {cluster}", lambda c=cluster: replicas_held(bed, c, ns))
    generations = {
        (c, name): json.loads(kubectl(bed, c, "get", "deploy", name, "-n", ns, "-o", "json"))["metadata"]["generation"]
        for c in bed.members
        for name in AUTOSCALED
    }
    again = run_module("workload_sync", hub_args(bed, namespace=ns))
    assert not again.failed, again.output
    assert not again.changed, again.result["clusters"]
    after = {
        (c, name): json.loads(kubectl(bed, c, "get", "deploy", name, "-n", ns, "-o", "json"))["metadata"]["generation"]
        for c in bed.members
        for name in AUTOSCALED
    }
    assert after == generations
    apps = client.AppsV1Api(hub_api_client)
    for name in AUTOSCALED:
        hub = apps.read_namespaced_deployment(name, ns)
        assert hub.status.replicas == 2 * len(bed.members), (name, hub.status)
