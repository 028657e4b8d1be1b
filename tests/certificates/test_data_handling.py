"""Personal data (R17): encryption at rest, deletion on schedule, recorded staff reads, export
and erasure."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from certificates import services
from certificates.crypto import EncryptedTextField
from certificates.models import Enrolment, EnrolmentEvent
from certificates.tasks import enrolment_housekeeping
from tests.certificates.test_services import invite, send_video, submit
from tests.factories import SignerFactory, StaffFactory
from tests.fixtures_certificates import enrol_through_sandbox

S = Enrolment.Status


def raw_column(pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM certificates_enrolment WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def make_enrolment(**fields) -> Enrolment:
    user = SignerFactory()
    values = {"user": user, "email": user.email, "license_type": "client", "mode": "native"}
    values.update(fields)
    return Enrolment.objects.create(**values)


@pytest.mark.django_db
def test_ktp_and_npwp_numbers_are_encrypted_at_rest():
    enrolment = make_enrolment(ktp_number="3171011508900001", npwp_number="123456789012345")
    raw_ktp, raw_npwp = raw_column(enrolment.pk, "ktp_number"), raw_column(enrolment.pk, "npwp_number")
    assert "3171011508900001" not in raw_ktp and raw_ktp.startswith("gAAAA")  # a Fernet token
    assert "123456789012345" not in raw_npwp
    assert Enrolment.objects.get(pk=enrolment.pk).ktp_number == "3171011508900001"


@pytest.mark.django_db
def test_keys_can_be_rotated(settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    enrolment = make_enrolment(ktp_number="3171011508900002")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # newest first; the old one still decrypts
    assert Enrolment.objects.get(pk=enrolment.pk).ktp_number == "3171011508900002"
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(Exception, match="cannot be decrypted"):
        Enrolment.objects.get(pk=enrolment.pk)


def test_the_field_is_an_encrypted_text_field():
    assert isinstance(Enrolment._meta.get_field("ktp_number"), EncryptedTextField)


def test_identity_files_are_encrypted_on_disk(sandbox, settings, monkeypatch):
    from pathlib import Path

    monkeypatch.setattr(services, "_enqueue_advance", lambda pk: None)  # keep the files: nothing is sent
    enrolment = submit(invite("berkas@example.com"))
    path = Path(settings.MEDIA_ROOT) / enrolment.ktp_photo.name
    data = path.read_bytes()
    assert data.startswith(b"gAAAA") and b"JFIF" not in data
    assert services.identity_file_read(enrolment=enrolment, field="ktp_photo")[:2] == b"\xff\xd8"


def test_files_are_deleted_once_peruri_has_them(sandbox, settings):
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    enrolment = submit(invite("hapus@example.com"))
    assert enrolment.status == S.AWAITING_VIDEO
    send_video(enrolment)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files == []  # KTP photo and video accepted by Peruri: gone
    assert EnrolmentEvent.objects.filter(enrolment=enrolment, kind="data", operation="delete_files").count() == 2


@pytest.mark.django_db
def test_housekeeping_purges_files_of_abandoned_enrolments(settings, django_capture_on_commit_callbacks):
    from pathlib import Path

    settings.CERTIFICATES_IDENTITY_RETENTION_DAYS = 14
    old = make_enrolment(status=S.AWAITING_VIDEO)
    fresh = make_enrolment(status=S.AWAITING_VIDEO)
    in_flight = make_enrolment(status=S.VERIFYING_VIDEO)
    for e in (old, fresh, in_flight):
        name = services._store_file(e, "video", b"video bytes")
        Enrolment.objects.filter(pk=e.pk).update(video=name)
    Enrolment.objects.filter(pk__in=[old.pk, in_flight.pk]).update(updated_at=timezone.now() - timedelta(days=15))
    Enrolment.objects.filter(pk=in_flight.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    with_paths = {
        e.pk: Path(settings.MEDIA_ROOT) / Enrolment.objects.get(pk=e.pk).video.name for e in (old, fresh, in_flight)
    }

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are committed
        result = enrolment_housekeeping()
    assert result["purged"] == 1
    assert not with_paths[old.pk].exists()
    assert with_paths[fresh.pk].exists() and with_paths[in_flight.pk].exists()
    old.refresh_from_db()
    assert not old.video and old.files_purged_at is not None
    # Running it again changes nothing.
    assert enrolment_housekeeping()["purged"] == 0


@pytest.mark.django_db
def test_housekeeping_requeues_rows_nobody_would_pick_up(django_capture_on_commit_callbacks):
    now = timezone.now()
    lost = make_enrolment(status=S.AWAITING_CERTIFICATE, next_poll_at=None)
    overdue = make_enrolment(status=S.AWAITING_CERTIFICATE, next_poll_at=now - timedelta(hours=1))
    done = make_enrolment(status=S.ISSUED, issued_at=now)
    stale = make_enrolment(status=S.REGISTERING, call_started_at=now - timedelta(hours=1),
                           next_poll_at=now + timedelta(hours=1))  # fmt: skip
    waiting = make_enrolment(status=S.AWAITING_CERTIFICATE, next_poll_at=now + timedelta(minutes=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert enrolment_housekeeping()["requeued"] == 3
    assert len(callbacks) == 3  # one enrolment_advance per row, after commit
    for e in (lost, overdue, stale, done, waiting):
        e.refresh_from_db()
    assert all(now < e.next_poll_at <= now + timedelta(minutes=3) for e in (lost, overdue, stale))
    assert done.next_poll_at is None and waiting.next_poll_at == now + timedelta(minutes=1)


def test_export_and_erase_one_persons_data(sandbox, tmp_path, capsys):
    staff = StaffFactory(email="dpo@example.com")
    enrolment = submit(invite("subjek@example.com"), npwp_number="123456789012345")
    # Keep something on file to export: a video waiting for Peruri.
    Enrolment.objects.filter(pk=enrolment.pk).update(
        video=services._store_file(enrolment, "video", b"\x1a\x45\xdf\xa3x")
    )

    out = tmp_path / "export.json"
    call_command("enrolment_export", "subjek@example.com", "--actor", "dpo@example.com", "-o", str(out))
    data = json.loads(out.read_text())
    assert data["ktp_number"] == enrolment.ktp_number and data["npwp_number"] == "123456789012345"
    assert data["files"]["video"] and data["consents"] and data["history"]
    assert EnrolmentEvent.objects.filter(enrolment=enrolment, kind="identity_read", actor=staff).exists()

    with pytest.raises(CommandError):
        call_command("enrolment_erase", "subjek@example.com")  # needs --yes
    call_command("enrolment_erase", "subjek@example.com", "--yes", "--actor", "dpo@example.com")
    enrolment.refresh_from_db()
    assert enrolment.erased_at and enrolment.status == S.CANCELLED
    assert enrolment.ktp_number == "" and enrolment.full_name == "" and enrolment.date_of_birth is None
    assert not enrolment.has_identity_files
    assert raw_column(enrolment.pk, "ktp_number") == ""
    # The history stays as evidence, with no identity data in it.
    assert enrolment.events.filter(kind="data", operation="erase").exists()
    assert enrolment.consents.exists()
    from signing.models import PeruriCall

    assert not PeruriCall.objects.filter(email__iexact="subjek@example.com").exists()
    capsys.readouterr()
    call_command("enrolment_export", "subjek@example.com", "--no-files")
    exported = json.loads(capsys.readouterr().out)
    assert exported["ktp_number"] == "" and exported["files"]["video"] is None


def test_an_issued_enrolment_keeps_its_status_when_erased(sandbox):
    enrolment = enrol_through_sandbox(email="terbit@example.com")
    call_command("enrolment_erase", "terbit@example.com", "--yes")
    enrolment.refresh_from_db()
    assert enrolment.status == S.ISSUED and enrolment.ktp_number == ""


@pytest.mark.django_db
def test_export_of_an_unknown_person_fails_cleanly():
    with pytest.raises(CommandError):
        call_command("enrolment_export", "nobody@example.com")


@pytest.mark.django_db
def test_erasure_does_not_race_a_call_claimed_after_the_row_was_read():
    """The erase command loads the row, then a worker claims Registration (it is about to send
    the data): erasing now would cancel the row under a call in flight. Refused instead."""
    enrolment = make_enrolment(status=S.REGISTERING, full_name="Siti", ktp_number="3171011508900003")
    loaded = Enrolment.objects.get(pk=enrolment.pk)  # what the command holds
    claimed = timezone.now()
    Enrolment.objects.filter(pk=enrolment.pk).update(call_started_at=claimed)  # the worker's claim
    with pytest.raises(services.EnrolmentError):
        services.enrolment_erase(enrolment=loaded)
    enrolment.refresh_from_db()
    assert enrolment.status == S.REGISTERING and enrolment.call_started_at == claimed
    assert enrolment.ktp_number == "3171011508900003" and enrolment.erased_at is None
    assert not enrolment.events.filter(operation="erase").exists()


@pytest.mark.django_db
def test_erasure_wins_against_a_later_claim():
    """Erased first: the worker's claim (compare-and-set on the status) finds nothing to send."""
    enrolment = make_enrolment(status=S.REGISTERING, full_name="Siti", ktp_number="3171011508900004")
    services.enrolment_erase(enrolment=enrolment)
    claimed = Enrolment.objects.filter(pk=enrolment.pk, status=S.REGISTERING, call_started_at__isnull=True).update(
        call_started_at=timezone.now()
    )
    assert claimed == 0
    enrolment.refresh_from_db()
    assert enrolment.status == S.CANCELLED and enrolment.ktp_number == ""
