from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# The documents tests' fixtures (a staff member, a signer with a sandbox certificate, a sent document).
from tests.documents.fixtures import sent_document, signer, staff  # noqa: F401


@pytest.fixture
def english(settings: Any) -> Iterator[None]:
    """Messages in the source language (English); Indonesian is the default. Used by this folder's
    documents/signing tests through `pytestmark`."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
