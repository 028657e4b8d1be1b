"""The one exception the sandbox's services raise: a refusal with Peruri's result code."""

from __future__ import annotations

# Result codes used by the sandbox (spec section 4). Kept here so README, services and tests agree.
OK = "0"
INVALID_SYSTEM_ID = "1001"
EMAIL_REGISTERED = "1002"
CUSTOMER_REGISTERED = "1003"
INVALID_NIK = "1004"
CRM_FAILED = "1005"
KYC_REJECTED = "1006"
EMAIL_NOT_ALLOWED = "1007"
INVALID_DATA = "1008"
KYC_PENDING = "1040"
INVALID_VIDEO = "1045"
INVALID_OTP = "01"
EXPIRED_KEY = "02"
ALREADY_SIGNED = "03"
NO_CERTIFICATE = "4001"
WORKER_BUSY = "4003"
WORKER_UNAVAILABLE = "4004"
NOT_FOUND = "4009"
SIGNING_FAILED = "4012"
NO_COORDINATES = "4014"
TOKEN_INVALID = "4026"  # noqa: S105 - a result code, not a secret
FAILED = "F"


class Rejected(Exception):  # noqa: N818 - named after what Peruri does, not an "Error"
    """Peruri answered with a non-"0" resultCode.

    `code` and `desc` are exactly the reply's `resultCode` and `resultDesc`.
    """

    def __init__(self, code: str, desc: str) -> None:
        super().__init__(f"{code}: {desc}")
        self.code = code
        self.desc = desc
