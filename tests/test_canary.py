"""R18 across every flow: one canary run.

Known secret and personal values go through Paraf's own pages exactly as people use them — staff
sign in and invite a person; the person opens the e-mailed link, consents and registers (KTP and
NPWP photos), records the face video, draws the specimen and waits for the certificate; staff
upload, place and send a document; the signer opens the e-mailed link, asks for a code, types a
wrong one, hits a Peruri fault while signing, asks again, signs, the web view reports back, and
the signed copy is downloaded; a stranger and a made-up id get 404s. Everything Paraf writes on
the way is captured:

* every log record of every logger, at DEBUG (message, args, exception text, extras) — except
  the sandbox's own loggers and the sandbox server's request threads, which are Peruri's side;
* every Celery task message (``Task.apply_async`` for every task, and the publish/prerun signals);
* every page, redirect and JSON answer (body and headers), and every e-mail Paraf sends;
* the ``PeruriCall`` audit rows, the enrolment and document history rows, and the error texts kept
  on the enrolment and document rows.

Secrets (API key, JWTs, OTPs, Get OTP tokens, the staff password) may appear in none of them;
sign-in link tokens only in the e-mails that carry them (and on the link's own page). Personal data (KTP, NPWP, phone, address, name, place and date of birth, e-mail,
and slices of the photos', video's and PDF's base64) legitimately appears on pages shown to the
person and to staff, so it is checked in logs, task messages, audit and history rows, and on the
pages a stranger gets. The signing-system HMAC key has no flow in Paraf yet (no ``set_key`` call
outside the client), so it is not part of this run.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tests.documents.helpers import fault_clear, fault_set, last_message_id, latest_otp, make_pdf, outbox
from tests.factories import SignerFactory, StaffFactory
from tests.fixtures_certificates import sample_photo, sample_specimen, sample_webm

# ------------------------------------------------------------------------------ canary values

# 36 characters, like a real gateway key.
API_KEY = "CANARY7f-3a9c-4e5b-9d2e-4f8a6c091d2e"
STAFF_PASSWORD = "CANARY-staff-Pw-5c1e9a"
EMAIL = "kanaria.puspita@example.com"
FULL_NAME = "Kanaria Puspitasari Wirjono"
KTP = "3171016903877319"  # Jakarta Pusat, a woman born 29/03/1987 (day + 40), serial 7319
NPWP = "093847561203948"
PHONE = "081377046219"
ADDRESS = "Jl. Kanari Rahasia No. 77B"
PLACE_OF_BIRTH = "Kanaripura"
# The metadata sample_photo(exif=True) writes into the KTP photo (Paraf strips it, R14).
EXIF_CAMERA = "SecretCameraMaker"
EXIF_GPS = "-6.175392, 106.827153"

# What the person types: separators and +62, normalised by the form.
FORM_KTP = "3171 0169 0387 7319"
FORM_NPWP = "09.384.756.1-203.948"
FORM_PHONE = "+62 813-7704-6219"

PERSONAL = {
    "ktp": KTP,
    "npwp": NPWP,
    "phone": PHONE,
    "phone (no trunk prefix)": PHONE[1:],
    "address": ADDRESS,
    "full name": FULL_NAME,
    "surname": "Wirjono",
    "place of birth": PLACE_OF_BIRTH,
    "date of birth (iso)": "1987-03-29",
    "date of birth (dd/mm/yyyy)": "29/03/1987",
    "date of birth (dd-mm-yyyy)": "29-03-1987",
    "e-mail": EMAIL,
    "e-mail (url-encoded)": EMAIL.replace("@", "%40"),
    "ktp photo exif (camera)": EXIF_CAMERA,
    "ktp photo exif (gps)": EXIF_GPS,
}

# Paraf's own code: its loggers are captured at DEBUG whatever the project's LOGGING says.
FIRST_PARTY = frozenset({"accounts", "certificates", "config", "documents", "peruri", "signing"})
# Log records of these loggers are the sandbox's, i.e. Peruri's side.
SANDBOX_LOGGERS = ("sandbox",)
# The sandbox server (tests/servers.py) answers each request in a "Thread-N (process_request_thread)".
SANDBOX_THREAD = "(process_request_thread)"

_STANDARD_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _pattern(value: str) -> re.Pattern[str]:
    """Digits-only values (OTPs, KTP, NPWP, phone) must stand alone, so that a 6-digit OTP does not
    match inside a timestamp or a longer number; anything else matches anywhere, case-insensitively."""
    if value.isdigit():
        return re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")
    return re.compile(re.escape(value), re.IGNORECASE)


def _b64_slice(data: bytes) -> str:
    """40 base64 characters from the middle of ``data``, aligned so they appear verbatim in the
    base64 of the whole (what goes to Peruri)."""
    offset = (len(data) // 2) // 3 * 3
    return base64.b64encode(data[offset : offset + 30]).decode()


def _distinctive_video() -> bytes:
    """sample_webm() with a marker in its Void element's padding (any bytes are valid there)."""
    video = bytearray(sample_webm(padding=8192))
    marker = b"CANARY-FACE-VIDEO-" * 64
    video[-len(marker) - 16 : -16] = marker
    return bytes(video)


# ------------------------------------------------------------------------------ capture


@dataclass
class Capture:
    logs: list[str] = field(default_factory=list)
    excluded_logs: int = 0
    tasks: list[str] = field(default_factory=list)
    task_args: list[tuple[str, Any, Any]] = field(default_factory=list)
    pages: list[tuple[str, str]] = field(default_factory=list)  # (label, text)
    jwts: set[str] = field(default_factory=set)
    otp_tokens: set[str] = field(default_factory=set)
    paused: bool = False

    @contextmanager
    def harness(self) -> Iterator[None]:
        """The test's own calls to the sandbox (outbox, faults) are not Paraf's doing."""
        self.paused = True
        try:
            yield
        finally:
            self.paused = False


class _Recorder(logging.Handler):
    def __init__(self, capture: Capture) -> None:
        super().__init__(logging.DEBUG)
        self.capture = capture
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if self.capture.paused and threading.current_thread() is threading.main_thread():
            return
        if record.name.split(".")[0] in SANDBOX_LOGGERS or record.threadName.endswith(SANDBOX_THREAD):
            self.capture.excluded_logs += 1
            return
        parts = [record.name, record.levelname]
        try:
            parts.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a broken format still shows its pieces
            parts.append(str(record.msg))
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(logging.Formatter().formatException(record.exc_info))
            exc: BaseException | None = record.exc_info[1]
            seen = 0
            while exc is not None and seen < 10:  # what an error reporter would show of each link
                parts.append(repr(exc.args))
                parts.append(repr({k: v for k, v in vars(exc).items() if not k.startswith("__")}))
                exc = exc.__cause__ or exc.__context__
                seen += 1
        for text in (record.exc_text, record.stack_info):
            if text:
                parts.append(text)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_KEYS}
        if extras:
            parts.append(repr(extras))
        with self.lock_:
            self.capture.logs.append(" | ".join(parts))


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    from celery.app.task import Task
    from celery.signals import before_task_publish, task_prerun
    from kombu.utils.json import dumps

    from peruri import PeruriClient
    from signing.gateway import CacheTokenStore

    cap = Capture()

    # Logs: every logger at DEBUG, into our handler (also on loggers that do not propagate) —
    # except third-party loggers whose level the project's LOGGING pins on purpose: those stay as a
    # LOG_LEVEL=DEBUG deployment would run them. Paraf's own loggers are at DEBUG whatever LOGGING says.
    recorder = _Recorder(cap)
    root = logging.getLogger()
    pinned = tuple(name for name in django_settings.LOGGING.get("loggers", {}) if name.split(".")[0] not in FIRST_PARTY)
    loggers = [root] + [
        lg
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger) and not any(name == p or name.startswith(p + ".") for p in pinned)
    ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    attached = [
        lg for lg in (root, *(logging.getLogger(p) for p in pinned), *loggers) if lg is root or not lg.propagate
    ]
    logging.disable(logging.NOTSET)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    for lg in dict.fromkeys(attached):
        lg.addHandler(recorder)

    # Task messages: every apply_async (delay, delay_on_commit end there), as the broker would get
    # them (JSON), plus what the publish and prerun signals see.
    original_apply_async = Task.apply_async

    def apply_async(self: Any, args: Any = None, kwargs: Any = None, *rest: Any, **options: Any) -> Any:
        cap.task_args.append((self.name, args, kwargs))
        cap.tasks.append(f"{self.name} {dumps([args, kwargs])} {options!r}")
        return original_apply_async(self, args, kwargs, *rest, **options)

    monkeypatch.setattr(Task, "apply_async", apply_async)

    def on_publish(sender: Any = None, body: Any = None, headers: Any = None, **kw: Any) -> None:
        cap.tasks.append(f"publish {sender} {body!r} {headers!r}")

    def on_prerun(sender: Any = None, args: Any = None, kwargs: Any = None, **kw: Any) -> None:
        cap.tasks.append(f"prerun {getattr(sender, 'name', sender)} {args!r} {kwargs!r}")

    before_task_publish.connect(on_publish, weak=False)
    task_prerun.connect(on_prerun, weak=False)

    # Every JWT the token store is given and every Get OTP token Peruri returns: secrets to look for.
    original_set = CacheTokenStore.set

    def token_set(self: Any, token: str, expires_at: Any) -> None:
        cap.jwts.add(token)
        original_set(self, token, expires_at)

    monkeypatch.setattr(CacheTokenStore, "set", token_set)
    original_get_otp = PeruriClient.get_otp

    def get_otp(self: Any, **kwargs: Any) -> Any:
        challenge = original_get_otp(self, **kwargs)
        cap.otp_tokens.add(challenge.token)
        return challenge

    monkeypatch.setattr(PeruriClient, "get_otp", get_otp)

    try:
        yield cap
    finally:
        before_task_publish.disconnect(on_publish)
        task_prerun.disconnect(on_prerun)
        for lg in attached:
            lg.removeHandler(recorder)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


def recording(client: Client, cap: Capture, who: str) -> Client:
    """Record every response the client gets, redirects it follows included."""
    original = client.request

    def request(**environ: Any) -> Any:
        response = original(**environ)
        path = environ.get("PATH_INFO", "")
        # The PDFs stream: the signed copy is checked separately.
        body = "<streamed>" if getattr(response, "streaming", False) else response.content.decode("utf-8", "replace")
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        cap.pages.append(
            (f"{who} {environ.get('REQUEST_METHOD')} {path} → {response.status_code}", f"{headers}\n\n{body}")
        )
        return response

    client.request = request  # type: ignore[method-assign]
    return client


def _link_path(body: str) -> str:
    link = re.search(r"https?://\S+?/akun/tautan/\S+?/", body)
    assert link, body
    return "/" + link.group(0).split("/", 3)[3]


def _follow_signin_link(client: Client, body: str) -> Any:
    path = _link_path(body)
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302, response.status_code
    return response


# ------------------------------------------------------------------------------ the test


@pytest.fixture
def canary_settings(settings: Any, sandbox: str) -> Iterator[str]:
    settings.PERURI_API_KEY = API_KEY
    settings.SANDBOX_API_KEY = API_KEY
    settings.LANGUAGE_CODE = "en"
    settings.SIGNING_OTP_RESEND_SECONDS = 0
    settings.SIGNING_UNKNOWN_OUTCOME_GRACE = 0  # settle the faulted Signing call at the next look
    settings.PERURI_BREAKER_THRESHOLD = 1000
    settings.PERURI_ENROLMENT_MODE = "native"
    settings.PERURI_SIGNING_MODE = "native"
    settings.SANDBOX_CERT_DELAY = 1  # the certificate needs the poller
    with translation.override("en"):
        yield sandbox
    fault_clear(sandbox)


def test_no_secret_or_personal_data_leaks_from_any_flow(canary_settings, capture, client):
    from certificates import tasks as certificate_tasks
    from certificates.identity import clean_photo
    from certificates.models import Enrolment, EnrolmentEvent
    from documents import tasks as document_tasks
    from documents.models import Document, DocumentEvent
    from signing.gateway import get_peruri_client
    from signing.models import PeruriCall

    sandbox = canary_settings
    cap = capture
    E, D = Enrolment.Status, Document.Status
    person = recording(client, cap, "person")
    staff = recording(Client(), cap, "staff")
    stranger = recording(Client(), cap, "stranger")
    with cap.harness():  # factory_boy logs its arguments at DEBUG: test set-up, not Paraf
        StaffFactory(email="staf.kanari@example.com", password=STAFF_PASSWORD)

    with cap.harness():  # making the sample files (Pillow logs the EXIF it writes at DEBUG)
        ktp_photo = sample_photo(size=(800, 500), exif=True)
        npwp_photo = sample_photo(size=(700, 420))
        video = _distinctive_video()
        specimen = sample_specimen()
        pdf = make_pdf(2, text="Perjanjian kanari")
    assert EXIF_CAMERA.encode() in ktp_photo and EXIF_GPS.encode() in ktp_photo

    # ---- staff sign in and invite the person
    response = staff.post(
        reverse("accounts:login"), {"username": "staf.kanari@example.com", "password": STAFF_PASSWORD}
    )
    assert response.status_code == 302
    assert staff.get(reverse("certificates:enrolment_invite")).status_code == 200
    response = staff.post(
        reverse("certificates:enrolment_invite"),
        {"email": EMAIL, "full_name": FULL_NAME, "license_type": "client", "mode": "native"},
        follow=True,
    )
    assert response.status_code == 200
    enrolment = Enrolment.objects.get(email=EMAIL)

    # ---- the person: sign-in link, consent + registration (one mistake first), video, specimen
    invitation = [m for m in mail.outbox if EMAIL in m.to][-1]
    signin_tokens = {_link_path(invitation.body).rstrip("/").rsplit("/", 1)[-1]}
    _follow_signin_link(person, invitation.body)
    assert person.get(reverse("certificates:my_enrolment")).status_code == 200
    assert person.get(reverse("certificates:register")).status_code == 200
    form = {
        "full_name": FULL_NAME, "phone": FORM_PHONE, "ktp_number": FORM_KTP, "npwp_number": FORM_NPWP,
        "address": ADDRESS, "city": "Jakarta Pusat", "province": "DKI Jakarta", "gender": "F",
        "place_of_birth": PLACE_OF_BIRTH, "date_of_birth": "1987-03-29", "consent": "on",
    }  # fmt: skip

    def photos() -> dict[str, Any]:
        return {
            "ktp_photo": SimpleUploadedFile("ktp.jpg", ktp_photo, content_type="image/jpeg"),
            "npwp_photo": SimpleUploadedFile("npwp.jpg", npwp_photo, content_type="image/jpeg"),
        }

    response = person.post(reverse("certificates:register"), {**form, **photos(), "phone": "12345"})
    assert response.status_code == 200 and "phone" in response.context["form"].errors  # the error path
    response = person.post(reverse("certificates:register"), {**form, **photos()})
    assert response.status_code == 302
    enrolment.refresh_from_db()
    assert enrolment.status == E.AWAITING_VIDEO, (enrolment.status, enrolment.last_error)
    assert (enrolment.ktp_number, enrolment.npwp_number, enrolment.phone) == (KTP, NPWP, PHONE)

    assert person.get(reverse("certificates:video")).status_code == 200
    response = person.post(
        reverse("certificates:video"),
        {"video": SimpleUploadedFile("wajah.webm", video, content_type="video/webm")},
        headers={"Accept": "application/json"},
    )
    assert response.json() == {"redirect": reverse("certificates:my_enrolment")}
    assert person.get(reverse("certificates:specimen")).status_code == 200
    drawn = "data:image/png;base64," + base64.b64encode(specimen).decode()
    assert person.post(reverse("certificates:specimen"), {"specimen_data": drawn}).status_code == 302

    # ---- poll until issued: the person's page refreshes, the beat's dispatcher does the work
    deadline = time.monotonic() + 30
    while True:
        assert person.get(reverse("certificates:my_enrolment")).status_code == 200
        enrolment.refresh_from_db()
        if enrolment.status == E.ISSUED:
            break
        assert time.monotonic() < deadline, (enrolment.status, enrolment.last_error)
        time.sleep(0.3)
        Enrolment.objects.filter(pk=enrolment.pk, next_poll_at__isnull=False).update(next_poll_at=timezone.now())
        certificate_tasks.enrolment_poll_due.delay()

    # ---- staff look at the enrolment (identity data shown to staff is allowed, and recorded)
    assert staff.get(reverse("certificates:enrolment_list")).status_code == 200
    assert staff.get(reverse("certificates:enrolment_detail", args=[enrolment.pk])).status_code == 200
    assert staff.get(reverse("certificates:enrolment_identity", args=[enrolment.pk])).status_code == 200

    # ---- staff upload, place and send a document
    assert staff.get(reverse("documents:document_upload")).status_code == 200
    response = staff.post(
        reverse("documents:document_upload"),
        {
            "file": SimpleUploadedFile("Perjanjian Kanari.pdf", pdf, content_type="application/pdf"),
            "title": "Perjanjian kerja sama",
            "signer_email": EMAIL,
            "signer_name": FULL_NAME,
        },
        follow=True,
    )
    assert response.status_code == 200
    document = Document.objects.get(signer__email=EMAIL)
    response = staff.post(
        reverse("documents:document_place", args=[document.public_id]),
        {
            "placed_by": "staff",
            "page": 1,
            "lower_left_x": 380,
            "lower_left_y": 60,
            "upper_right_x": 540,
            "upper_right_y": 130,
            "visible": "on",
            "certification_level": "NOT_CERTIFIED",
            "location": "Jakarta",
            "reason": "Setuju",
            "send": "1",
        },
        follow=True,
    )
    assert response.status_code == 200
    document.refresh_from_db()
    assert document.status == D.AWAITING_SIGNATURE, (document.status, document.last_error)

    # ---- the signer opens the e-mailed link
    request_mail = [m for m in mail.outbox if EMAIL in m.to][-1]
    assert request_mail is not invitation
    signin_tokens.add(_link_path(request_mail.body).rstrip("/").rsplit("/", 1)[-1])
    person.logout()
    response = _follow_signin_link(person, request_mail.body)
    assert response["Location"] == reverse("signing:document", args=[document.public_id])
    assert person.get(response["Location"]).status_code == 200

    # ---- someone else's document, and an id that does not exist: 404, no Peruri call
    calls_before = PeruriCall.objects.count()
    with cap.harness():
        stranger_user = SignerFactory(email="orang.lain@example.com")
    stranger.force_login(stranger_user)
    for name, method in (
        ("signing:document", "get"),
        ("signing:otp_request", "post"),
        ("signing:sign", "post"),
        ("signing:webview_confirm", "post"),
        ("documents:document_download", "get"),
        ("documents:document_file", "get"),
        ("documents:document_detail", "get"),
    ):
        url = reverse(name, args=[document.public_id])
        response = getattr(stranger, method)(url, {"otp": "123456"} if method == "post" else None)
        assert response.status_code == 404, (name, response.status_code)
    assert person.get(reverse("signing:document", args=[uuid.uuid4()])).status_code == 404
    assert PeruriCall.objects.count() == calls_before

    # ---- a code, a wrong code, a fault while signing, a new code, the right code
    doc_url = reverse("signing:document", args=[document.public_id])
    response = person.post(reverse("signing:otp_request", args=[document.public_id]), follow=True)
    assert b"6-digit code" in response.content
    with cap.harness():
        first_otp = latest_otp(sandbox, EMAIL)
    wrong = f"{(int(first_otp) + 1) % 1_000_000:06d}"
    response = person.post(reverse("signing:sign", args=[document.public_id]), {"otp": wrong}, follow=True)
    assert b"not right" in response.content

    with cap.harness():
        fault_set(sandbox, kinds=["http500"], operations=["signing"], count=1, when="before")
    response = person.post(reverse("signing:sign", args=[document.public_id]), {"otp": first_otp}, follow=True)
    assert response.status_code == 200 and b"could not confirm your signature" in response.content
    with cap.harness():
        fault_clear(sandbox)
    for _ in range(12):  # the beat's dispatcher settles the unknown outcome by Check Document Status
        document.refresh_from_db()
        if document.status == D.AWAITING_SIGNATURE:
            break
        Document.objects.filter(pk=document.pk).update(next_poll_at=timezone.now())
        document_tasks.document_poll_due.delay()
    assert document.status == D.AWAITING_SIGNATURE, (document.status, document.last_error)
    assert person.get(doc_url).status_code == 200

    with cap.harness():
        after = last_message_id(sandbox, EMAIL)
    person.post(reverse("signing:otp_request", args=[document.public_id]), follow=True)
    with cap.harness():
        second_otp = latest_otp(sandbox, EMAIL, after=after)
    response = person.post(reverse("signing:sign", args=[document.public_id]), {"otp": second_otp}, follow=True)
    assert response.status_code == 200
    document.refresh_from_db()
    assert document.status == D.SIGNED, (document.status, document.last_error)

    # ---- the embedded web view reports back (its free text carries secrets), then a malformed one
    token_text = " ".join(sorted(cap.otp_tokens))
    response = person.post(
        reverse("signing:webview_confirm", args=[document.public_id]),
        {
            "kind": "signing",
            "func": "signDocument",
            "resultCode": "0",
            "resultDesc": f"ok {second_otp} {token_text}"[:255],
        },
    )
    assert response.status_code == 200
    response = person.post(
        reverse("signing:webview_confirm", args=[document.public_id]),
        json.dumps({"message": {"resultCode": "0", "resultDesc": f"{first_otp} {API_KEY} " * 12}}),
        content_type="application/json",
    )
    assert response.status_code == 400  # too long: refused, and not echoed

    # ---- download, and the staff's view of the document
    download = person.get(reverse("documents:document_download", args=[document.public_id]))
    assert download.status_code == 200
    signed = b"".join(download.streaming_content)
    assert signed.startswith(b"%PDF-")
    assert staff.get(reverse("documents:document_detail", args=[document.public_id])).status_code == 200
    assert staff.get(reverse("documents:document_list"), {"q": "Perjanjian"}).status_code == 200
    assert staff.get(reverse("certificates:enrolment_detail", args=[enrolment.pk])).status_code == 200

    # ================================================================ what must not leak
    with cap.harness():
        sent = outbox(sandbox, EMAIL)
    otps = {str(m["otp"]) for m in sent if m.get("otp")}
    assert {first_otp, second_otp} <= otps
    stored = get_peruri_client().token_store.get()
    if stored is not None:
        cap.jwts.add(stored.token)
    assert cap.jwts, "no JWT was fetched: the run did not reach Peruri"
    assert len(cap.otp_tokens) >= 2

    secrets: dict[str, str] = {"api key": API_KEY, "wrong otp": wrong}
    for i, otp in enumerate(sorted(otps)):
        secrets[f"otp #{i}"] = otp
    for i, token in enumerate(sorted(cap.otp_tokens)):
        secrets[f"get-otp token #{i}"] = token
    for i, jwt in enumerate(sorted(cap.jwts)):
        secrets[f"jwt #{i}"] = jwt
        for j, part in enumerate(jwt.split(".")[1:], start=1):
            if len(part) >= 16:
                secrets[f"jwt #{i} segment {j}"] = part
    secrets["staff password"] = STAFF_PASSWORD
    # Sign-in link tokens: in the e-mails that carry them, nowhere else.
    links = {f"sign-in link token #{i}": token for i, token in enumerate(sorted(signin_tokens))}
    with cap.harness():  # decoding the photos here again is the test's doing
        payloads = {
            "ktp photo base64": _b64_slice(clean_photo(ktp_photo)),
            "npwp photo base64": _b64_slice(clean_photo(npwp_photo)),
            "specimen base64": _b64_slice(clean_photo(specimen, keep_alpha=True)),
            "video base64": _b64_slice(video),
            "video bytes": "CANARY-FACE-VIDEO",
            "pdf base64": _b64_slice(pdf),
            "signed pdf base64": _b64_slice(signed),
        }

    log_text = "\n".join(cap.logs)
    task_text = "\n".join(cap.tasks)
    # Not the e-mail column: the staff-only audit field by design (R17's erasure blanks it).
    peruri_rows = "\n".join(
        " ".join(str(v) for k, v in row.items() if k != "email") for row in PeruriCall.objects.values()
    )
    history = "\n".join(
        [str(e) for e in EnrolmentEvent.objects.values()] + [str(e) for e in DocumentEvent.objects.values()]
    )
    error_texts = "\n".join(
        [" ".join(map(str, r)) for r in Enrolment.objects.values_list("last_error", "last_result_desc")]
        + [" ".join(map(str, r)) for r in Document.objects.values_list("last_error", "peruri_status")]
    )
    mails = "\n".join(f"{m.subject}\n{m.body}\n{getattr(m, 'alternatives', '')}" for m in mail.outbox)
    stranger_pages = "\n".join(text for label, text in cap.pages if label.startswith("stranger"))

    # The capture saw what it claims to have seen.
    assert len(cap.logs) > 20, "the log capture caught (almost) nothing"
    assert any(line.startswith("peruri ") for line in cap.logs), "no log line of the Peruri client"
    assert PeruriCall.objects.filter(operation="sign").count() >= 3
    assert {"certificates.tasks.enrolment_advance", "documents.tasks.document_poll"} <= {n for n, _, _ in cap.task_args}
    assert len(cap.pages) > 40

    leaks: list[str] = []

    def look(where: str, text: str, values: dict[str, str]) -> None:
        for label, value in values.items():
            match = _pattern(value).search(text)
            if match:
                around = text[max(0, match.start() - 160) : match.end() + 80].replace("\n", " ⏎ ")
                leaks.append(f"{label} in {where}: …{around}…")

    everything = {**secrets, **links, **PERSONAL, **payloads}
    look("logs", log_text, everything)
    look("task messages", task_text, everything)
    look("PeruriCall rows", peruri_rows, everything)
    look("enrolment/document history", history, everything)
    look("error texts on enrolment/document rows", error_texts, {**secrets, **links, **payloads})
    look("Paraf's e-mails", mails, secrets)
    look("pages a stranger got", stranger_pages, {**secrets, **links, **PERSONAL})
    for label, text in cap.pages:
        # A sign-in page carries its own URL (the language form's "next"): that one token is allowed there.
        look(f"page {label}", text, {**secrets, **{k: v for k, v in links.items() if v not in label}})
    look("signed PDF", signed.decode("latin-1"), {k: v for k, v in secrets.items() if not v.isdigit()})
    assert not leaks, "R18 leak(s):\n" + "\n".join(leaks)

    # R8: task arguments are ids only.
    bad = [
        (name, args, kwargs)
        for name, args, kwargs in cap.task_args
        if kwargs or not all(isinstance(a, int) for a in args or ())
    ]
    assert not bad, bad
