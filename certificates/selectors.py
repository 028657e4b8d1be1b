"""Reads for certificates. Every lookup a view makes is scoped to its owner or to staff (R13)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from certificates.models import Enrolment, EnrolmentEvent


def user_has_certificate(*, user: Any) -> bool:
    """True when Peruri has issued this user a certificate (their enrolment reached "issued")."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return False
    return Enrolment.objects.filter(user_id=user.pk, status=Enrolment.Status.ISSUED).exists()


def enrolment_for_user(*, user: Any) -> Enrolment | None:
    """The signed-in person's own enrolment, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Enrolment.objects.filter(user_id=user.pk).first()


def enrolment_get_for_owner(*, user: Any) -> Enrolment:
    """The signed-in person's own enrolment, or 404."""
    enrolment = enrolment_for_user(user=user)
    if enrolment is None:
        raise Http404
    return enrolment


def enrolment_get_for_staff(*, user: Any, pk: int) -> Enrolment:
    """An enrolment for partner staff, or 404 for anyone else (same answer as a missing id)."""
    if not getattr(user, "is_partner_staff", False):
        raise Http404
    try:
        return Enrolment.objects.select_related("user", "invited_by").get(pk=pk)
    except Enrolment.DoesNotExist as exc:
        raise Http404 from exc


def enrolment_list_for_staff(*, status: str = "", query: str = "") -> QuerySet[Enrolment]:
    qs = Enrolment.objects.select_related("user").order_by("-created_at")
    if status == "stuck":
        qs = qs.filter(_stuck_q(timezone.now()))
    elif status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(email__icontains=query.strip())
    return qs


# Background work overdue by this much means nobody is picking the row up.
STUCK_AFTER = timedelta(minutes=10)
_BACKGROUND = [*Enrolment.IN_FLIGHT, Enrolment.Status.AWAITING_CERTIFICATE, Enrolment.Status.VIDEO_PENDING]
_NEEDS_STAFF = [Enrolment.Status.FAILED, Enrolment.Status.EXPIRED, Enrolment.Status.RECONCILING]


def _stuck_q(now: datetime) -> Q:
    overdue = Q(next_poll_at__isnull=True) | Q(next_poll_at__lt=now - STUCK_AFTER)
    return Q(status__in=_NEEDS_STAFF) | (Q(status__in=_BACKGROUND) & overdue)


def enrolment_is_stuck(*, enrolment: Enrolment, now: datetime | None = None) -> bool:
    """Staff may retry it: failed, expired, reconciling, or overdue for its background work."""
    now = now or timezone.now()
    if enrolment.status in _NEEDS_STAFF:
        return True
    if enrolment.status in _BACKGROUND:
        return enrolment.next_poll_at is None or enrolment.next_poll_at < now - STUCK_AFTER
    return False


def enrolment_events(*, enrolment: Enrolment) -> QuerySet[EnrolmentEvent]:
    return enrolment.events.select_related("actor").order_by("created_at", "pk")
