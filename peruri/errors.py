"""One exception hierarchy that tells the caller whether a retry can help.

::

    PeruriError
    ├── PeruriConfigError      the client is misconfigured (missing key, unknown endpoint...)
    ├── PeruriAuthError        gateway "Unauthorized" even after one JWT refresh
    ├── PeruriTransient        timeout, connection error, HTTP 5xx, non-auth gateway error, 4003/4004
    │   └── PeruriUnavailable  a circuit breaker is open: the call was not attempted
    ├── PeruriRejected         HTTP reply with resultCode != "0" (keeps code and description)
    │   └── PeruriPending      resultCode 1040: Peruri is still verifying — not a failure
    └── PeruriContractError    a "0" reply without the data it must carry, or an unusable body

Two attributes drive what a caller does next:

``retryable``
    The same call may be sent again later and can succeed. Never true when the outcome is unknown.
``outcome_unknown``
    The request may have been applied by Peruri (read timeout or connection reset after sending,
    HTTP 5xx, a "0" reply missing its data...). Do **not** re-send a create/sign call: reconcile
    through the read operations (check status / certificate) first. Only ever true for operations
    that create or sign something.
"""

from __future__ import annotations


class PeruriError(Exception):
    """Root of every error raised by :mod:`peruri`."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        http_status: int | None = None,
        code: str | None = None,
        description: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.http_status = http_status
        self.code = code
        self.description = description
        self.outcome_unknown = outcome_unknown

    @property
    def retryable(self) -> bool:
        """True when sending the same request again later can succeed and is safe."""
        return False

    def __str__(self) -> str:
        return self.message


class PeruriConfigError(PeruriError):
    """The client cannot work as configured (missing API key, unknown endpoint name, bad URL...)."""


class PeruriAuthError(PeruriError):
    """The gateway answered "Unauthorized" even after the JWT was refreshed once.

    Usually a wrong API key or system id: a retry does not help until the configuration changes.
    """


class PeruriTransient(PeruriError):
    """A temporary failure: timeout, connection error, HTTP 5xx, non-auth gateway error, 4003/4004.

    ``outcome_unknown`` is True when a create/sign request may have been applied (read timeout,
    reset after sending, 5xx): reconcile before sending it again. Otherwise ``retryable`` is True.
    """

    @property
    def retryable(self) -> bool:
        return not self.outcome_unknown


class PeruriUnavailable(PeruriTransient):
    """Peruri is considered down (a circuit breaker is open): the request was not sent."""


class PeruriRejected(PeruriError):
    """Peruri answered with a resultCode other than "0".

    ``code`` and ``description`` keep Peruri's raw values. ``description`` is sometimes an
    unexpanded template such as ``%docSigningOutput/errorMessage%`` — always show the code too.
    Unknown codes are permanent failures.
    """

    code: str
    description: str

    def __init__(
        self,
        message: str,
        *,
        code: str,
        description: str,
        operation: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, operation=operation, http_status=http_status, code=code, description=description)

    @property
    def pending(self) -> bool:
        """True when Peruri has not finished (resultCode 1040): poll later, do not re-send."""
        return False

    @property
    def description_is_template(self) -> bool:
        """True when ``description`` is an unexpanded server template like ``%a/b%``."""
        d = self.description.strip()
        return len(d) > 2 and d.startswith("%") and d.endswith("%")


class PeruriPending(PeruriRejected):
    """resultCode 1040: the e-KYC video is still being verified. Not a failure.

    Do not re-send the video; poll Check Certificate later.
    """

    @property
    def pending(self) -> bool:
        return True


class PeruriContractError(PeruriError):
    """Peruri's reply cannot be used: a "0" reply missing required data (orderId, base64Document,
    token, jwt), a download that is not a PDF, a body that is too large.

    For create/sign operations ``outcome_unknown`` is True: the operation probably happened.
    """
