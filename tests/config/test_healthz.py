from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from config.celery import app as celery_app
from config.tasks import HEARTBEAT_KEY, worker_heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_with_database_and_broker_checked(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"]["database"]["ok"] is True


def test_healthz_shows_how_long_ago_a_worker_answered(client):
    assert client.get("/healthz").json()["checks"]["worker"]["ok"] is False
    worker_heartbeat()
    worker = client.get("/healthz").json()["checks"]["worker"]
    assert worker["ok"] is True
    assert 0 <= worker["last_seen_seconds_ago"] < 5
    cache.set(HEARTBEAT_KEY, time.time() - 3600)
    assert client.get("/healthz").json()["checks"]["worker"]["ok"] is False
