# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared module argument specs, matching plugins/doc_fragments/hub_auth.py. Private."""

from __future__ import annotations

import copy

from ansible.module_utils.basic import env_fallback

HUB_AUTH_SPEC = {
    # A path shows (it is not a secret); a kubeconfig given as a dict is hidden by module.redact_kubeconfigs
    # and its credentials masked (module.kubeconfig_secrets).
    "kubeconfig": {"type": "raw", "no_log": False, "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False},  # a path, not the key
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
    "request_timeout": {"type": "float", "default": 30},
    "feature_gates": {"type": "dict", "default": {}},
}

MEMBER_AUTH_OPTIONS = {
    "kubeconfig": {"type": "raw", "no_log": False},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "ca_cert": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path", "no_log": False},
    "validate_certs": {"type": "bool"},
}

MEMBER_SPEC = {"member": {"type": "dict", "options": MEMBER_AUTH_OPTIONS}}


def argspec(*parts: dict, **extra: dict) -> dict:
    """A fresh argument spec: the shared auth options, then ``parts``, then ``extra``."""
    spec = copy.deepcopy(HUB_AUTH_SPEC)
    for part in parts:
        spec.update(copy.deepcopy(part))
    spec.update(copy.deepcopy(extra))
    return spec
