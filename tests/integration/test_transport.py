"""The kube layer's own transport (urllib3) and kubeconfig loader against the real hub.

The testbed's kubeconfigs use files (certificate-authority, client-certificate, client-key); these tests
also reach the hub with the ``-data`` forms, with a ServiceAccount token (inline, tokenFile, exec plugin),
with a client certificate from an exec plugin, through tls-server-name, and check that a wrong CA or server
name fails with a clear KubeError and bad TLS material with a clear ConfigError. The official ``kubernetes``
client is the independent oracle that mints the token and checks what was written.
"""

from __future__ import annotations

import base64
import glob
import os
import sys
import tempfile
import textwrap
import uuid

import pytest
import yaml
from kubernetes import client

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from hack.testbed import HUB, pki

EXEC_V1 = "client.authentication.k8s.io/v1"


def b64_file(path) -> str:
    with open(path, "rb") as handle:
        return base64.b64encode(handle.read()).decode()


@pytest.fixture(scope="module")
def hub_files(testbed):
    """The testbed's file-based hub kubeconfig (direct), parsed: server and the three file paths."""
    doc = yaml.safe_load(testbed.kubeconfig(HUB, direct=True).read_text())
    cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
    return {
        "server": cluster["server"],
        "ca": cluster["certificate-authority"],
        "cert": user["client-certificate"],
        "key": user["client-key"],
    }


def kubeconfig(server: str, cluster: dict, user: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "hub",
        "clusters": [{"name": "hub", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "hub", "context": {"cluster": "hub", "user": "u"}}],
    }


def fresh(doc, **overrides) -> kube.Kube:
    """A client of its own (not the pool), one attempt per call, short timeouts."""
    cfg = kube.ClientConfig(kubeconfig=doc, request_timeout=10, **overrides)
    return kube.Kube(kube.make_transport(cfg), cfg, retry=kube.NO_RETRY)


@pytest.fixture(scope="module")
def token(testbed, hub_api_client):
    """A ServiceAccount allowed to read namespaces and write ConfigMaps in its own namespace, and a token for it."""
    ns = f"tr-{uuid.uuid4().hex[:8]}"
    core, rbac = client.CoreV1Api(hub_api_client), client.RbacAuthorizationV1Api(hub_api_client)
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": "probe"}})
    subject = [{"kind": "ServiceAccount", "name": "probe", "namespace": ns}]
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": subject,
        }
    )
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": "edit"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": subject,
        },
    )
    value = core.create_namespaced_service_account_token("probe", ns, {"spec": {}}).status.token
    yield ns, value
    rbac.delete_cluster_role_binding(ns)
    core.delete_namespace(ns)


def kube_tls_files() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "tmc-tls-*")))


def test_data_forms_reach_the_hub_and_leave_no_key_file(hub_files, hub_api_client):
    before = kube_tls_files()
    doc = kubeconfig(
        hub_files["server"],
        {"certificate-authority-data": b64_file(hub_files["ca"])},
        {"client-certificate-data": b64_file(hub_files["cert"]), "client-key-data": b64_file(hub_files["key"])},
    )
    hub = fresh(doc)
    assert hub.version()["gitVersion"].startswith("v1.")
    assert "kube-system" in {n["metadata"]["name"] for n in hub.list("v1", "Namespace")}
    assert kube_tls_files() == before  # the key went through a temporary file that is gone

    ns = f"tr-{uuid.uuid4().hex[:8]}"
    hub.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, "tmc-test")
    try:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}, "data": {"a": "1"}}
        assert kube.ensure_applied(hub, cm, "tmc-test").changed
        assert not kube.ensure_applied(hub, cm, "tmc-test").changed
        assert client.CoreV1Api(hub_api_client).read_namespaced_config_map("c", ns).data == {"a": "1"}
        items, version = hub.list_with_version("v1", "ConfigMap", ns)
        hub.patch("v1", "ConfigMap", "c", {"data": {"a": "2"}}, ns)
        events = hub.watch("v1", "ConfigMap", ns, resource_version=version, timeout_seconds=5)
        kind, obj = next(e for e in events if e[0] != "BOOKMARK")
        events.close()
        assert (kind, obj["data"]) == ("MODIFIED", {"a": "2"})
        assert hub.delete("v1", "ConfigMap", "c", ns) and not hub.delete("v1", "ConfigMap", "c", ns)
    finally:
        hub.delete("v1", "Namespace", ns)


def test_the_toxiproxy_kubeconfig_and_tls_server_name(testbed, hub_files):
    through_proxy = fresh(str(testbed.kubeconfig(HUB)))
    assert through_proxy.version()["gitVersion"]
    named = kubeconfig(
        hub_files["server"],
        {"certificate-authority": hub_files["ca"], "tls-server-name": "kubernetes.default.svc"},
        {"client-certificate": hub_files["cert"], "client-key": hub_files["key"]},
    )
    assert fresh(named).version()["gitVersion"]
    named["clusters"][0]["cluster"]["tls-server-name"] = "not-the-hub.example"
    with pytest.raises(kube.KubeError, match="TLS: certificate verify failed: .*not-the-hub.example") as caught:
        fresh(named).version()
    assert caught.value.status == 0 and caught.value.reason == "TLSError"


def test_a_service_account_token_inline_from_a_file_and_from_an_exec_plugin(hub_files, token, tmp_path):
    ns, value = token
    ca = {"certificate-authority": hub_files["ca"]}
    token_file = tmp_path / "token"
    token_file.write_text(value + "\n")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        textwrap.dedent(
            """\
            import json, os, pathlib, sys
            info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
            assert info["spec"]["interactive"] is False
            token = pathlib.Path(sys.argv[1]).read_text().strip()
            print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": {"token": token}}))
            """
        )
    )
    users = {
        "token": {"token": value},
        "tokenFile": {"tokenFile": "token"},  # relative: to the kubeconfig's directory
        "exec": {"exec": {"apiVersion": EXEC_V1, "command": sys.executable, "args": [str(plugin), str(token_file)]}},
    }
    for how, user in users.items():
        path = tmp_path / f"{how}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig(hub_files["server"], ca, user)))
        hub = fresh(str(path))
        assert ns in {n["metadata"]["name"] for n in hub.list("v1", "Namespace")}, how
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": how.lower(), "namespace": ns}}
        assert hub.apply(cm, "tmc-test")["metadata"]["name"] == how.lower()
        with pytest.raises(kube.KubeError) as refused:  # view + edit in its namespace only
            hub.apply({**cm, "metadata": {**cm["metadata"], "namespace": "default"}}, "tmc-test")
        assert refused.value.status == 403 and value not in str(refused.value)


def test_a_client_certificate_from_an_exec_plugin(hub_files, tmp_path):
    plugin = tmp_path / "cert-plugin.py"
    plugin.write_text(
        textwrap.dedent(
            f"""\
            import json, os
            info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
            status = {{"clientCertificateData": open({hub_files["cert"]!r}).read(),
                      "clientKeyData": open({hub_files["key"]!r}).read()}}
            print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}}))
            """
        )
    )
    before = kube_tls_files()
    doc = kubeconfig(
        hub_files["server"],
        {"certificate-authority": hub_files["ca"]},
        {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": sys.executable,
                "args": [str(plugin)],
            }
        },
    )
    assert "kube-system" in {n["metadata"]["name"] for n in fresh(doc).list("v1", "Namespace")}
    assert kube_tls_files() == before


def test_a_wrong_token_is_a_401_that_is_not_retried_and_does_not_show_the_token(hub_files):
    secret = "not-a-valid-token-" + uuid.uuid4().hex
    doc = kubeconfig(hub_files["server"], {"certificate-authority": hub_files["ca"]}, {"token": secret})
    cfg = kube.ClientConfig(kubeconfig=doc, request_timeout=10)
    observed = []
    hub = kube.Kube(kube.make_transport(cfg), cfg, observer=lambda *a: observed.append(a))
    with pytest.raises(kube.KubeError) as caught:
        hub.version()
    assert caught.value.status == 401 and len(observed) == 1
    assert secret not in str(caught.value) and caught.value.__cause__ is None


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the not-verifying cases
def test_a_wrong_ca_fails_with_a_clear_error(hub_files, tmp_path):
    other_ca, _key = pki.ensure_ca(tmp_path / "other-pki")
    user = {"client-certificate": hub_files["cert"], "client-key": hub_files["key"]}
    doc = kubeconfig(hub_files["server"], {"certificate-authority": str(other_ca)}, user)
    hub = fresh(doc)
    with pytest.raises(kube.KubeError, match="cannot reach https://127.0.0.1:[0-9]+: TLS: certificate verify failed"):
        hub.version()
    # the same with the ca_cert option over a good kubeconfig, and with no CA at all (the system's trust store)
    good = kubeconfig(hub_files["server"], {"certificate-authority": hub_files["ca"]}, user)
    with pytest.raises(kube.KubeError, match="certificate verify failed"):
        fresh(good, ca_cert=str(other_ca)).version()
    with pytest.raises(kube.KubeError, match="certificate verify failed") as caught:
        fresh(kubeconfig(hub_files["server"], {}, user)).version()
    assert caught.value.status == 0 and kube.is_transient(caught.value)
    # not verifying works (and is what insecure-skip-tls-verify / validate_certs=false are for)
    assert fresh(kubeconfig(hub_files["server"], {"insecure-skip-tls-verify": True}, user)).version()
    assert fresh(good, validate_certs=False, ca_cert=str(other_ca)).version()


def test_unusable_tls_material_is_a_config_error_before_any_request(hub_files, tmp_path):
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    user = {"client-certificate": hub_files["cert"], "client-key": hub_files["key"]}
    with pytest.raises(kube.ConfigError, match="holds no usable certificate"):
        fresh(kubeconfig(hub_files["server"], {"certificate-authority": str(garbage)}, user))
    swapped = {"client-certificate": hub_files["cert"], "client-key-data": b64_file(hub_files["ca"])}
    with pytest.raises(kube.ConfigError, match="client certificate and key cannot be used"):
        fresh(kubeconfig(hub_files["server"], {"certificate-authority": hub_files["ca"]}, swapped))
    with pytest.raises(kube.ConfigError, match="cannot read certificate-authority .*missing.crt"):
        fresh(kubeconfig(hub_files["server"], {"certificate-authority": str(tmp_path / "missing.crt")}, user))


def test_a_dry_run_writes_nothing(hub_files, hub_api_client):
    """Every write with ``dry_run`` (create, apply, patch, delete: with and without a finalizer) leaves
    the hub as it was, as the official client reads it. A DELETE's options travel in its body, and the
    API server ignores the query string of a DELETE that has one: a dry run there once deleted for real."""
    doc = kubeconfig(
        hub_files["server"],
        {"certificate-authority": hub_files["ca"]},
        {"client-certificate": hub_files["cert"], "client-key": hub_files["key"]},
    )
    hub, core = fresh(doc), client.CoreV1Api(hub_api_client)
    ns = f"dry-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": ns}})
    try:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "plain"}, "data": {"v": "1"}})
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {"v": "1"}}
        )
        before = {c.metadata.name: c for c in core.list_namespaced_config_map(ns).items}
        made = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new", "namespace": ns}}
        assert hub.create(made, dry_run=True)["metadata"]["name"] == "new"
        changed = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain", "namespace": ns}}
        assert hub.apply({**changed, "data": {"v": "2"}}, "tmc-test", force=True, dry_run=True)["data"] == {"v": "2"}
        assert hub.patch("v1", "ConfigMap", "held", {"data": {"v": "3"}}, namespace=ns, dry_run=True)
        assert hub.delete("v1", "ConfigMap", "plain", ns, dry_run=True) is True
        assert hub.delete("v1", "ConfigMap", "held", ns, dry_run=True) is True
        after = {c.metadata.name: c for c in core.list_namespaced_config_map(ns).items}
        assert sorted(after) == sorted(before) and {"held", "plain"} <= set(after) and "new" not in after
        for name, obj in after.items():
            assert obj.metadata.resource_version == before[name].metadata.resource_version, name
            assert obj.metadata.deletion_timestamp is None, name
        assert hub.delete("v1", "ConfigMap", "plain", ns) is True  # and without dry_run it does delete
        assert "plain" not in {c.metadata.name for c in core.list_namespaced_config_map(ns).items}
    finally:
        core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
        core.delete_namespace(ns)
