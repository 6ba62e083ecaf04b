"""A server-side apply of an object that does not fit its schema: the API server answers 500, the
client reports an invalid object (422) that names each field at fault and is never retried."""

from __future__ import annotations

from ansible_collections.tmc.multicluster.plugins.module_utils import kube
from ansible_collections.tmc.multicluster.plugins.module_utils.kube.client import schema_error

# As kube-apiserver 1.36 words it (seen on the testbed with kubectl apply --server-side).
ONE = "failed to create typed patch object (default/typo; /v1, Kind=ConfigMap): .dataa: field not declared in schema"
TWO = (
    "failed to create typed patch object (default/typo; apps/v1, Kind=Deployment): errors:\n"
    "  .spec.replicas: expected numeric (int or float), got string\n"
    '  .spec.template.spec.containers[name="c"].imagePullPolicyy: field not declared in schema'
)


def test_a_misspelled_field_is_named_and_called_invalid():
    status, reason, message = schema_error(500, ONE)
    assert (status, reason) == (422, "Invalid")
    assert ".dataa: field not declared in schema" in message
    assert "misspelled" in message and "default/typo" in message and "ConfigMap" in message


def test_every_problem_is_listed():
    _status, _reason, message = schema_error(500, TWO)
    assert ".spec.replicas: expected numeric (int or float), got string" in message
    assert 'containers[name="c"].imagePullPolicyy: field not declared in schema' in message


def test_other_answers_are_left_as_they_are():
    assert schema_error(500, "etcdserver: request timed out") is None
    assert schema_error(422, ONE) is None


def test_it_is_not_worth_a_retry():
    status, reason, message = schema_error(500, ONE)
    assert not kube.is_transient(kube.KubeError(message, status, reason))
