"""Fixtures of the sandbox tests: a partner's view of the gateway over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.helpers import Api


@pytest.fixture
def api(sandbox: str) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.http.close()


@pytest.fixture
def signer_email(api: Api) -> str:
    """A registered user whose certificate is issued (SANDBOX_CERT_DELAY is 0 in tests)."""
    return api.enrol("patriadevelopment@yopmail.com", name="Patria Development")
