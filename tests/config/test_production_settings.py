from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "paraf.example.co.id",
    "PERURI_API_KEY": "00000000-1111-2222-3333-444444444444",
    "PERURI_SYSTEM_ID": "PARAF",
    "PERURI_BASE_URL": "https://apg.peruri.co.id:9055/gateway/",
    "PARAF_FIELD_ENCRYPTION_KEYS": "9Lr3J4M1lE8dW9n3w1o0Zq2Wc0b0v3x0y1z2a3b4c5d=",
}


def _manage(*args: str, drop: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PERURI_", "PARAF_"))}
    env.update(PRODUCTION_ENV)
    if drop:
        env.pop(drop)
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_each_secret():
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "PERURI_API_KEY", "PERURI_SYSTEM_ID"):
        result = _manage("check", drop=name)
        assert result.returncode != 0
        assert name in result.stderr
