from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import send_mail

from tests.factories import SignerFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_mail(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"


def test_staff_read_every_sent_email_with_working_links(client, file_mail):
    send_mail("Undangan tanda tangan", "Buka http://127.0.0.1:8000/akun/tautan/abc/ untuk lanjut.", None, ["a@example.com"])
    client.force_login(StaffFactory())
    page = client.get("/dev/mail/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Undangan tanda tangan" in html
    assert 'href="http://127.0.0.1:8000/akun/tautan/abc/"' in html
    assert "a@example.com" in html


def test_signers_and_strangers_cannot_read_the_mailbox(client, file_mail):
    assert client.get("/dev/mail/").status_code == 302
    client.force_login(SignerFactory())
    assert client.get("/dev/mail/").status_code == 403
    assert len(mail.outbox) == 0
