"""Celery tasks for certificates: thin, ids only, each calls one service (R5, R7, R8).

The two periodic ones are declared in CELERY_BEAT_SCHEDULE (config/settings/base.py).
"""

from __future__ import annotations

import logging

from celery import shared_task

from certificates import services

logger = logging.getLogger(__name__)


@shared_task(name="certificates.tasks.enrolment_poll_due", ignore_result=True)
def enrolment_poll_due() -> int:
    """Every 5 s: claim the enrolments whose next_poll_at is due (pushed forward first) and fan
    out one enrolment_advance per row, after commit."""
    ids = services.enrolments_due_claim()  # committed: next_poll_at already pushed forward
    for enrolment_id in ids:
        enrolment_advance.delay_on_commit(enrolment_id)
    return len(ids)


# Video verification can take minutes (the client allows ~5 min plus upload time): a longer limit
# than the global one, still far below the broker's visibility timeout (1 h). A claimed call is
# treated as abandoned only after the hard limit (certificates.services._STEPS).
@shared_task(
    name="certificates.tasks.enrolment_advance",
    ignore_result=True,
    soft_time_limit=services.ADVANCE_SOFT_TIME_LIMIT,
    time_limit=services.ADVANCE_TIME_LIMIT,
)
def enrolment_advance(enrolment_id: int) -> None:
    services.enrolment_advance(enrolment_id=enrolment_id)


@shared_task(name="certificates.tasks.enrolment_invitation_send", ignore_result=True)
def enrolment_invitation_send(enrolment_id: int) -> None:
    services.enrolment_invitation_send(enrolment_id=enrolment_id)


@shared_task(name="certificates.tasks.enrolment_housekeeping", ignore_result=True)
def enrolment_housekeeping() -> dict[str, int]:
    """Every 5 min: make stuck rows due again (safe to run twice) and delete identity files past
    their retention."""
    requeued = services.enrolments_requeue_stuck()
    for enrolment_id in requeued:
        enrolment_advance.delay_on_commit(enrolment_id)
    purged = services.enrolments_purge_stale_files()
    if requeued or purged:
        logger.info("enrolment housekeeping: %d requeued, %d purged", len(requeued), purged)
    return {"requeued": len(requeued), "purged": purged}
