from __future__ import annotations

from tests.documents.fixtures import sent_document, signer, staff  # noqa: F401
