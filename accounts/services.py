"""Writes for accounts: users and passwordless sign-in links."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from accounts.models import SignInLink, User

_SALT = "paraf.accounts.signin-link"


class SignInLinkInvalid(Exception):
    """The link was tampered with, expired, already used, or its user is inactive."""


def _passwordless_allowed(user: User) -> bool:
    """Only plain signers may be signed in by an e-mailed link.

    Partner staff and administrators can also enrol and sign (the Corporate User License is
    for the partner's own staff), but their accounts open everyone's identity data: an e-mail
    must never be enough to open them. Their links lead to the password sign-in instead.
    """
    return user.role == User.Role.SIGNER and not user.is_staff and not user.is_superuser


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_get_or_create_signer(*, email: str, full_name: str = "") -> User:
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, full_name=full_name, role=User.Role.SIGNER)
    return user


def signin_link_create(*, user: User, purpose: str, next_url: str = "/", max_age: int | None = None) -> str:
    """Create a single-use sign-in link and return its absolute URL (for an e-mail).

    For staff and administrator accounts the URL is the password sign-in page, continuing to
    `next_url` (see _passwordless_allowed). The token is a random secret, signed with a timestamp so tampered or stale tokens are
    rejected before any database read; only the secret's hash is stored.
    """
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts=None):
        next_url = "/"
    if not _passwordless_allowed(user):
        return f"{settings.SITE_URL.rstrip('/')}{reverse('accounts:login')}?{urlencode({'next': next_url})}"
    secret = secrets.token_urlsafe(32)
    max_age = max_age or settings.SIGNIN_LINK_MAX_AGE
    SignInLink.objects.create(
        user=user,
        secret_hash=_hash(secret),
        purpose=purpose,
        next_url=next_url,
        expires_at=timezone.now() + timedelta(seconds=max_age),
    )
    token = signing.TimestampSigner(salt=_SALT).sign(secret)
    return settings.SITE_URL.rstrip("/") + reverse("accounts:signin_link", args=[token])


def signin_link_peek(*, token: str) -> SignInLink:
    """The link behind a token, without using it. Raises SignInLinkInvalid."""
    try:
        secret = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.SIGNIN_LINK_MAX_AGE * 4)
    except signing.BadSignature as exc:
        raise SignInLinkInvalid from exc
    link = SignInLink.objects.select_related("user").filter(secret_hash=_hash(secret)).first()
    if link is None or link.used_at is not None or link.expires_at <= timezone.now() or not link.user.is_active:
        raise SignInLinkInvalid
    if not _passwordless_allowed(link.user):  # promoted to staff after the link was sent
        raise SignInLinkInvalid
    return link


def signin_link_consume(*, token: str) -> SignInLink:
    """Mark the link used (compare-and-set, so two clicks cannot both sign in)."""
    link = signin_link_peek(token=token)
    with transaction.atomic():
        claimed = SignInLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=timezone.now())
    if claimed != 1:
        raise SignInLinkInvalid
    return link
