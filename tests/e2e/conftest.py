"""End-to-end tests (roles deploying the daemons): the same testbed fixtures as tests/integration.

Run with `make e2e`; they are not part of `make test` (they start and stop many processes and take long).
"""

from ..integration.conftest import (  # noqa: F401 - fixtures
    hub_api_client,
    hub_kubeconfig,
    member_api_clients,
    pytest_collection_modifyitems,
    testbed,
    tmc_hub,
)

__all__ = [
    "hub_api_client",
    "hub_kubeconfig",
    "member_api_clients",
    "pytest_collection_modifyitems",
    "testbed",
    "tmc_hub",
]
