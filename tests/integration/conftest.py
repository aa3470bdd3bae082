"""Fixtures shared by the integration tests (the service fixtures live in tests/conftest.py)."""

from .browser import chromium  # noqa: F401 - a fixture, used by name
