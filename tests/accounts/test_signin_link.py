from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SignInLink
from accounts.services import signin_link_create
from tests.factories import SignerFactory

pytestmark = pytest.mark.django_db



def test_a_sign_in_link_signs_the_person_in_once(client):
    user = SignerFactory()
    url = signin_link_create(user=user, purpose="invite", next_url="/")
    path = "/" + url.split("/", 3)[3]

    page = client.get(path)
    assert page.status_code == 200
    assert user.email in page.content.decode()
    # A GET (a mail scanner's prefetch) does not use the link up.
    assert SignInLink.objects.get().used_at is None

    response = client.post(path)
    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"] == user

    client.logout()
    again = client.post(path)
    assert again.status_code == 410
    assert "_auth_user_id" not in client.session


def test_an_expired_link_is_refused(client):
    user = SignerFactory()
    url = signin_link_create(user=user, purpose="invite")
    SignInLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post("/" + url.split("/", 3)[3])
    assert response.status_code == 410
    assert "_auth_user_id" not in client.session


def test_a_tampered_token_is_refused(client):
    user = SignerFactory()
    url = signin_link_create(user=user, purpose="invite")
    path = "/" + url.split("/", 3)[3]
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA/") else "BBB") + "/"
    assert client.post(tampered).status_code == 410


def test_a_link_never_redirects_off_site(client):
    user = SignerFactory()
    url = signin_link_create(user=user, purpose="invite", next_url="https://evil.example/")
    response = client.post("/" + url.split("/", 3)[3])
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_no_sign_in_link_ever_opens_a_staff_or_admin_account_without_a_password(client):
    from tests.factories import AdminFactory, StaffFactory

    for privileged in (StaffFactory(), AdminFactory()):
        url = signin_link_create(user=privileged, purpose="sign", next_url="/dokumen/")
        assert url.endswith("/akun/masuk/?next=%2Fdokumen%2F")
        assert not SignInLink.objects.filter(user=privileged).exists()
        page = client.get("/" + url.split("/", 3)[3])
        assert page.status_code == 200 and "_auth_user_id" not in client.session


def test_a_link_stops_working_when_its_signer_is_promoted_to_staff(client):
    user = SignerFactory()
    url = signin_link_create(user=user, purpose="invite")
    user.role = user.Role.STAFF
    user.save()
    assert client.post("/" + url.split("/", 3)[3]).status_code == 410
    assert "_auth_user_id" not in client.session
