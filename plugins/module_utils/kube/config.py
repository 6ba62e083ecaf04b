# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How to reach one API server: ``ClientConfig`` and its resolution against kubeconfigs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.tmc.multicluster.plugins.module_utils import kubeconfig
from ansible_collections.tmc.multicluster.plugins.module_utils.kubeconfig import ConfigError, Connection

try:
    # only whether it is there
    import urllib3  # noqa: F401  # pylint: disable=unused-import

    HAS_URLLIB3 = True
    URLLIB3_IMPORT_ERROR = None
except ImportError as err:  # pragma: no cover - exercised only without the library
    HAS_URLLIB3 = False
    URLLIB3_IMPORT_ERROR = err

# The library a module or the inventory needs and does not find (None when all are there).
if not HAS_URLLIB3:
    MISSING_LIBRARY, LIBRARY_IMPORT_ERROR = "urllib3", URLLIB3_IMPORT_ERROR
elif not kubeconfig.HAS_YAML:  # pragma: no cover - PyYAML comes with ansible-core
    MISSING_LIBRARY, LIBRARY_IMPORT_ERROR = "PyYAML", kubeconfig.YAML_IMPORT_ERROR
else:
    MISSING_LIBRARY, LIBRARY_IMPORT_ERROR = None, None


@dataclass(frozen=True)
class ClientConfig:
    """How to reach one API server. Either a kubeconfig (path or dict, optional
    context) or host + api_key/token_file/client certificate + ca_cert; the
    explicit options override the kubeconfig's."""

    kubeconfig: str | Mapping | None = None
    context: str | None = None
    host: str | None = None
    api_key: str | None = field(default=None, repr=False)
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = field(default=None, repr=False)
    validate_certs: bool = True
    request_timeout: float = 30.0
    token_file: str | None = None  # a bearer token re-read at most once a minute (in-cluster, --token-file)

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> ClientConfig:
        """From module options (the shared auth argspec) or a ``member`` dict."""
        params = params or {}
        validate = params.get("validate_certs")
        return cls(
            kubeconfig=params.get("kubeconfig"),
            context=params.get("context"),
            host=params.get("host"),
            api_key=params.get("api_key"),
            ca_cert=params.get("ca_cert"),
            client_cert=params.get("client_cert"),
            client_key=params.get("client_key"),
            validate_certs=True if validate is None else bool(validate),
            request_timeout=float(params.get("request_timeout") or 30.0),
        )

    def pool_key(self) -> str:
        """A digest of the whole configuration: never printed, never the secret itself."""
        raw = json.dumps(
            [
                self.kubeconfig,
                self.context,
                self.host,
                self.api_key,
                self.ca_cert,
                self.client_cert,
                self.client_key,
                self.validate_certs,
                self.token_file,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def _resolve(cfg: ClientConfig) -> tuple[Connection, kubeconfig.CredentialSource]:
    """The kubeconfig (when given, or when there is no host) with the explicit options applied over it."""
    if MISSING_LIBRARY:
        raise ConfigError(f"the Python library {MISSING_LIBRARY!r} is required ({LIBRARY_IMPORT_ERROR})")
    cluster, user = kubeconfig.Cluster(), kubeconfig.User()
    if cfg.kubeconfig is not None or not cfg.host:
        where = "kubeconfig" if cfg.kubeconfig is not None else "kubeconfig (default ~/.kube/config)"
        try:
            selected = kubeconfig.load(cfg.kubeconfig, cfg.context)
        except ConfigError as err:
            raise ConfigError(f"cannot load {where}: {_scrub(str(err), cfg)}") from None
        cluster, user = selected.cluster, selected.user
    if cfg.host:
        cluster = replace(cluster, server=cfg.host.rstrip("/"))
    if cfg.api_key or cfg.token_file:
        # an explicit token replaces the kubeconfig user's token, exec plugin and basic auth; certificates stay
        user = replace(
            user,
            token=cfg.api_key or None,
            token_file=None if cfg.api_key else cfg.token_file,
            username=None,
            password=None,
            exec_plugin=None,
            auth_provider=None,
        )
    if cfg.ca_cert:
        cluster = replace(cluster, ca_file=cfg.ca_cert, ca_data=None)
    if cfg.client_cert:
        user = replace(user, cert_file=cfg.client_cert, cert_data=None)
    if cfg.client_key:
        user = replace(user, key_file=cfg.client_key, key_data=None)
    if not cfg.validate_certs:
        cluster = replace(cluster, insecure=True)
    if not cluster.server:
        raise ConfigError("no API server: give kubeconfig (with a current context) or host")
    connection = kubeconfig.resolve_connection(cluster)
    return connection, kubeconfig.CredentialSource(user, connection, cluster.exec_config)


def _scrub(text: str, cfg: ClientConfig) -> str:
    for secret in (cfg.api_key,):
        if secret:
            text = text.replace(secret, "********")
    return text
