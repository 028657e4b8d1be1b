"""The consent text shown before any identity data leaves Paraf (UU PDP 27/2022).

Change the wording → bump CONSENT_VERSION: each Consent row keeps the version and a hash of the
exact text the person saw, in their language.
"""

from __future__ import annotations

import hashlib

from django.utils.translation import gettext as _

CONSENT_VERSION = "2026-11-v1"


def consent_paragraphs() -> list[str]:
    return [
        _(
            "To issue you a digital certificate, Paraf sends your name, e-mail address, phone number, "
            "KTP number (NIK) and KTP photo, your NPWP and its photo if you give them, your address, "
            "gender, place and date of birth to Perum Peruri, the certification authority."
        ),
        _(
            "For identity verification (e-KYC) you record a short video of your face. It is biometric "
            "data: Peruri compares it with the national population registry (Dukcapil)."
        ),
        _(
            "Paraf keeps your KTP and NPWP numbers encrypted. Your photos, face video and signature "
            "specimen are deleted from Paraf as soon as Peruri has accepted them, or after "
            "%(days)s days if the registration is not completed."
        ),
        _(
            "You may ask to see a copy of the identity data Paraf holds about you, or to have it "
            "erased, at any time. Without this consent no certificate can be issued."
        ),
    ]


def consent_text(*, retention_days: int) -> str:
    return "\n\n".join(p % {"days": retention_days} if "%(days)s" in p else p for p in consent_paragraphs())


def consent_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
