"""Translation: labels, plurals and sentences reach the catalogs whole, and the enrolment history
is shown in the reader's language (English source strings; locale/ is refreshed by `make messages`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation.template import templatize

from certificates import services
from certificates.models import Consent, Enrolment, EnrolmentEvent
from tests.certificates.test_services import invite, send_video, submit
from tests.factories import SignerFactory
from tests.fixtures_certificates import enrol_through_sandbox

S = Enrolment.Status
TEMPLATES = Path(settings.BASE_DIR) / "templates" / "certificates"


def template_msgids(name: str) -> list[str]:
    """The msgids `makemessages` extracts from a template."""
    out = templatize((TEMPLATES / name).read_text(), origin=name)
    return [m[1] for m in re.findall(r"gettext\(u(['\"])(.*?)\1\)", out)]


def noop_msgids() -> set[str]:
    """Every string literal certificates/services.py marks with gettext_noop."""
    tree = ast.parse((Path(settings.BASE_DIR) / "certificates" / "services.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "gettext_noop":
            (arg,) = node.args
            assert isinstance(arg, ast.Constant), ast.dump(arg)
            found.add(arg.value)
    return found


@pytest.mark.parametrize("model", [Enrolment, Consent, EnrolmentEvent])
def test_every_field_has_a_translatable_label(model):
    for field in model._meta.get_fields():
        if field.concrete and not field.auto_created:
            assert isinstance(field.verbose_name, Promise), f"{model.__name__}.{field.name}"


@pytest.mark.parametrize(
    ("template", "sentence"),
    [
        ("my_enrolment.html", "%(status)s… this page updates by itself."),
        ("staff/enrolment_identity.html", "The identity data was erased on %(date)s."),
        ("staff/enrolment_detail.html", "%(at)s — version %(version)s (%(language)s)"),
    ],
)
def test_sentences_with_values_are_one_translatable_string(template, sentence):
    msgids = template_msgids(template)
    assert sentence in msgids
    # No fragment left for translators to glue together ("this page updates by itself.").
    assert not [m for m in msgids if m[:1].islower()]


@pytest.mark.django_db
def test_the_admin_retry_message_has_plural_forms(admin_client):
    admin_client.cookies["django_language"] = "en"
    enrolments = [invite(f"jamak{i}@example.com") for i in range(2)]
    url = reverse("admin:certificates_enrolment_changelist")
    one = admin_client.post(url, {"action": "retry", "_selected_action": [enrolments[0].pk]}, follow=True)
    assert "1 enrolment retried." in one.content.decode()
    two = admin_client.post(url, {"action": "retry", "_selected_action": [e.pk for e in enrolments]}, follow=True)
    assert "2 enrolments retried." in two.content.decode()


def test_history_messages_are_marked_for_translation(sandbox, client):
    """Every history message but Peruri's own words (calls) is a msgid that makemessages finds,
    and renders with its parameters filled in."""
    marked = noop_msgids()
    issued = enrol_through_sandbox(email="riwayat@example.com")
    rejected = send_video(submit(invite("riwayat+kycreject@example.com")))
    staff = SignerFactory(role="staff")
    client.force_login(staff)
    client.get(reverse("certificates:enrolment_identity", args=[rejected.pk]))
    services.enrolment_export(enrolment=rejected, actor=staff)
    services.enrolment_retry(enrolment=rejected, actor=staff)
    services.enrolment_erase(enrolment=rejected, actor=staff)
    events = EnrolmentEvent.objects.filter(enrolment__in=[issued, rejected]).exclude(kind="call")
    assert events.count() > 20
    for event in events:
        assert event.message in marked, event.message
        with translation.override("en"):
            assert "%(" not in event.text and event.text, event.message


def test_the_history_is_shown_in_the_readers_language(monkeypatch):
    import certificates.models

    catalog = {"face video rejected (%(code)s)": "video wajah ditolak (%(code)s)"}
    monkeypatch.setattr(certificates.models, "gettext", lambda text: catalog.get(text, text))
    event = EnrolmentEvent(kind="state", message="face video rejected (%(code)s)", params={"code": "1006"})
    assert event.text == "video wajah ditolak (1006)"
    # A call keeps Peruri's words verbatim, even when they look like a template.
    call = EnrolmentEvent(kind="call", message="%docSigningOutput/errorMessage%")
    assert call.text == "%docSigningOutput/errorMessage%"


def test_history_parameters_that_name_things_are_shown_by_their_labels():
    purge = EnrolmentEvent(kind="data", message=services.PURGE_ACCEPTED, params={"files": ["ktp_photo", "npwp_photo"]})
    state = EnrolmentEvent(kind="state", from_status="activating", to_status="awaiting_video", operation="verify_video")
    with translation.override("en"):
        assert purge.text == "KTP photo, NPWP photo deleted: Peruri has accepted them"
        assert state.to_status_label == "Waiting for the face video"
        assert state.operation_label == "Video Verification"


def test_staff_pages_show_labels_not_internal_names(sandbox, client, monkeypatch):
    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)  # keep the KTP photo on file
    enrolment = submit(invite("label@example.com"))
    client.force_login(SignerFactory(role="staff"))
    client.cookies["django_language"] = "en"
    identity = client.get(reverse("certificates:enrolment_identity", args=[enrolment.pk])).content.decode()
    assert ">KTP photo</a>" in identity and ">ktp_photo</a>" not in identity
    detail = client.get(reverse("certificates:enrolment_detail", args=[enrolment.pk])).content.decode()
    assert "→ Registering" in detail and "→ registering" not in detail
    assert "registration submitted" in detail
