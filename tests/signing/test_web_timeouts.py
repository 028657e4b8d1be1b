"""R1: Get OTP and Signing are called inside the signer's web request, so they wait on Peruri for
SIGNING_WEB_READ_TIMEOUT seconds at most — not the client's 30-60 s. (What happens when a Signing
call times out is tested against the sandbox in tests/documents/test_faults.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from signing.gateway import get_peruri_client

ROOT = Path(__file__).resolve().parents[2]


def test_get_otp_and_signing_use_the_short_web_request_read_timeout():
    config = get_peruri_client().config
    assert settings.SIGNING_WEB_READ_TIMEOUT == 15
    assert config.read_timeout("get_otp") == settings.SIGNING_WEB_READ_TIMEOUT
    assert config.read_timeout("sign") == settings.SIGNING_WEB_READ_TIMEOUT
    # Background calls keep the client's own, longer, timeouts.
    assert config.read_timeout("check_document_status") > settings.SIGNING_WEB_READ_TIMEOUT
    assert config.read_timeout("send_document") > settings.SIGNING_WEB_READ_TIMEOUT


def _timeouts_with(environment: dict[str, str]) -> dict[str, float]:
    code = (
        "import django, json; django.setup();"
        "from signing.gateway import get_peruri_client;"
        "c = get_peruri_client().config;"
        "print(json.dumps({op: c.read_timeout(op) for op in ('get_otp', 'sign')}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **environment}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_explicit_peruri_timeouts_entry_still_wins():
    assert _timeouts_with({"PERURI_TIMEOUTS": json.dumps({"signing": 40})}) == {"get_otp": 15, "sign": 40}
