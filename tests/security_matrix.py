"""The permission matrix of docs/concepts/security.md: identity x verb x resource, as data.

tests/integration/test_security_matrix.py performs every cell as a real request on the testbed;
tests/unit/test_security_doc.py checks that the table in docs/concepts/security.md is this one.

Namespaces are written as placeholders: ``{a}`` and ``{b}`` are the two tenants' hub namespaces
(``team-a-*``, ``team-b-*``), ``{m}`` a namespace TMC manages on member1, ``{u}`` one it does not.
Writes are server-side dry runs, so that a cell that is allowed changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "tmc.kcp.io/v1alpha1"

# Who: the identities, and where each one acts.
IDENTITIES = {
    "tenant-view": "vic: view in team-a (hub)",
    "tenant-edit": "alice: edit in team-a (hub)",
    "tenant-admin": "ada: admin in team-a (hub)",
    "other-tenant": "bob: edit in team-b (hub)",
    "syncer-1": "member1's syncer: ServiceAccount syncer of tmc-cluster-member1 (hub)",
    "syncer-2": "member2's syncer: ServiceAccount syncer of tmc-cluster-member2 (hub)",
    "controller": "the controller: ServiceAccount tmc-system/tmc-controller, tmc_controller_namespaces set (hub)",
    "member-syncer": "member1's syncer on member1: ServiceAccount tmc-system/tmc-syncer-member1 (member)",
}


@dataclass(frozen=True)
class Cell:
    identity: str
    verb: str  # get, list, create, update, patch, delete, status (a status patch)
    resource: str  # what, as the doc's table shows it
    path: str  # API path with placeholders
    allowed: bool
    body: str = ""  # the name of a body in BODIES (create/update/patch)

    @property
    def id(self) -> str:
        return f"{self.identity}:{self.verb}:{self.resource}"


def _cells(identity: str, rows: list[tuple]) -> list[Cell]:
    return [Cell(identity, *row) for row in rows]


WP_A = f"/apis/{GROUP}/namespaces/{{a}}/workloadplacements"
WP_B = f"/apis/{GROUP}/namespaces/{{b}}/workloadplacements"
SW_A = f"/apis/{GROUP}/namespaces/{{a}}/syncworks"
SW_1 = f"/apis/{GROUP}/namespaces/tmc-cluster-member1/syncworks"
SW_2 = f"/apis/{GROUP}/namespaces/tmc-cluster-member2/syncworks"
CREG = f"/apis/{GROUP}/clusterregistrations"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/tmc-system/leases"
POLICY = "/api/v1/namespaces/tmc-system/configmaps/tmc-policy"
VAPB = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/tmc-syncer-writes"


def _tenant(identity: str, own: bool, write: bool, admin: bool) -> list[Cell]:
    """A tenant's rows: ``own`` when team-a is its namespace, ``write`` for edit/admin."""
    return _cells(
        identity,
        [
            ("list", "WorkloadPlacements in team-a", WP_A, own),
            ("create", "WorkloadPlacements in team-a", WP_A, own and write, "placement"),
            ("create", "WorkloadPlacements in team-b", WP_B, not own and write, "placement"),
            ("list", "SyncWorks in team-a", SW_A, False),
            ("create", "SyncWorks in team-a", SW_A, False, "syncwork_a"),
            ("list", "SyncWorks in tmc-cluster-member1", SW_1, False),
            ("create", "SyncWorks in tmc-cluster-member1", SW_1, False, "syncwork_1"),
            ("list", "Secrets in team-a", "/api/v1/namespaces/{a}/secrets", own and write),
            ("list", "Secrets in tmc-system", "/api/v1/namespaces/tmc-system/secrets", False),
            (
                "get",
                "syncer token Secret of member1",
                "/api/v1/namespaces/tmc-cluster-member1/secrets/syncer-token",
                False,
            ),
            ("list", "ClusterRegistrations", CREG, False),
            ("create", "ClusterRegistrations", CREG, False, "registration"),
            (
                "create",
                "RoleBindings in team-a",
                "/apis/rbac.authorization.k8s.io/v1/namespaces/{a}/rolebindings",
                own and admin,
                "rolebinding",
            ),
            ("update", "ConfigMap tmc-system/tmc-policy", POLICY, False, "policy"),
        ],
    )


def _syncer(identity: str, own: str, other: str) -> list[Cell]:
    sw_own = f"/apis/{GROUP}/namespaces/tmc-cluster-{own}/syncworks"
    sw_other = f"/apis/{GROUP}/namespaces/tmc-cluster-{other}/syncworks"
    return _cells(
        identity,
        [
            ("list", f"SyncWorks in tmc-cluster-{own}", sw_own, True),
            ("create", f"SyncWorks in tmc-cluster-{own}", sw_own, False, f"syncwork_{own[-1]}"),
            ("delete", f"SyncWorks in tmc-cluster-{own}", sw_own + "/{work_" + own[-1] + "}", False),
            (
                "patch",
                f"its SyncWork's labels (tmc-cluster-{own})",
                sw_own + "/{work_" + own[-1] + "}",
                False,
                "relabel",
            ),
            (
                "status",
                f"its SyncWork's status (tmc-cluster-{own})",
                sw_own + "/{work_" + own[-1] + "}/status",
                True,
                "work_status",
            ),
            ("list", f"SyncWorks in tmc-cluster-{other}", sw_other, False),
            ("list", "WorkloadPlacements in team-a", WP_A, False),
            ("list", "Deployments in team-a", "/apis/apps/v1/namespaces/{a}/deployments", False),
            ("list", "Secrets in tmc-system", "/api/v1/namespaces/tmc-system/secrets", False),
            ("get", f"its ClusterRegistration ({own})", f"{CREG}/{own}", True),
            ("status", f"its ClusterRegistration's status ({own})", f"{CREG}/{own}/status", True, "creg_status"),
            (
                "status",
                f"another ClusterRegistration's status ({other})",
                f"{CREG}/{other}/status",
                False,
                "creg_status",
            ),
            ("patch", f"its heartbeat Lease (cluster-{own})", f"{LEASES}/cluster-{own}", True, "lease"),
            ("patch", f"another heartbeat Lease (cluster-{other})", f"{LEASES}/cluster-{other}", False, "lease"),
        ],
    )


MATRIX: list[Cell] = [
    *_tenant("tenant-view", own=True, write=False, admin=False),
    *_tenant("tenant-edit", own=True, write=True, admin=False),
    *_tenant("tenant-admin", own=True, write=True, admin=True),
    *_tenant("other-tenant", own=False, write=True, admin=False),
    *_syncer("syncer-1", "member1", "member2"),
    *_syncer("syncer-2", "member2", "member1"),
    *_cells(
        "controller",
        [
            ("list", "WorkloadPlacements in team-a", WP_A, True),
            ("status", "WorkloadPlacement status in team-a", WP_A + "/{placement_a}/status", True, "wp_status"),
            ("create", "WorkloadPlacements in team-a", WP_A, False, "placement"),
            ("list", "Deployments in team-a", "/apis/apps/v1/namespaces/{a}/deployments", True),
            ("list", "Secrets in team-a", "/api/v1/namespaces/{a}/secrets", True),
            ("create", "Deployments in team-a", "/apis/apps/v1/namespaces/{a}/deployments", False, "deployment"),
            ("list", "Secrets in tmc-system", "/api/v1/namespaces/tmc-system/secrets", False),
            (
                "get",
                "syncer token Secret of member1",
                "/api/v1/namespaces/tmc-cluster-member1/secrets/syncer-token",
                False,
            ),
            ("list", "Secrets in kube-system", "/api/v1/namespaces/kube-system/secrets", False),
            ("list", "SyncWorks in tmc-cluster-member1", SW_1, True),
            ("create", "SyncWorks in tmc-cluster-member1", SW_1, True, "syncwork_1"),
            ("create", "SyncWorks in team-a", SW_A, False, "syncwork_a"),
            ("get", "ConfigMap tmc-system/tmc-policy", POLICY, True),
            ("update", "ConfigMap tmc-system/tmc-policy", POLICY, False, "policy"),
            ("delete", "admission policy bindings", VAPB, False),
            ("create", "ClusterRegistrations", CREG, False, "registration"),
        ],
    ),
    *_cells(
        "member-syncer",
        [
            (
                "create",
                "Deployments in a managed namespace",
                "/apis/apps/v1/namespaces/{m}/deployments",
                True,
                "deployment",
            ),
            (
                "create",
                "Deployments in kube-system",
                "/apis/apps/v1/namespaces/kube-system/deployments",
                False,
                "deployment",
            ),
            (
                "create",
                "Deployments in an unmanaged namespace",
                "/apis/apps/v1/namespaces/{u}/deployments",
                False,
                "deployment",
            ),
            ("create", "Secrets in kube-system", "/api/v1/namespaces/kube-system/secrets", False, "secret"),
            ("create", "Namespaces labelled tmc.kcp.io/managed", "/api/v1/namespaces", True, "managed_namespace"),
            ("create", "Namespaces without the label", "/api/v1/namespaces", False, "namespace"),
            (
                "create",
                "ClusterRoleBindings",
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                False,
                "clusterrolebinding",
            ),
            ("create", "Pods in a managed namespace", "/api/v1/namespaces/{m}/pods", False, "pod"),
            ("list", "Nodes", "/api/v1/nodes", True),
            ("list", "Secrets in kube-system (read: see the limits)", "/api/v1/namespaces/kube-system/secrets", True),
        ],
    ),
]


def render_table(cells: list[Cell] = MATRIX) -> str:
    """The matrix as the Markdown table docs/concepts/security.md carries (between its markers)."""
    lines = ["| Identity | Verb | Resource | Allowed |", "|---|---|---|---|"]
    for cell in cells:
        lines.append(f"| `{cell.identity}` | {cell.verb} | {cell.resource} | {'yes' if cell.allowed else '**no**'} |")
    return "\n".join(lines)
