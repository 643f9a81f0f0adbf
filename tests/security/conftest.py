"""Fixtures for the security tests: the API on a real Elasticsearch (shared with the API tests)."""

from tests.integration.api.conftest import api  # noqa: F401 - re-exported fixture
