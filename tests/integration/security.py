"""Identities and switches for the security tests (docs/concepts/security.md).

Every request an attack test makes goes to the real hub or member API server as the identity it
names: a tenant by impersonation (the testbed admin's kubeconfig with ``Impersonate-User`` and
``Impersonate-Group``, which the API server authorizes as that user), a syncer or controller with
its own token.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.rest import ApiException

GROUP, VERSION = "tmc.kcp.io", "v1alpha1"
ADMISSION = "app.kubernetes.io/component=admission"  # the hub role's policies and bindings


def wait_for(what, check, timeout=90.0, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def api_client(kubeconfig: Path | str, user: str | None = None, group: str | None = None) -> client.ApiClient:
    """A client of the kubeconfig's identity, or of ``user`` (in ``group``) by impersonation."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    if user is not None:
        api.set_default_header("Impersonate-User", user)
        if group is not None:
            api.set_default_header("Impersonate-Group", group)
    return api


def status_of(call) -> int:
    """The HTTP status of one request: 200 when it succeeded, else the API server's answer."""
    try:
        call()
    except ApiException as err:
        return err.status
    return 200


def refused_by(err: ApiException) -> str:
    return err.body if isinstance(err.body, str) else str(err.body)


class Tenants:
    """Two tenant namespaces on the hub and their people: in team-a, ``alice`` (edit), ``ada`` (admin)
    and ``vic`` (view); in team-b, ``bob`` (edit). Namespaces carry a unique suffix."""

    def __init__(self, hub_api: client.ApiClient, kubeconfig: Path):
        suffix = uuid.uuid4().hex[:5]
        self.a, self.b = f"team-a-{suffix}", f"team-b-{suffix}"
        self.kubeconfig = kubeconfig
        self.hub_api = hub_api
        self.people = {
            "alice": (self.a, "edit"),
            "ada": (self.a, "admin"),
            "vic": (self.a, "view"),
            "bob": (self.b, "edit"),
        }

    def create(self) -> Tenants:
        core, rbac = client.CoreV1Api(self.hub_api), client.RbacAuthorizationV1Api(self.hub_api)
        for ns in (self.a, self.b):
            core.create_namespace({"metadata": {"name": ns}})
        for user, (ns, role) in self.people.items():
            rbac.create_namespaced_role_binding(
                ns,
                {
                    "metadata": {"name": f"{user}-{role}"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
                },
            )
        return self

    def delete(self) -> None:
        for ns in (self.a, self.b):
            try:
                client.CoreV1Api(self.hub_api).delete_namespace(ns)
            except ApiException as err:
                if err.status != 404:
                    raise

    def as_(self, user: str) -> client.ApiClient:
        return api_client(self.kubeconfig, user)


class Admission:
    """The hub role's ValidatingAdmissionPolicy bindings: removed for the attacks that must fail on
    the controller's own rules, and put back as they were."""

    def __init__(self, hub_api: client.ApiClient):
        self.api = client.AdmissionregistrationV1Api(hub_api)
        self.custom = client.CustomObjectsApi(hub_api)
        self.saved: list = []

    def _canary(self) -> int:
        """A dry-run SyncWork outside a cluster namespace: 200 without the policies, else refused."""
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SyncWork",
            "metadata": {"name": "canary"},
            "spec": {
                "cluster": "nowhere",
                "source": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "default", "name": "c"},
                "manifest": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "c", "namespace": "default"},
                },
            },
        }
        return status_of(
            lambda: self.custom.create_namespaced_custom_object(
                GROUP, VERSION, "default", "syncworks", body, dry_run="All"
            )
        )

    def active(self) -> bool:
        return self._canary() != 200

    def remove(self) -> None:
        found = self.api.list_validating_admission_policy_binding(label_selector=ADMISSION).items
        assert found, "the hub role installed no admission policy bindings"
        self.saved = [self.api.api_client.sanitize_for_serialization(b) for b in found]
        for binding in self.saved:
            self.api.delete_validating_admission_policy_binding(binding["metadata"]["name"])
        wait_for("the admission policies to stop", lambda: self._canary() == 200)

    def restore(self) -> None:
        for binding in self.saved:
            body = {"metadata": {k: binding["metadata"][k] for k in ("name", "labels")}, "spec": binding["spec"]}
            try:
                self.api.create_validating_admission_policy_binding(body)
            except ApiException as err:
                if err.status != 409:
                    raise
        self.saved = []
        wait_for("the admission policies to refuse again", lambda: self._canary() != 200)


class AllowedKinds:
    """The platform admin adds kinds to the tenant allow-list for one test, and takes them back, as a
    run of the hub role with a longer tmc_hub_allowed_kinds would: the ConfigMap tmc-system/tmc-policy
    (the controller's copy) and the list in the admission policy tmc-placement-kinds."""

    def __init__(self, hub_api: client.ApiClient, namespace: str, *kinds: tuple[str, str]):
        self.core = client.CoreV1Api(hub_api)
        self.custom = client.CustomObjectsApi(hub_api)
        self.admission = client.AdmissionregistrationV1Api(hub_api)
        self.namespace, self.kinds = namespace, kinds

    def _admitted(self) -> bool:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "WorkloadPlacement",
            "metadata": {"name": "allow-list-probe"},
            "spec": {"resources": [{"group": g, "kind": k} for g, k in self.kinds]},
        }
        return (
            status_of(
                lambda: self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, "workloadplacements", body, dry_run="All"
                )
            )
            == 200
        )

    def _set(self, keys: list[str]) -> None:
        self.core.patch_namespaced_config_map("tmc-policy", "tmc-system", {"data": {"allowedKinds": ",".join(keys)}})
        policy = self.admission.read_validating_admission_policy("tmc-placement-kinds")
        variables = [self.admission.api_client.sanitize_for_serialization(v) for v in policy.spec.variables]
        for variable in variables:
            if variable["name"] == "allowed":
                variable["expression"] = json.dumps(keys)
        self.admission.patch_validating_admission_policy("tmc-placement-kinds", {"spec": {"variables": variables}})

    def __enter__(self) -> AllowedKinds:
        self.before = self.core.read_namespaced_config_map("tmc-policy", "tmc-system").data["allowedKinds"].split(",")
        self._set(self.before + [f"{g}/{k}" if g else k for g, k in self.kinds])
        wait_for("the admission policy to allow the kinds", self._admitted, timeout=30)
        return self

    def __exit__(self, *_exc) -> None:
        self._set(self.before)
        if Admission(self.core.api_client).active():
            wait_for("the admission policy to refuse the kinds again", lambda: not self._admitted(), timeout=30)
