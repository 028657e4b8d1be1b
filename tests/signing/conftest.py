from __future__ import annotations

# The documents tests' fixtures (a staff member, a signer with a sandbox certificate, a sent document).
from tests.documents.fixtures import sent_document, signer, staff  # noqa: F401
