"""Staff list/detail pages and access: every document is fetched scoped to staff or its signer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from documents import services
from documents.models import Document
from tests.documents.helpers import make_pdf, upload
from tests.factories import SignerFactory

pytestmark = pytest.mark.django_db

S = Document.Status


def _document(staff, signer, *, status=S.AWAITING_SIGNATURE, order_id="9001", title="Kontrak"):
    document = services.document_create(
        uploaded_file=upload(make_pdf(1)), title=title, signer_email=signer.email, actor=staff
    )
    extra = {"signed_sha256": "0" * 64} if status == S.SIGNED else {}
    Document.objects.filter(pk=document.pk).update(status=status, peruri_order_id=order_id, **extra)
    document.refresh_from_db()
    return document


@pytest.fixture
def no_peruri(monkeypatch):
    """Any attempt to reach Peruri fails the test."""
    calls = []

    def forbidden():
        calls.append(1)
        raise AssertionError("Peruri must not be called")

    monkeypatch.setattr(services, "_client", forbidden)
    import signing.services

    monkeypatch.setattr(signing.services, "_client", forbidden)
    return calls


def test_the_staff_list_issues_a_constant_number_of_queries(client, staff, django_assert_max_num_queries):
    signers = [SignerFactory() for _ in range(3)]
    for n in range(30):
        _document(staff, signers[n % 3], order_id=str(1000 + n), title=f"Kontrak {n}")
    client.force_login(staff)
    url = reverse("documents:document_list")
    with django_assert_max_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["documents"]) == 25
    with django_assert_max_num_queries(5):
        client.get(url, {"page": 2, "status": S.AWAITING_SIGNATURE, "q": "kontrak"})


def test_the_staff_list_filters_searches_and_paginates(client, staff):
    budi = SignerFactory(email="budi.santoso@example.com", full_name="Budi Santoso")
    siti = SignerFactory(email="siti@example.com", full_name="Siti Rahmawati")
    _document(staff, budi, title="Perjanjian sewa", order_id="1")
    _document(staff, siti, title="Surat kuasa", order_id="2", status=S.SIGNED)
    _document(staff, siti, title="Nota kesepahaman", order_id="3", status=S.NEEDS_RECONCILIATION)
    client.force_login(staff)
    url = reverse("documents:document_list")

    def titles(**params):
        return [d.title for d in client.get(url, params).context["documents"]]

    assert titles() == ["Nota kesepahaman", "Surat kuasa", "Perjanjian sewa"]
    assert titles(status=S.SIGNED) == ["Surat kuasa"]
    assert titles(status="stuck") == ["Nota kesepahaman"]
    assert titles(q="budi") == ["Perjanjian sewa"]
    assert titles(q="Rahmawati") == ["Nota kesepahaman", "Surat kuasa"]
    assert titles(q="kuasa") == ["Surat kuasa"]
    assert titles(q="3") == ["Nota kesepahaman"]
    for n in range(30):
        _document(staff, budi, title=f"Lampiran {n}", order_id=str(100 + n))
    page2 = client.get(url, {"page": 2, "q": "lampiran"})
    assert len(page2.context["documents"]) == 5
    assert "q=lampiran" in page2.content.decode()


def test_the_detail_page_shows_the_timeline(client, staff):
    document = _document(staff, SignerFactory(), status=S.DRAFT, order_id=None)
    services.document_place(document=document, actor=staff, placed_by="staff", page=1, llx=100, lly=100, urx=250, ury=160)
    client.force_login(staff)
    response = client.get(reverse("documents:document_detail", args=[document.public_id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-kind="uploaded"' in html and 'data-kind="placed"' in html
    assert staff.full_name in html or staff.email in html


def test_placement_outside_the_page_is_refused(staff):
    document = _document(staff, SignerFactory(), status=S.DRAFT, order_id=None)
    with pytest.raises(services.DocumentError):
        services.document_place(document=document, actor=staff, placed_by="staff", page=1, llx=500, lly=100, urx=700, ury=160)
    with pytest.raises(services.DocumentError):
        services.document_place(document=document, actor=staff, placed_by="staff", page=2, llx=1, lly=1, urx=50, ury=50)


def test_placement_is_checked_against_the_crop_box(staff):
    document = services.document_create(
        uploaded_file=upload(make_pdf(1, cropbox={1: (50, 100, 350, 500)})),
        title="x",
        signer_email="a@example.com",
        actor=staff,
    )
    with pytest.raises(services.DocumentError):
        services.document_place(document=document, actor=staff, placed_by="staff", page=1, llx=10, lly=120, urx=100, ury=160)
    services.document_place(document=document, actor=staff, placed_by="staff", page=1, llx=60, lly=110, urx=200, ury=160)


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("signing:document", "get"),
        ("signing:otp_request", "post"),
        ("signing:sign", "post"),
        ("signing:webview_confirm", "post"),
        ("documents:document_file", "get"),
        ("documents:document_download", "get"),
    ],
)
def test_another_signer_gets_404_and_causes_no_peruri_call(client, staff, name, method, no_peruri):
    owner = SignerFactory()
    document = _document(staff, owner, status=S.AWAITING_SIGNATURE)
    client.force_login(SignerFactory())
    url = reverse(name, args=[document.public_id])
    response = getattr(client, method)(url, {"otp": "123456", "resultCode": "0", "resultDesc": "Success"})
    assert response.status_code == 404
    assert no_peruri == []


@pytest.mark.parametrize(
    "name",
    [
        "documents:document_detail",
        "documents:document_place",
        "documents:document_send",
        "documents:document_retry",
        "documents:document_cancel",
        "documents:document_resend_link",
        "documents:document_reconcile",
    ],
)
def test_staff_pages_are_404_for_signers_even_their_own_documents(client, staff, name, no_peruri):
    owner = SignerFactory()
    document = _document(staff, owner)
    client.force_login(owner)
    url = reverse(name, args=[document.public_id])
    response = client.post(url) if name != "documents:document_detail" else client.get(url)
    assert response.status_code in (404, 405)
    assert no_peruri == []
    document.refresh_from_db()
    assert document.status == S.AWAITING_SIGNATURE


def test_a_guessed_id_is_a_404(client, staff):
    client.force_login(staff)
    assert client.get("/dokumen/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/dokumen/123/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, staff):
    document = _document(staff, SignerFactory())
    for url in (
        reverse("signing:document", args=[document.public_id]),
        reverse("documents:document_file", args=[document.public_id]),
        reverse("signing:my_documents"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_the_signer_sees_only_their_documents(client, staff):
    owner = SignerFactory()
    mine = _document(staff, owner, title="Punyaku", order_id="1")
    _document(staff, SignerFactory(), title="Punya orang lain", order_id="2")
    _document(staff, owner, title="Masih draf", order_id=None, status=S.DRAFT)
    client.force_login(owner)
    response = client.get(reverse("signing:my_documents"))
    assert [d.title for d in response.context["documents"]] == ["Punyaku"]
    draft = Document.objects.get(title="Masih draf")
    assert client.get(reverse("signing:document", args=[draft.public_id])).status_code == 404
    assert client.get(reverse("documents:document_file", args=[draft.public_id])).status_code == 404
    assert client.get(reverse("signing:document", args=[mine.public_id])).status_code == 200
    pdf = client.get(reverse("documents:document_file", args=[mine.public_id]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "no-store" in pdf["Cache-Control"] and "private" in pdf["Cache-Control"]


def test_the_signed_copy_is_served_only_once_verified(client, staff):
    owner = SignerFactory()
    document = _document(staff, owner, status=S.VERIFICATION_FAILED)
    client.force_login(owner)
    assert client.get(reverse("documents:document_download", args=[document.public_id])).status_code == 404


def test_cancel_and_what_cannot_be_cancelled(staff):
    document = _document(staff, SignerFactory(), status=S.SIGNING)
    with pytest.raises(services.DocumentError):
        services.document_cancel(document=document, actor=staff)
    Document.objects.filter(pk=document.pk).update(status=S.AWAITING_SIGNATURE, next_poll_at="2030-01-01T00:00:00Z")
    document.refresh_from_db()
    services.document_cancel(document=document, actor=staff)
    document.refresh_from_db()
    assert document.status == S.CANCELLED and document.next_poll_at is None
    assert document.events.last().kind == "cancelled"


def test_the_admin_shows_the_same_history_read_only(client, staff):
    from tests.factories import AdminFactory

    document = _document(staff, SignerFactory(), status=S.DRAFT, order_id=None)
    services.document_place(document=document, actor=staff, placed_by="signer")
    client.force_login(AdminFactory())
    listing = client.get(reverse("admin:documents_document_changelist"))
    assert listing.status_code == 200
    page = client.get(reverse("admin:documents_document_change", args=[document.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Uploaded" in html and "Signature placed" in html
    assert 'name="status"' not in html  # read-only: state changes go through the services


def test_placement_must_be_whole_points_inside_a_fractional_crop_box(staff):
    """Peruri refuses a box that leaves the crop box by a fraction of a point (4012): a box Paraf
    accepts must be one static/js/placement.js could have drawn (ceil/floor of the crop box)."""
    document = services.document_create(
        uploaded_file=upload(make_pdf(1, cropbox={1: (20.4, 30.4, 580.6, 800.6)})),
        title="x",
        signer_email="a@example.com",
        actor=staff,
    )
    for box in ((20, 100, 200, 160), (100, 30, 200, 160), (100, 100, 581, 160), (100, 100, 200, 801)):
        with pytest.raises(services.DocumentError):
            services.document_place(document=document, actor=staff, placed_by="staff", page=1, llx=box[0], lly=box[1], urx=box[2], ury=box[3])
    services.document_place(document=document, actor=staff, placed_by="staff", page=1, llx=21, lly=31, urx=580, ury=800)


def test_admin_actions_count_documents_with_real_plurals(client, staff):
    from tests.factories import AdminFactory

    one = _document(staff, SignerFactory(), status=S.DRAFT, order_id=None, title="Satu")
    client.force_login(AdminFactory())
    url = reverse("admin:documents_document_changelist")
    response = client.post(
        url, {"action": "cancel_selected", "_selected_action": [one.pk]}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    texts = [str(m) for m in response.context["messages"]]
    assert "1 document cancelled." in texts, texts
    two = [_document(staff, SignerFactory(), status=S.DRAFT, order_id=None, title=t).pk for t in ("Dua", "Tiga")]
    response = client.post(
        url, {"action": "cancel_selected", "_selected_action": two}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "2 documents cancelled." in [str(m) for m in response.context["messages"]]


def test_the_signing_status_and_the_signing_operation_are_translated_apart():
    """Both read "Signing" in English; Indonesian needs two words, so each has its own context."""
    status, operation = Document.Status.SIGNING.label, Document.Reconcile.SIGN.label
    assert str(status) == str(operation) == "Signing"
    # pgettext_lazy keeps (context, message): different contexts are different catalog entries.
    assert status._args[0] != operation._args[0]


def test_the_plain_text_e_mail_to_the_signer_is_not_html_escaped(staff):
    from django.core import mail

    signer = SignerFactory(email="budi@example.com", full_name="Budi")
    document = _document(staff, signer, title="Sewa & Jual <Rumah>")
    Document.objects.filter(pk=document.pk).update(signer_notified_at=None)
    mail.outbox.clear()
    assert services.document_notify_signer(document_id=document.pk)
    [message] = mail.outbox
    assert "Sewa & Jual <Rumah>" in message.subject
    assert "Sewa & Jual <Rumah>" in message.body and "&amp;" not in message.body
    html = message.alternatives[0][0]
    assert "Sewa &amp; Jual &lt;Rumah&gt;" in html
