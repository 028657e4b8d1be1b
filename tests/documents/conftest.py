from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.documents.fixtures import sent_document, signer, staff  # noqa: F401


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """These tests read messages in the source language (English); Indonesian is the default."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
