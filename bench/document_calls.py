"""Peruri calls per signed document in the native flow, over N documents against the sandbox.

    .venv/bin/python bench/document_calls.py [--documents 100]

Each document goes the whole way through Paraf's services and tasks (Celery eager, as in tests):
upload → place → send (Send Document) → the signer asks for a code (Get OTP) → signs (Signing) →
the follow-through (Check Document Status → Download Document → verification). After each document
the beat's poller runs once too (document_poll_due), so polls it would add are counted.
The counts come from the PeruriCall rows the gateway writes for every HTTP call.
Target (issue 6): send 1, OTP 1, sign 1, download 1, status checks ≤ 1.5 on average.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from _django import describe, django_test_db, sandbox_server


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100)
    args = parser.parse_args()

    with django_test_db("calls") as settings, tempfile.TemporaryDirectory() as tmp, sandbox_server(Path(tmp)) as url:
        settings.SIGNING_OTP_RESEND_SECONDS = 0
        settings.SIGNING_OTP_REQUESTS_PER_HOUR = 10_000
        settings.SIGNING_OTP_REQUESTS_PER_HOUR_USER = 10_000
        settings.SIGNING_ATTEMPTS_PER_WINDOW_USER = 10_000
        from documents import services
        from documents.models import Document
        from signing import services as signing
        from signing.models import PeruriCall
        from tests.documents.fixtures import create_document
        from tests.documents.helpers import last_message_id, latest_otp
        from tests.factories import StaffFactory
        from tests.fixtures_certificates import enrol_through_sandbox

        staff = StaffFactory(email="bench.staff@example.com")
        # A real enrolment through the certificates app (its calls are not counted below).
        signer = enrol_through_sandbox(email="bench.signer@example.com", full_name="Siti Rahmawati").user

        durations = []
        for _ in range(args.documents):
            started = time.perf_counter()
            document = create_document(staff=staff, signer=signer)
            services.document_send_request(document=document, actor=staff)
            document.refresh_from_db()
            after = last_message_id(url, signer.email)
            signing.otp_request(document=document, user=signer)
            signing.document_sign(document=document, user=signer, otp_code=latest_otp(url, signer.email, after=after))
            services.document_poll_due()
            durations.append((time.perf_counter() - started) * 1000)

        documents = list(Document.objects.all())
        signed = [d for d in documents if d.status == Document.Status.SIGNED and d.verification.get("result") == "ok"]
        calls = Counter(
            PeruriCall.objects.filter(object_type="documents.document").values_list("operation", flat=True)
        )
        n = len(documents)
        print(f"Peruri calls per signed document, native flow, {n} documents against the sandbox ({url})")
        print(f"signed and verified: {len(signed)}/{n}")
        print(f"{'operation':<24}{'calls':>8}{'per document':>15}   target")
        targets = {
            "send_document": "1",
            "get_otp": "1",
            "sign": "1",
            "check_document_status": "<= 1.5",
            "download_document": "1",
        }
        for op in ("send_document", "get_otp", "sign", "check_document_status", "download_document"):
            print(f"{op:<24}{calls[op]:>8}{calls[op] / n:>15.2f}   {targets[op]}")
        others = {k: v for k, v in calls.items() if k not in targets}
        if others:
            print("other calls:", dict(others))
        jwt = PeruriCall.objects.filter(operation="get_jwt").count()
        print(f"(plus {jwt} JWT fetch(es) for the whole run)")
        print("time per document (upload → verified):", describe(durations))
        ok = len(signed) == n and all(calls[o] == n for o in ("send_document", "get_otp", "sign", "download_document"))
        ok = ok and calls["check_document_status"] / n <= 1.5
        print("RESULT:", "PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
