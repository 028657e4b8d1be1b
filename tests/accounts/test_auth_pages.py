from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import IntegrityError

from accounts.models import User
from tests.factories import AdminFactory, SignerFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_staff_sign_in_with_their_email_address(client):
    StaffFactory(email="staf@example.com", password="rahasia-staf-123")
    response = client.post("/akun/masuk/", {"username": "staf@example.com", "password": "rahasia-staf-123"})
    assert response.status_code == 302
    assert client.get("/").context["user"].email == "staf@example.com"


def test_a_wrong_password_shows_an_error_in_indonesian(client):
    StaffFactory(email="staf@example.com", password="rahasia-staf-123")
    response = client.post("/akun/masuk/", {"username": "staf@example.com", "password": "salah"})
    assert response.status_code == 200
    assert "sandi yang benar" in response.content.decode().lower()


def test_sign_out_needs_a_post(client):
    client.force_login(StaffFactory())
    assert client.get("/akun/keluar/").status_code == 405
    assert client.post("/akun/keluar/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_by_email_lets_the_person_choose_a_new_password(client):
    user = StaffFactory(email="lupa@example.com", password="sandi-lama-12345")
    client.post("/akun/sandi/reset/", {"email": "lupa@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/akun/sandi/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "sandi-baru-67890!", "new_password2": "sandi-baru-67890!"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("sandi-baru-67890!")


def test_emails_are_unique_whatever_their_case():
    User.objects.create_user(email="Ani@Example.com")
    assert User.objects.get().email == "ani@example.com"
    with pytest.raises(IntegrityError):
        User.objects.create(email="ANI@example.com")


def test_the_navigation_follows_the_role(client):
    client.force_login(SignerFactory())
    html = client.get("/").content.decode()
    assert 'data-nav="mailbox"' not in html and 'data-nav="admin"' not in html
    client.force_login(StaffFactory())
    html = client.get("/").content.decode()
    assert 'data-nav="mailbox"' in html and 'data-nav="admin"' not in html
    client.force_login(AdminFactory())
    assert 'data-nav="admin"' in client.get("/").content.decode()


def test_every_admin_page_opens_for_an_administrator(client):
    from django.contrib import admin

    client.force_login(AdminFactory())
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/akun/masuk/")
    csp = response["Content-Security-Policy"]
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
