from __future__ import annotations

from django.conf import settings

from config.celery import app


def test_celery_only_speaks_json():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]


def test_a_killed_worker_does_not_lose_its_task():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_time_limits_are_shorter_than_the_redis_visibility_timeout():
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    assert app.conf.task_time_limit < visibility


def test_every_task_in_the_beat_schedule_exists():
    app.loader.import_default_modules()
    missing = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]
    assert missing == []
