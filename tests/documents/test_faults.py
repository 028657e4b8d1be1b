"""Sandbox fault injection on sendDocument, signing, status and download.

Every document ends signed-and-verified or in a visible failed / needs-reconciliation state; the
sandbox never holds a duplicate order; nothing is "signed" without a valid signature.
"""

from __future__ import annotations

import contextlib
import random
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from documents import services
from documents.models import Document
from signing import services as signing
from tests.documents.fixtures import create_document, send_document
from tests.documents.helpers import (
    fault_clear,
    fault_set,
    last_message_id,
    latest_otp,
    peruri_calls,
    sandbox_orders_for,
)

S = Document.Status


@pytest.fixture(autouse=True)
def _quick(settings, sandbox):
    # No resend cool-down in these tests; the breaker is exercised in its own test.
    settings.SIGNING_OTP_RESEND_SECONDS = 0
    settings.PERURI_BREAKER_THRESHOLD = 1000
    yield
    fault_clear(sandbox)


def drive(document, rounds=12):
    """Run the poller as the beat would, making this row due each round, until it settles."""
    for _ in range(rounds):
        document.refresh_from_db()
        if document.status not in Document.POLLED_STATUSES:
            break
        if document.status == S.NEEDS_RECONCILIATION and not document.peruri_order_id:
            break
        Document.objects.filter(pk=document.pk).update(next_poll_at=timezone.now())
        services.document_poll_due()
    document.refresh_from_db()
    return document


def sign_now(sandbox, document, signer):
    after = last_message_id(sandbox, signer.email)
    signing.otp_request(document=document, user=signer)
    signing.document_sign(document=document, user=signer, otp_code=latest_otp(sandbox, signer.email, after=after))


def assert_signed_for_real(document):
    assert document.status == S.SIGNED, (document.status, document.last_error)
    assert document.verification["result"] == "ok"
    assert all(sig["bottom_line"] for sig in document.verification["signatures"])


# -------------------------------------------------------------------------------- sendDocument


def test_a_send_that_fails_before_peruri_saw_it_is_never_resent_blindly(sandbox, staff, signer):
    fault_set(sandbox, kinds=["http500"], operations=["sendDocument"], count=1, when="before")
    document = send_document(create_document(staff=staff, signer=signer), staff)

    assert document.status == S.NEEDS_RECONCILIATION
    assert document.reconcile_operation == Document.Reconcile.SEND
    assert sandbox_orders_for(signer.email) == []
    # The poller leaves it alone: no automatic second Send Document.
    services.document_poll_due()
    services.document_housekeeping()
    assert len(peruri_calls(document, "send_document")) == 1

    # Staff looked at Peruri's portal and found nothing: send again.
    services.document_reconcile_send_again(document=document, actor=staff)
    document.refresh_from_db()
    assert document.status == S.AWAITING_SIGNATURE
    sign_now(sandbox, document, signer)
    document.refresh_from_db()
    assert_signed_for_real(document)
    assert len(sandbox_orders_for(signer.email)) == 1


@pytest.mark.parametrize("kind", ["connection_reset", "http500", "malformed_json", "gateway_exception"])
def test_a_send_whose_reply_was_lost_is_reconciled_by_linking_the_order(sandbox, staff, signer, kind):
    fault_set(sandbox, kinds=[kind], operations=["sendDocument"], count=1, when="after")
    document = send_document(create_document(staff=staff, signer=signer), staff)

    assert document.status == S.NEEDS_RECONCILIATION, document.status
    [order] = sandbox_orders_for(signer.email)  # Peruri did create it
    assert document.peruri_order_id is None

    # A wrong order id (someone else's document) is refused.
    other = send_document(create_document(staff=staff, signer=signer, pdf=None), staff)
    with pytest.raises(services.DocumentError):
        services.document_reconcile_link_order(document=document, actor=staff, order_id=other.peruri_order_id)

    services.document_reconcile_link_order(document=document, actor=staff, order_id=str(order.pk))
    document.refresh_from_db()
    assert document.status == S.AWAITING_SIGNATURE
    assert document.peruri_order_id == str(order.pk)
    sign_now(sandbox, document, signer)
    document.refresh_from_db()
    assert_signed_for_real(document)
    assert len(sandbox_orders_for(signer.email)) == 2  # this one and `other`: no duplicate
    assert len(peruri_calls(document, "send_document")) == 1


def test_a_worker_that_died_during_send_leaves_a_visible_unknown_outcome(sandbox, staff, signer):
    document = create_document(staff=staff, signer=signer)
    # The worker claimed the row (in flight committed) and died before any reply.
    Document.objects.filter(pk=document.pk).update(
        status=S.SENDING, inflight_since=timezone.now() - timezone.timedelta(hours=1)
    )
    counts = services.document_housekeeping()
    assert counts["send_unknown"] == 1
    assert services.document_housekeeping()["send_unknown"] == 0  # safe twice
    document.refresh_from_db()
    assert document.status == S.NEEDS_RECONCILIATION
    assert peruri_calls(document) == []


def test_a_rejected_send_fails_visibly_with_its_code(sandbox, staff, signer, monkeypatch):
    document = create_document(staff=staff, signer=signer)
    # The sandbox rejects a signer it does not know: 4001-ish codes keep their value.
    from accounts.models import User

    User.objects.filter(pk=signer.pk).update(email="nobody.registered@example.com")
    document.refresh_from_db()
    monkeypatch.setattr(services, "signer_has_certificate", lambda user: True)
    send_document(document, staff)
    assert document.status == S.FAILED
    assert document.last_error_code
    assert sandbox_orders_for("nobody.registered@example.com") == []


# -------------------------------------------------------------------------------- signing


def test_a_signature_applied_but_not_confirmed_is_reconciled_to_signed(sandbox, sent_document, signer):
    fault_set(sandbox, kinds=["http500"], operations=["signing"], count=1, when="after")
    with pytest.raises(signing.SigningError) as exc:
        sign_now(sandbox, sent_document, signer)
    assert exc.value.kind == "checking"
    document = drive(sent_document)
    assert_signed_for_real(document)
    assert len(peruri_calls(document, "sign")) == 1


def test_a_signature_lost_before_peruri_saw_it_goes_back_to_the_signer(sandbox, sent_document, signer, settings):
    fault_set(sandbox, kinds=["connection_reset"], operations=["signing"], count=1, when="before")
    with pytest.raises(signing.SigningError) as exc:
        sign_now(sandbox, sent_document, signer)
    assert exc.value.kind == "checking"
    # The outcome was unknown: visible as such. Right after the call, Peruri's "not signed yet"
    # proves nothing (it may still be applying the call), so the document keeps reconciling...
    document = drive(sent_document)
    assert document.status == S.NEEDS_RECONCILIATION
    assert document.peruri_status == "WAITING_SIGNATURE"
    # ...and once the grace period is over, Check Document Status settles it: "not signed".
    grace = settings.SIGNING_UNKNOWN_OUTCOME_GRACE
    Document.objects.filter(pk=document.pk).update(inflight_since=timezone.now() - timedelta(seconds=grace + 1))
    document = drive(document)
    kinds = list(document.events.values_list("kind", flat=True))
    assert kinds.index("needs_reconciliation") < kinds.index("reconciled")
    assert document.status == S.AWAITING_SIGNATURE
    sign_now(sandbox, document, signer)
    document.refresh_from_db()
    assert_signed_for_real(document)


def test_a_signing_call_that_outlives_the_web_request_is_reconciled_to_signed(sandbox, sent_document, signer, settings):
    """R1: Signing runs in the signer's request with a short read timeout. Here Peruri takes longer
    than that and signs after Paraf gave up waiting: the request returns at the timeout, the outcome
    is unknown, and the early "WAITING_SIGNATURE" is not mistaken for "not signed"."""
    settings.PERURI_TIMEOUTS = {"signing": 1}  # stands in for SIGNING_WEB_READ_TIMEOUT (15 s)
    fault_set(sandbox, latency_ms=2500, operations=["signing"])  # Peruri applies it 2.5 s late
    after = last_message_id(sandbox, signer.email)
    signing.otp_request(document=sent_document, user=signer)
    otp = latest_otp(sandbox, signer.email, after=after)
    started = time.monotonic()
    with pytest.raises(signing.SigningError) as exc:
        signing.document_sign(document=sent_document, user=signer, otp_code=otp)
    assert exc.value.kind == "checking"
    assert time.monotonic() - started < 2.4  # the request did not wait for Peruri
    sent_document.refresh_from_db()
    assert sent_document.status == S.NEEDS_RECONCILIATION
    assert sent_document.reconcile_operation == Document.Reconcile.SIGN
    assert peruri_calls(sent_document, "check_document_status")  # checked at once: not signed yet

    deadline = time.monotonic() + 15
    while sent_document.status != S.SIGNED and time.monotonic() < deadline:
        time.sleep(0.3)
        sent_document = drive(sent_document)
    assert_signed_for_real(sent_document)
    assert not sent_document.events.filter(kind="reconciled", data__note="not_signed").exists()
    assert len(peruri_calls(sent_document, "sign")) == 1
    assert len(sandbox_orders_for(signer.email)) == 1


def test_a_worker_that_died_during_signing_is_reconciled_by_status(sandbox, sent_document):
    Document.objects.filter(pk=sent_document.pk).update(
        status=S.SIGNING, inflight_since=timezone.now() - timezone.timedelta(hours=1)
    )
    assert services.document_housekeeping()["sign_unknown"] == 1
    document = drive(sent_document)
    assert document.status == S.AWAITING_SIGNATURE
    assert [c.operation for c in peruri_calls(document)][-1] == "check_document_status"


# -------------------------------------------------------------------------------- status, download


def test_status_checks_that_fail_are_retried_on_schedule(sandbox, sent_document, signer):
    # 3 failures = one whole poll (the client retries reads twice itself).
    fault_set(sandbox, kinds=["http500"], operations=["checkDocumentStatus"], count=3)
    sign_now(sandbox, sent_document, signer)
    sent_document.refresh_from_db()
    assert sent_document.status == S.CONFIRMING
    assert sent_document.next_poll_at > timezone.now()  # pushed forward, no hot loop
    assert sent_document.last_error
    document = drive(sent_document)
    assert_signed_for_real(document)


def test_a_download_that_fails_is_retried_without_another_status_check(sandbox, sent_document, signer):
    fault_set(sandbox, kinds=["malformed_json"], operations=["downloadDocument"], count=3)
    sign_now(sandbox, sent_document, signer)
    sent_document.refresh_from_db()
    assert sent_document.status == S.CONFIRMING
    assert sent_document.peruri_status == "SIGNED"
    document = drive(sent_document)
    assert_signed_for_real(document)
    assert len(peruri_calls(document, "check_document_status")) == 1


def test_a_download_that_is_not_a_valid_signature_is_never_signed(sandbox, sent_document, signer, settings, tmp_path):
    from tests.documents import pki

    settings.PERURI_TRUST_ROOTS = [pki.make_ca("Not Peruri").write_pem(tmp_path / "wrong.pem")]
    sign_now(sandbox, sent_document, signer)
    sent_document.refresh_from_db()
    assert sent_document.status == S.VERIFICATION_FAILED
    assert sent_document.last_error_code == "untrusted"
    # With the right trust root, staff's retry fetches and verifies it again.
    settings.PERURI_TRUST_ROOTS = []
    services.document_retry(document=sent_document, actor=None)
    sent_document.refresh_from_db()
    assert_signed_for_real(sent_document)


def test_when_peruri_is_down_polls_back_off_without_using_up_their_budget(sandbox, sent_document, signer, settings):
    settings.PERURI_BREAKER_THRESHOLD = 1
    settings.PERURI_BREAKER_COOLDOWN = 60
    fault_set(sandbox, kinds=["gateway_exception"], operations=["checkDocumentStatus"])
    sign_now(sandbox, sent_document, signer)
    sent_document.refresh_from_db()
    attempts = sent_document.poll_count
    # The breaker is open now: the next poll is not sent and does not count.
    Document.objects.filter(pk=sent_document.pk).update(next_poll_at=timezone.now())
    services.document_poll_due()
    sent_document.refresh_from_db()
    assert sent_document.status == S.CONFIRMING
    assert sent_document.poll_count == attempts
    assert "Unavailable" in sent_document.last_error


# -------------------------------------------------------------------------------- chaos


def test_under_random_faults_every_document_ends_in_a_visible_honest_state(sandbox, staff, signer, settings):
    rng = random.Random(20261130)  # noqa: S311
    settings.SIGNING_OTP_REQUESTS_PER_HOUR = 1000
    settings.SIGNING_OTP_REQUESTS_PER_HOUR_USER = 1000
    settings.SIGNING_ATTEMPTS_PER_WINDOW = 1000
    settings.SIGNING_ATTEMPTS_PER_WINDOW_USER = 1000
    fault_set(
        sandbox,
        rate=0.3,
        kinds=["http500", "gateway_exception", "connection_reset", "malformed_json"],
        operations=["sendDocument", "signing", "checkDocumentStatus", "downloadDocument"],
        when=rng.choice(["before", "after"]),
    )
    documents = []
    for _ in range(6):
        document = send_document(create_document(staff=staff, signer=signer), staff)
        for _attempt in range(3):
            document = drive(document)
            if document.status != S.AWAITING_SIGNATURE:
                break
            with contextlib.suppress(signing.SigningError):
                sign_now(sandbox, document, signer)
            document = drive(document)
        documents.append(document)
    fault_clear(sandbox)

    orders = sandbox_orders_for(signer.email)
    order_ids = [str(o.pk) for o in orders]
    assert len(order_ids) == len(set(order_ids))
    for document in documents:
        document.refresh_from_db()
        assert document.status in (S.SIGNED, S.NEEDS_RECONCILIATION, S.FAILED, S.AWAITING_SIGNATURE, S.CONFIRMING), document.status
        if document.status == S.SIGNED:
            assert_signed_for_real(document)
        sends = peruri_calls(document, "send_document")
        assert len(sends) <= 1  # never re-sent without staff reconciling
        if document.peruri_order_id:
            assert order_ids.count(document.peruri_order_id) == 1
        if document.status == S.NEEDS_RECONCILIATION:
            assert document.reconcile_operation and document.last_error
    # Every order at the sandbox belongs to at most one document.
    linked = [d.peruri_order_id for d in documents if d.peruri_order_id]
    assert len(linked) == len(set(linked))
    assert len(orders) <= len(documents)
