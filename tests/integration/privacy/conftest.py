"""The API fixture of the API tests (a real app on a per-test prefix)."""

from tests.integration.api.conftest import api  # noqa: F401
