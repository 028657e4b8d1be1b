"""R18 for documents and signing: known secrets and personal data fed through the whole flow
(upload, send, OTP, a wrong code, signing, web-view callback, download) appear in no log line, no
task message and no page."""

from __future__ import annotations

import base64
import logging
import re

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.urls import reverse

from documents import tasks
from tests.documents.fixtures import create_document, send_document
from tests.documents.helpers import latest_otp


@pytest.fixture
def task_messages(monkeypatch):
    seen = []
    for task in (tasks.document_poll, tasks.document_notify_signer):
        original = task.delay_on_commit

        def spy(*args, _original=original, _name=task.name, **kwargs):
            seen.append((_name, args, kwargs))
            return _original(*args, **kwargs)

        monkeypatch.setattr(task, "delay_on_commit", spy)
    return seen


def test_no_secret_or_personal_data_leaks_from_the_signing_flow(client, caplog, sandbox, staff, signer, task_messages):
    from signing.gateway import get_peruri_client

    caplog.set_level(logging.DEBUG)
    pages = []
    document = send_document(create_document(staff=staff, signer=signer, reason="Rahasia-alasan"), staff)
    client.force_login(signer)
    pages.append(client.post(reverse("signing:otp_request", args=[document.public_id]), follow=True))
    token = cache.get(f"signing:otp:{document.pk}:{signer.pk}")["token"]
    otp = latest_otp(sandbox, signer.email)
    wrong = f"{(int(otp) + 1) % 1_000_000:06d}"
    pages.append(client.post(reverse("signing:sign", args=[document.public_id]), {"otp": wrong}, follow=True))
    pages.append(client.post(reverse("signing:sign", args=[document.public_id]), {"otp": otp}, follow=True))
    pages.append(
        client.post(
            reverse("signing:webview_confirm", args=[document.public_id]),
            {"resultCode": "0", "resultDesc": f"ok {otp} {token}"},
        )
    )
    download = client.get(reverse("documents:document_download", args=[document.public_id]))
    assert download.status_code == 200
    signed = b"".join(download.streaming_content)
    jwt = get_peruri_client().token_store.get()

    secrets = {
        "otp": otp,
        "wrong otp": wrong,
        "otp token": token,
        "api key": django_settings.PERURI_API_KEY,
        "signer e-mail": signer.email,
        "pdf base64": base64.b64encode(document.original.read())[8:48].decode(),
        "signed pdf base64": base64.b64encode(signed[-400:])[:40].decode(),
    }
    if jwt is not None:
        secrets["jwt"] = jwt.token

    # Our logs (the sandbox's own loggers are Peruri's side and excluded).
    lines = [r.getMessage() + " " + str(getattr(r, "args", "")) for r in caplog.records if not r.name.startswith("sandbox")]
    log_text = "\n".join(lines)
    for label, value in secrets.items():
        assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", log_text), f"{label} in logs"
    # Task messages carry ids only.
    assert task_messages and all(all(isinstance(a, int) for a in args) and not kw for _, args, kw in task_messages)
    # Pages never echo the OTP or the token.
    for response in pages:
        body = response.content.decode()
        for label in ("otp", "wrong otp", "otp token", "jwt", "api key"):
            if label in secrets:
                assert not re.search(rf"(?<![0-9A-Za-z]){re.escape(secrets[label])}(?![0-9A-Za-z])", body), label
    # Nor does the document's history.
    history = " ".join(str(e.data) for e in document.events.all())
    for label in ("otp", "wrong otp", "otp token", "jwt", "api key", "pdf base64"):
        if label in secrets:
            assert secrets[label] not in history, label
