# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options that say how to reach the hub API server (and, nested, a member)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file for the hub, or the kubeconfig itself as a dictionary.
      - When neither O(kubeconfig) nor O(host) is given, the files listed in E(KUBECONFIG) are used (merged as
        C(kubectl) does), else C(~/.kube/config).
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable.
      - A path shows in the task's result and in error messages; a kubeconfig given as a dictionary does not, and
        its credentials are masked in any output.
    type: raw
  context:
    description:
      - The kubeconfig context to use. Defaults to the kubeconfig's current context.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the hub API server, for example V(https://127.0.0.1:6443). Overrides the kubeconfig's server.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token for the hub API server. Never logged or returned.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  ca_cert:
    description:
      - Path to a CA certificate that signed the API server's certificate.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert). The path shows in results; the key itself is never read into output.
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's certificate. Turn off only for throw-away labs.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  request_timeout:
    description:
      - Seconds to wait for one API call before failing (transient failures are retried).
    type: float
    default: 30
  feature_gates:
    description:
      - 'TMC feature gates as a dictionary of gate name to boolean, for example C({"TMC": true, "TMCFailover": false}).'
      - Turning the master gate C(TMC) off turns every gate off; the module then fails and names the gate.
      - Unknown gate names are an error.
    type: dict
    default: {}
requirements:
  - python >= 3.11
  - urllib3 >= 2.0
  - PyYAML
notes:
  - Check mode uses server-side dry run, so admission and validation run as for a real change.
"""

    MEMBER = r"""
options:
  member:
    description:
      - How to reach the member cluster (same keys as the hub options).
      - Required to register in V(Push) mode. Deregistering with O(drain=true) needs it when neither the credentials
        stored for push mode nor the cluster's running syncer can reach the member.
    type: dict
    suboptions:
      kubeconfig:
        description:
          - Path to the member's kubeconfig, or the kubeconfig as a dictionary (hidden in output; a path shows).
        type: raw
      context:
        description: The kubeconfig context to use.
        type: str
      host:
        description: URL of the member API server.
        type: str
      api_key:
        description: Bearer token for the member. Never logged or returned.
        type: str
      ca_cert:
        description: Path to a CA certificate for the member's API server.
        type: path
      client_cert:
        description: Path to a client certificate.
        type: path
      client_key:
        description: Path to the key of the client certificate (the path shows; the key is never read into output).
        type: path
      validate_certs:
        description: Whether to verify the member API server's certificate.
        type: bool
"""
