# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue every tmc.multicluster module shares. Private.

``TMCModule`` builds the AnsibleModule from the shared argspec, checks the
Python dependencies, applies feature gates, makes pooled clients and turns
engine errors into ``fail_json`` with a message that says what to fix.
AnsibleModule masks every ``no_log`` value in whatever the module returns;
``redact_args`` hides more of the module's own arguments (for example the
Secrets among ``manifest_apply``'s definitions) in the ``invocation`` that
every result carries, whichever way the module ends, and in the line that
AnsibleModule logs to the target's syslog or journal.

A kubeconfig *path* is not a secret and shows (a wrong path must be seen to be
fixed); a kubeconfig given as a dictionary is hidden in the invocation, and
its credentials (tokens, keys, passwords) are masked wherever they would show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tmc.multicluster.plugins.module_utils import api, kube


class _RedactingModule(AnsibleModule):
    """AnsibleModule whose ``invocation`` shows the arguments through ``redact_args``.

    Set before AnsibleModule's own argument checks, so their failures are covered too.
    """

    def __init__(self, *args, redact_args: Callable[[dict], dict], **kwargs):
        self._redact_args = redact_args
        super().__init__(*args, **kwargs)

    def _with_invocation(self, result: dict) -> dict:
        if "invocation" in result:
            return result
        params = getattr(self, "params", None) or {}
        return {**result, "invocation": {"module_args": self._redact_args(params)}}

    def _log_invocation(self):
        # AnsibleModule logs its arguments to the target's syslog or journal; log them redacted.
        params = self.params
        self.params = self._redact_args(params)
        try:
            super()._log_invocation()
        finally:
            self.params = params

    def exit_json(self, **kwargs):
        super().exit_json(**self._with_invocation(kwargs))

    def fail_json(self, msg, **kwargs):
        super().fail_json(msg, **self._with_invocation(kwargs))


KUBECONFIG_HIDDEN = "VALUE_HIDDEN (a kubeconfig given as a dictionary)"
# Keys of a kubeconfig user (and of its auth provider's config) that hold credentials.
_CREDENTIAL_KEY = ("token", "password", "secret", "key-data", "certificate-data")


def _kubeconfig_hidden(value):
    return KUBECONFIG_HIDDEN if isinstance(value, Mapping) else value


def redact_kubeconfigs(params: dict) -> dict:
    """The module arguments with any kubeconfig given as a dictionary (hub, ``member``) hidden; paths stay."""
    shown = dict(params)
    if "kubeconfig" in shown:
        shown["kubeconfig"] = _kubeconfig_hidden(shown["kubeconfig"])
    member = shown.get("member")
    if isinstance(member, Mapping) and "kubeconfig" in member:
        shown["member"] = {**member, "kubeconfig": _kubeconfig_hidden(member["kubeconfig"])}
    return shown


def kubeconfig_secrets(config) -> set[str]:
    """The credential strings of a kubeconfig dictionary (users' tokens, keys, passwords, exec env values)."""
    found: set[str] = set()

    def walk(value, credential: bool) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(inner, credential or any(part in str(key).lower() for part in _CREDENTIAL_KEY))
        elif isinstance(value, list):
            for inner in value:
                walk(inner, credential)
        elif credential and isinstance(value, str) and len(value) >= 6:
            found.add(value)

    if isinstance(config, Mapping):
        for user in config.get("users") or []:
            walk((user or {}).get("user") or {}, False)
            for env in (((user or {}).get("user") or {}).get("exec") or {}).get("env") or []:
                walk((env or {}).get("value"), True)
    return found


class TMCModule:
    def __init__(
        self,
        argument_spec: dict,
        gate: str = api.MASTER_GATE,
        redact_args: Callable[[dict], dict] | None = None,
        **kwargs,
    ):
        kwargs.setdefault("supports_check_mode", True)
        extra = redact_args or (lambda params: params)
        self.module = _RedactingModule(
            argument_spec=argument_spec, redact_args=lambda params: extra(redact_kubeconfigs(params)), **kwargs
        )
        for config in (self.params.get("kubeconfig"), (self.params.get("member") or {}).get("kubeconfig")):
            self.module.no_log_values.update(kubeconfig_secrets(config))
        if kube.MISSING_LIBRARY:
            self.module.fail_json(
                msg=missing_required_lib(kube.MISSING_LIBRARY), exception=str(kube.LIBRARY_IMPORT_ERROR)
            )
        try:
            self.gates = api.FeatureGates.from_overrides(self.params.get("feature_gates"))
            self.gates.require(gate)
        except api.FeatureGateError as err:
            self.module.fail_json(msg=str(err))

    @property
    def params(self) -> dict:
        return self.module.params

    @property
    def check_mode(self) -> bool:
        return self.module.check_mode

    @property
    def diff_mode(self) -> bool:
        return bool(self.module._diff)

    def hub(self) -> kube.Kube:
        return kube.client_for(kube.ClientConfig.from_params(self.params))

    def member(self) -> kube.Kube:
        member = self.params.get("member")
        if not member:
            self.module.fail_json(msg="option 'member' is required: say how to reach the member cluster")
        return kube.client_for(
            kube.ClientConfig.from_params({**member, "request_timeout": self.params.get("request_timeout")})
        )

    def fail(self, err: Exception, **result) -> None:
        extra = {}
        if isinstance(err, kube.KubeError):
            extra = {"status": err.status, "reason": err.reason}
        self.module.fail_json(msg=str(err), **extra, **result)

    def run(self, action) -> None:
        """Call ``action(self)`` and exit with its result dict; engine errors fail cleanly."""
        try:
            result = action(self)
        except api.TMCError as err:
            self.fail(err)
        self.module.exit_json(**result)
