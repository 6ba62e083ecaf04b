"""The local multi-cluster testbed: real upstream API servers (DESIGN.md section 6)."""

from .launcher import HUB, Component, Testbed, TestbedError, build_binaries

__all__ = ["HUB", "Component", "Testbed", "TestbedError", "build_binaries"]
