"""The kubeconfig loader (plugins/module_utils/kubeconfig.py) and the kube layer's use of it, without a network.

Merging KUBECONFIG lists, relative paths, data vs file, context selection, the errors, exec credential plugins
(a small Python script as the plugin), tokenFile re-reads, TLS contexts, and that no credential reaches a
message, a repr or an exception chain.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import ssl
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from ansible_collections.tmc.multicluster.plugins.module_utils import kubeconfig as kc

TOKEN = "s3cr3t-token-value-0123456789"
EXEC_V1 = "client.authentication.k8s.io/v1"


def config(name="one", server="https://one.example:6443", cluster=None, user=None, current=True) -> dict:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": name, "user": user or {}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
    if current:
        doc["current-context"] = name
    return doc


def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def no_secret_in(err: BaseException, *secrets: str) -> None:
    """Neither the message nor any exception in the chain nor a repr carries a secret."""
    seen = err
    while seen is not None:
        for secret in secrets:
            assert secret not in str(seen) and secret not in repr(seen)
        seen = seen.__cause__ or seen.__context__


# ------------------------------------------------------------------ paths and merging


def test_kubeconfig_env_is_a_pathsep_list_with_empty_entries_and_repeats_skipped(tmp_path):
    listed = os.pathsep.join(["/a", "", "/b", "/a"])
    assert kc.kubeconfig_paths(listed, "/home/u") == ["/a", "/b"]
    assert kc.kubeconfig_paths(None, "/home/u") == ["/home/u/.kube/config"]
    assert kc.kubeconfig_paths("", "/home/u") == ["/home/u/.kube/config"]


def test_the_first_file_that_names_an_entry_or_sets_current_context_wins(tmp_path):
    first = config("a", server="https://first")
    first["clusters"].append({"name": "shared", "cluster": {"server": "https://from-first"}})
    second = config("b", server="https://second")
    second["clusters"].append({"name": "shared", "cluster": {"server": "https://from-second"}})
    second["contexts"].append({"name": "s", "context": {"cluster": "shared", "user": "b"}})
    paths = [write(tmp_path / "1" / "config", first), write(tmp_path / "2" / "config", second)]
    env = {"KUBECONFIG": os.pathsep.join([str(p) for p in paths] + [str(tmp_path / "missing")])}
    assert kc.load(None, environ=env).cluster.server == "https://first"  # current-context of the first file
    assert kc.load(None, "b", environ=env).cluster.server == "https://second"  # only the second has b
    assert kc.load(None, "s", environ=env).cluster.server == "https://from-first"


@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["x", "y", "z"]), max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_merge_keeps_each_name_from_the_first_document_that_has_it(docs):
    documents = [
        kc.Document(
            {"clusters": [{"name": n, "cluster": {"server": f"https://{v}.{i}"}} for n, v in d.items()]},
            f"/d{i}",
            f"/d{i}/config",
        )
        for i, d in enumerate(docs)
    ]
    merged = kc.merge(documents)
    expected = {}
    for i, d in enumerate(docs):
        for n, v in d.items():
            expected.setdefault(n, (f"https://{v}.{i}", f"/d{i}"))
    assert {n: (e["server"], base) for n, (e, base) in merged.clusters.items()} == expected


def test_no_kubeconfig_at_all_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(kc.ConfigError, match="~/.kube/config does not exist"):
        kc.load(None, environ={})
    with pytest.raises(kc.ConfigError, match="none of the files in KUBECONFIG exists"):
        kc.load(None, environ={"KUBECONFIG": str(tmp_path / "nope")})
    with pytest.raises(kc.ConfigError, match="does not exist"):
        kc.load(str(tmp_path / "nope"))


def test_home_kube_config_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / ".kube" / "config", config(server="https://home"))
    assert kc.load(None, environ={}).cluster.server == "https://home"


# ------------------------------------------------------------------ paths and data


def test_relative_paths_are_relative_to_the_file_that_holds_them(tmp_path):
    path = write(
        tmp_path / "conf" / "kubeconfig",
        config(
            cluster={"certificate-authority": "pki/ca.crt"},
            user={"client-certificate": "pki/admin.crt", "client-key": "../keys/admin.key", "tokenFile": "tok"},
        ),
    )
    selected = kc.load(str(path))
    assert selected.cluster.ca_file == str(tmp_path / "conf" / "pki" / "ca.crt")
    assert selected.user.cert_file == str(tmp_path / "conf" / "pki" / "admin.crt")
    assert selected.user.key_file == str(tmp_path / "keys" / "admin.key")
    assert selected.user.token_file == str(tmp_path / "conf" / "tok")


def test_absolute_paths_stay_and_a_dict_kubeconfig_is_relative_to_the_working_directory(tmp_path):
    assert kc.resolve_path("/etc/ca.crt", "/somewhere") == "/etc/ca.crt"
    selected = kc.load(config(cluster={"certificate-authority": "ca.crt"}))
    assert selected.cluster.ca_file == "ca.crt"


def test_data_wins_over_the_file_and_is_decoded():
    selected = kc.load(
        config(
            cluster={
                "certificate-authority": "/x",
                "certificate-authority-data": b64(b"CA PEM"),
                "insecure-skip-tls-verify": True,
                "tls-server-name": "api.internal",
                "proxy-url": "http://proxy:3128",
            },
            user={"client-certificate": "/c", "client-certificate-data": b64(b"CERT"), "client-key-data": b64(b"KEY")},
        )
    )
    assert selected.cluster.ca_data == b"CA PEM" and selected.cluster.ca_file is None
    assert selected.cluster.insecure and selected.cluster.tls_server_name == "api.internal"
    assert selected.cluster.proxy_url == "http://proxy:3128"
    assert selected.user.cert_data == b"CERT" and selected.user.cert_file is None
    assert selected.user.key_data == b"KEY"


def test_reprs_hold_no_secret():
    selected = kc.load(
        config(user={"token": TOKEN, "client-key-data": b64(b"PRIVATE KEY"), "password": "pa55word", "username": "u"})
    )
    text = repr(selected) + repr(kc.CredentialSource(selected.user).current())
    assert TOKEN not in text and "PRIVATE" not in text and "pa55word" not in text
    assert TOKEN not in repr(kube.ClientConfig(api_key=TOKEN))


# ------------------------------------------------------------------ contexts and errors


def test_context_selection():
    doc = config("a")
    doc["clusters"].append({"name": "b", "cluster": {"server": "https://b"}})
    doc["contexts"].append({"name": "b", "context": {"cluster": "b", "namespace": "ns"}})
    assert kc.load(doc).context == "a"
    chosen = kc.load(doc, "b")
    assert chosen.cluster.server == "https://b" and chosen.namespace == "ns" and chosen.user == kc.User()


@pytest.mark.parametrize(
    "change,context,message",
    [
        (lambda d: d.pop("current-context"), None, "has no current-context: give a context"),
        (lambda d: None, "other", "context 'other' is not in the kubeconfig \\(contexts: one\\)"),
        (
            lambda d: d["contexts"][0]["context"].update(cluster="gone"),
            None,
            "refers to cluster 'gone', which the kubeconfig does not define",
        ),
        (
            lambda d: d["contexts"][0]["context"].update(user="nobody"),
            None,
            "refers to user 'nobody', which the kubeconfig does not define",
        ),
        (lambda d: d["users"].append({"user": {}}), None, "every entry of users needs a name"),
    ],
)
def test_missing_context_cluster_or_user_is_named(change, context, message):
    doc = config(user={"token": TOKEN})
    change(doc)
    with pytest.raises(kc.ConfigError, match=message) as caught:
        kc.load(doc, context)
    no_secret_in(caught.value, TOKEN)


def test_auth_provider_is_refused_with_a_pointer_to_exec_plugins():
    selected = kc.load(config(user={"auth-provider": {"name": "oidc", "config": {"id-token": TOKEN}}}))
    with pytest.raises(kc.ConfigError, match="auth-provider 'oidc' is not supported: use an exec credential") as err:
        kc.CredentialSource(selected.user)
    no_secret_in(err.value, TOKEN)
    # an explicit token (api_key) replaces the kubeconfig's user, auth-provider included
    connection, source = kube.config._resolve(
        kube.ClientConfig(kubeconfig=config(user={"auth-provider": {"name": "gcp"}}), api_key=TOKEN)
    )
    assert source.current().token == TOKEN


def test_yaml_errors_say_where_never_what(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(f"users:\n- name: x\n  user:\n    token: {TOKEN}\n   bad: [\n")
    with pytest.raises(kc.ConfigError, match="is not valid YAML at line") as err:
        kc.load(str(path))
    no_secret_in(err.value, TOKEN)


def test_kube_wraps_loading_errors_and_keeps_overrides(tmp_path):
    with pytest.raises(kube.ConfigError, match="cannot load kubeconfig: .*does not exist"):
        kube.config._resolve(kube.ClientConfig(kubeconfig=str(tmp_path / "missing")))
    with pytest.raises(kube.ConfigError, match="no API server"):
        kube.config._resolve(
            kube.ClientConfig(kubeconfig={**config(server=""), "clusters": [{"name": "one", "cluster": {}}]})
        )


def test_client_config_overrides_apply_over_the_kubeconfig(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n")
    doc = config(
        cluster={"certificate-authority-data": b64(b"from kubeconfig")},
        user={"username": "u", "password": "p", "client-certificate-data": b64(b"C"), "client-key-data": b64(b"K")},
    )
    connection, source = kube.config._resolve(
        kube.ClientConfig(
            kubeconfig=doc,
            host="https://override:6443/",
            api_key=TOKEN,
            ca_cert=str(ca),
            client_cert="/c.crt",
            client_key="/c.key",
            validate_certs=False,
        )
    )
    assert connection.server == "https://override:6443"
    assert connection.ca_data == ca.read_bytes() and connection.verify is False
    creds = source.current()
    assert creds.authorization() == f"Bearer {TOKEN}" and creds.username is None
    assert (creds.cert_file, creds.key_file, creds.cert_data, creds.key_data) == ("/c.crt", "/c.key", None, None)
    # host alone: no kubeconfig read at all
    connection, source = kube.config._resolve(kube.ClientConfig(host="http://plain:8080"))
    assert connection.server == "http://plain:8080" and source.current().authorization() is None


def test_basic_auth_header_and_token_precedence():
    basic = kc.CredentialSource(kc.load(config(user={"username": "admin", "password": "pw"})).user).current()
    assert basic.authorization() == "Basic " + b64(b"admin:pw")
    both = kc.load(config(user={"token": TOKEN, "username": "admin", "password": "pw", "tokenFile": "/none"})).user
    assert kc.CredentialSource(both).current().authorization() == f"Bearer {TOKEN}"


# ------------------------------------------------------------------ tokenFile


def test_token_file_is_re_read_at_most_once_a_period_and_survives_a_failed_read(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    now = [1000.0]
    source = kc.CredentialSource(kc.User(token_file=str(token_file)), monotonic=lambda: now[0])
    assert source.current().token == "first"
    token_file.write_text("second")
    now[0] += 59
    assert source.current().token == "first"  # not yet a minute
    now[0] += 2
    assert source.current().token == "second"
    token_file.unlink()
    now[0] += 61
    assert source.current().token == "second"  # the last good token stays


def test_a_missing_token_file_is_a_config_error(tmp_path):
    with pytest.raises(kc.ConfigError, match="cannot read tokenFile .*missing"):
        kc.CredentialSource(kc.User(token_file=str(tmp_path / "missing"))).current()


# ------------------------------------------------------------------ exec plugins

PLUGIN = """\
import json, os, sys, pathlib
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
state = pathlib.Path(sys.argv[1])
runs = int(state.read_text()) + 1 if state.exists() else 1
state.write_text(str(runs))
pathlib.Path(sys.argv[1] + ".info").write_text(json.dumps(info))
mode = os.environ.get("PLUGIN_MODE", "token")
if mode == "fail":
    print("starting up", file=sys.stderr)
    print("login failed: token " + os.environ["PLUGIN_SECRET"] + " rejected", file=sys.stderr)
    sys.exit(3)
status = {"token": "tok-%d-" % runs + os.environ["PLUGIN_SECRET"]}
if mode == "cert":
    status = {"clientCertificateData": "CERT %d" % runs, "clientKeyData": "KEY %d" % runs}
if os.environ.get("PLUGIN_EXPIRES"):
    status["expirationTimestamp"] = os.environ["PLUGIN_EXPIRES"]
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
"""


@pytest.fixture
def plugin(tmp_path):
    script = tmp_path / "plugin.py"
    script.write_text(textwrap.dedent(PLUGIN))
    state = tmp_path / "runs"

    def make(mode="token", expires=None, api_version=EXEC_V1, **extra) -> kc.User:
        env = [{"name": "PLUGIN_MODE", "value": mode}, {"name": "PLUGIN_SECRET", "value": TOKEN}]
        if expires:
            env.append({"name": "PLUGIN_EXPIRES", "value": expires})
        doc = config(
            user={
                "exec": {
                    "apiVersion": api_version,
                    "command": sys.executable,
                    "args": [str(script), str(state)],
                    "env": env,
                    **extra,
                }
            }
        )
        return kc.load(doc).user

    make.runs = lambda: int(state.read_text()) if state.exists() else 0
    make.info = lambda: json.loads(Path(str(state) + ".info").read_text())
    return make


@pytest.mark.parametrize("api_version", ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])
def test_exec_plugin_token_is_cached_and_the_plugin_is_never_interactive(plugin, api_version):
    source = kc.CredentialSource(plugin(api_version=api_version))
    assert source.current().token == f"tok-1-{TOKEN}"
    assert source.current().token == f"tok-1-{TOKEN}"
    assert plugin.runs() == 1
    assert plugin.info() == {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}


def test_exec_plugin_runs_again_once_its_credential_expired(plugin):
    expires = "2030-01-01T00:00:00.123456789Z"
    deadline = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp()
    now = [deadline - 10]
    source = kc.CredentialSource(plugin(expires=expires), clock=lambda: now[0])
    assert source.current().token.startswith("tok-1-") and source.current().expires == pytest.approx(deadline, abs=1)
    now[0] = deadline + 1
    assert source.current().token.startswith("tok-2-")
    source.invalidate()  # a 401: run it again even before the expiry
    now[0] = deadline - 100
    assert source.current().token.startswith("tok-3-")


def test_exec_plugin_client_certificate_replaces_the_kubeconfigs(plugin):
    user = plugin(mode="cert")
    source = kc.CredentialSource(dataclasses.replace(user, cert_file="/file.crt", key_file="/file.key"))
    creds = source.current()
    assert (creds.cert_data, creds.key_data, creds.cert_file, creds.token) == (b"CERT 1", b"KEY 1", None, None)


def test_exec_plugin_gets_the_cluster_when_it_asks(plugin):
    user = plugin(provideClusterInfo=True)
    connection = kc.Connection("https://one:6443", ca_data=b"CA", verify=True, tls_server_name="api")
    kc.CredentialSource(user, connection, exec_config={"audience": "x"}).current()
    assert plugin.info()["spec"]["cluster"] == {
        "server": "https://one:6443",
        "insecure-skip-tls-verify": False,
        "certificate-authority-data": b64(b"CA"),
        "tls-server-name": "api",
        "config": {"audience": "x"},
    }


def test_a_failing_plugin_names_its_exit_code_and_stderrs_last_line_without_the_token(plugin):
    with pytest.raises(kc.ConfigError) as caught:
        kc.CredentialSource(plugin(mode="fail")).current()
    message = str(caught.value)
    assert "failed with exit code 3: login failed: token ******** rejected" in message
    assert "starting up" not in message
    no_secret_in(caught.value, TOKEN)


def test_exec_plugin_errors(tmp_path, plugin):
    missing = config(
        user={"exec": {"apiVersion": EXEC_V1, "command": str(tmp_path / "nope"), "installHint": "install nope"}}
    )
    with pytest.raises(kc.ConfigError, match="not found \\(install nope\\)"):
        kc.CredentialSource(kc.load(missing).user).current()
    with pytest.raises(kc.ConfigError, match="apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported"):
        plugin(api_version="client.authentication.k8s.io/v1alpha1")
    with pytest.raises(kc.ConfigError, match="interactiveMode Always needs a terminal"):
        plugin(interactiveMode="Always")
    user = plugin()
    wrong = kc.CredentialSource(
        user,
        runner=lambda _p, _r: json.dumps(
            {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": TOKEN}}
        ),
    )
    with pytest.raises(kc.ConfigError, match="answered in apiVersion") as caught:
        wrong.current()
    no_secret_in(caught.value, TOKEN)
    garbage = kc.CredentialSource(user, runner=lambda _p, _r: f"token={TOKEN}")
    with pytest.raises(kc.ConfigError, match="not JSON") as caught:
        garbage.current()
    no_secret_in(caught.value, TOKEN)


def test_a_relative_exec_command_is_relative_to_the_kubeconfig(tmp_path):
    path = write(tmp_path / "k" / "config", config(user={"exec": {"apiVersion": EXEC_V1, "command": "./bin/plugin"}}))
    assert kc.load(str(path)).user.exec_plugin.command == str(tmp_path / "k" / "bin" / "plugin")
    on_path = config(user={"exec": {"apiVersion": EXEC_V1, "command": "kubelogin"}})
    assert kc.load(on_path).user.exec_plugin.command == "kubelogin"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2030-01-01T00:00:00Z", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        ("2030-01-01T01:00:00.5+01:00", dt.datetime(2030, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)),
        ("2030-01-01T00:00:00.123456789Z", dt.datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=dt.UTC)),
    ],
)
def test_rfc3339(text, expected):
    assert kc.parse_rfc3339(text) == expected.timestamp()


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=8, max_size=60),
    st.sampled_from(["token={}", "Bearer {}", "password: {}", '"token": "{}"', "error: {} rejected"]),
)
def test_scrub_masks_given_secrets_and_token_shapes(secret, template):
    line = template.format(secret)
    assert secret not in kc.scrub(line, [secret])
    if not template.startswith("error"):
        assert secret not in kc.scrub(line)  # recognised by shape alone


# ------------------------------------------------------------------ proxies


@pytest.mark.parametrize(
    "server,environ,proxy",
    [
        ("https://api.example.com", {"HTTPS_PROXY": "proxy:3128"}, "http://proxy:3128"),
        ("https://api.example.com", {"https_proxy": "http://p:1"}, "http://p:1"),
        ("http://api.example.com", {"HTTPS_PROXY": "http://p:1"}, None),
        ("https://127.0.0.1:6443", {"HTTPS_PROXY": "http://p:1"}, None),
        ("https://localhost:6443", {"HTTPS_PROXY": "http://p:1"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com,*"}, None),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, None),
        ("https://10.1.2.3:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.1.2.3:443"}, "http://p:1"),
        ("https://notexample.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "http://p:1"),
    ],
)
def test_proxy_from_the_environment_as_kubectl_reads_it(server, environ, proxy):
    assert kc.env_proxy(server, environ) == proxy


def test_the_kubeconfig_proxy_wins_and_proxy_credentials_stay_out_of_messages():
    cluster = kc.Cluster(server="https://api.example.com", proxy_url="http://user:pw@proxy:3128")
    connection = kc.resolve_connection(cluster, {"HTTPS_PROXY": "http://other:1"})
    assert connection.proxy_url == "http://user:pw@proxy:3128" and not connection.proxy_from_environment
    assert "pw" not in repr(connection) and kc.describe_proxy(connection.proxy_url) == "http://proxy:3128"
    with pytest.raises(kc.ConfigError, match="ftp://proxy:3128: the scheme") as caught:
        kube.transport._pool_manager(kc.Connection("https://x", proxy_url="ftp://user:pw@proxy:3128"), None)
    assert "pw" not in str(caught.value)


# ------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and a client certificate signed by it (openssl), PEM bytes."""
    out = tmp_path_factory.mktemp("pki")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=out, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    )
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=me")
    openssl(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.crt",
        "-days",
        "2",
    )
    return {name: (out / name).read_bytes() for name in ("ca.crt", "client.crt", "client.key")} | {"dir": out}


def test_tls_context_verifies_with_the_given_ca_or_not_at_all(pki):
    verifying = kube.tls_context(kc.Connection("https://x", ca_data=pki["ca.crt"]), kc.Credentials())
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert [c["subject"] for c in verifying.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    insecure = kube.tls_context(kc.Connection("https://x", verify=False), kc.Credentials())
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    with pytest.raises(kc.ConfigError, match="holds no usable certificate"):
        kube.tls_context(kc.Connection("https://x", ca_data=b"-----BEGIN CERTIFICATE-----\nnope\n"), kc.Credentials())


def test_client_certificate_data_goes_through_a_private_temporary_file_that_is_removed(pki, monkeypatch, tmp_path):
    monkeypatch.setattr(kube.transport.tempfile, "tempdir", str(tmp_path))
    written = []
    real_load = ssl.SSLContext.load_cert_chain

    def spy(self, certfile, keyfile=None, password=None):
        directory = os.path.dirname(certfile)
        written.append((certfile, stat.S_IMODE(os.stat(certfile).st_mode), stat.S_IMODE(os.stat(directory).st_mode)))
        return real_load(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    creds = kc.Credentials(cert_data=pki["client.crt"], key_data=pki["client.key"])
    kube.tls_context(kc.Connection("https://x", ca_data=pki["ca.crt"]), creds)
    [(path, mode, dir_mode)] = written
    assert mode == 0o600 and dir_mode == 0o700 and os.path.dirname(path).startswith(str(tmp_path))
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    assert list(tmp_path.iterdir()) == []


def test_client_certificate_files_and_mismatched_material(pki):
    files = kc.Credentials(cert_file=str(pki["dir"] / "client.crt"), key_file=str(pki["dir"] / "client.key"))
    kube.tls_context(kc.Connection("https://x"), files)
    wrong = kc.Credentials(cert_data=pki["client.crt"], key_data=pki["ca.crt"])
    with pytest.raises(kc.ConfigError, match="client certificate and key cannot be used") as caught:
        kube.tls_context(kc.Connection("https://x"), wrong)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(kc.ConfigError, match="needs its key"):
        kube.tls_context(kc.Connection("https://x"), kc.Credentials(cert_data=pki["client.crt"]))


def test_transport_sends_the_credential_and_builds_one_pool(pki):
    user = kc.User(token=TOKEN)
    transport = kube.Transport(
        kc.Connection("https://x", ca_data=pki["ca.crt"], tls_server_name="api"), kc.CredentialSource(user)
    )
    pool = transport._pool
    assert pool.connection_pool_kw["maxsize"] == kube.POOL_MAXSIZE
    assert pool.connection_pool_kw["retries"].total is False  # urllib3 retries nothing: with_retries does
    assert pool.connection_pool_kw["server_hostname"] == "api"
    assert transport._pool_for(transport.credentials.current()) is pool
    assert TOKEN not in repr(transport)


def test_syncer_and_flattened_kubeconfigs_come_from_the_connection(pki, tmp_path):
    doc = config(
        cluster={"certificate-authority-data": b64(pki["ca.crt"]), "tls-server-name": "api"},
        user={"client-certificate": str(pki["dir"] / "client.crt"), "client-key": str(pki["dir"] / "client.key")},
    )
    k = kube.Kube(kube.make_transport(kube.ClientConfig(kubeconfig=doc)))
    assert k.host == "https://one.example:6443" and k.connection.ca_data == pki["ca.crt"]
    flat = kube.flatten_kubeconfig(k, "m")
    cluster, user = flat["clusters"][0]["cluster"], flat["users"][0]["user"]
    assert cluster == {"server": k.host, "certificate-authority-data": b64(pki["ca.crt"]), "tls-server-name": "api"}
    assert user == {"client-certificate-data": b64(pki["client.crt"]), "client-key-data": b64(pki["client.key"])}
    again = kc.load(flat)
    assert again.user.cert_data == pki["client.crt"] and again.cluster.ca_data == pki["ca.crt"]


def test_in_cluster_config_reads_the_service_account_token_file_again_later(pki, tmp_path, monkeypatch):
    from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import connection as daemon_connection

    (tmp_path / "token").write_text("first-token")
    (tmp_path / "ca.crt").write_bytes(pki["ca.crt"])
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    cfg = daemon_connection.in_cluster_config(5.0, base=str(tmp_path))
    assert cfg.host == "https://[fd00::1]:6443" and cfg.api_key is None and cfg.token_file.endswith("token")
    connection, source = kube.config._resolve(cfg)
    assert connection.ca_data == pki["ca.crt"] and source.current().token == "first-token"
    (tmp_path / "token").write_text("rotated-token")
    source.invalidate()  # as after a 401; otherwise within a minute
    assert source.current().token == "rotated-token"


def test_a_daemon_client_keeps_a_connection_for_each_watch_and_parallel_write():
    from ansible_collections.tmc.multicluster.plugins.module_utils.daemons import connection, observability

    client = connection.daemon_client(
        kube.ClientConfig(host="http://127.0.0.1:1", api_key=TOKEN), "hub", observability.Metrics(False)
    )
    pool = client.transport._pool
    assert pool.connection_pool_kw["maxsize"] == connection.DAEMON_POOL_MAXSIZE > kube.POOL_MAXSIZE


# ------------------------------------------------------------------ files that hold secrets


def test_a_private_file_is_written_0600_atomically_and_idempotently(tmp_path):
    path = tmp_path / "deep" / "syncer.kubeconfig"
    old_umask = os.umask(0)  # a permissive umask must not leak into the mode
    try:
        assert kc.write_private_file(str(path), "token: one\n") is True
    finally:
        os.umask(old_umask)
    assert path.read_text() == "token: one\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert kc.write_private_file(str(path), "token: one\n") is False
    assert kc.write_private_file(str(path), "token: two\n", check_mode=True) is True
    assert path.read_text() == "token: one\n"  # check mode writes nothing
    path.chmod(0o644)
    assert kc.write_private_file(str(path), "token: one\n") is True  # a wider mode is corrected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["syncer.kubeconfig"]  # no temporary file left


@pytest.mark.parametrize("planted", ["destination", "old-temporary-name"])
def test_a_planted_symlink_is_never_followed(tmp_path, planted):
    """An attacker with write on the directory links the file (or the name the module used to write
    first) to a file of theirs: the token must not end up there."""
    victim = tmp_path / "attacker-owned.txt"
    victim.write_text("untouched")
    path = tmp_path / "syncer.kubeconfig"
    link = path if planted == "destination" else tmp_path / "syncer.kubeconfig.tmp"
    link.symlink_to(victim)
    assert kc.write_private_file(str(path), "token: secret\n") is True
    assert victim.read_text() == "untouched"
    assert not path.is_symlink() and path.read_text() == "token: secret\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "key"

    def refuse(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        kc.write_private_file(str(path), b"secret")
    assert list(tmp_path.iterdir()) == []
