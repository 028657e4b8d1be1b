"""Fault injection at run time, shared by every thread and process through the database."""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.http import HttpRequest

from sandbox.models import FaultConfig

KINDS = ("http500", "gateway_exception", "read_timeout", "connection_reset", "malformed_json")
SINGLETON = 1


class InvalidFaultConfig(ValueError):
    pass


@dataclass(frozen=True)
class Decision:
    latency_ms: int
    kind: str | None
    when: str
    hang_seconds: float


def fault_set(*, config: Mapping[str, Any], operations_known: frozenset[str]) -> FaultConfig:
    """Replaces the fault configuration. Raises InvalidFaultConfig with a readable message."""
    if not isinstance(config, Mapping):
        raise InvalidFaultConfig("body must be a JSON object")
    unknown = set(config) - {"rate", "latency_ms", "kinds", "operations", "count", "when", "hang_seconds"}
    if unknown:
        raise InvalidFaultConfig(f"unknown fields: {', '.join(sorted(unknown))}")
    rate = config.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise InvalidFaultConfig("rate must be a number between 0 and 1")
    latency = config.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 600_000:
        raise InvalidFaultConfig("latency_ms must be an integer between 0 and 600000")
    kinds = config.get("kinds", [])
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
        raise InvalidFaultConfig(f"kinds must be a list of: {', '.join(KINDS)}")
    operations = config.get("operations") or []
    if not isinstance(operations, list) or any(o not in operations_known for o in operations):
        raise InvalidFaultConfig(f"operations must be a list of: {', '.join(sorted(operations_known))}")
    count = config.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise InvalidFaultConfig("count must be a non-negative integer or null")
    when = config.get("when", FaultConfig.When.BEFORE)
    if when not in FaultConfig.When.values:
        raise InvalidFaultConfig('when must be "before" or "after"')
    hang = config.get("hang_seconds", 35.0)
    if isinstance(hang, bool) or not isinstance(hang, int | float) or not 0 <= hang <= 600:
        raise InvalidFaultConfig("hang_seconds must be a number between 0 and 600")
    FaultConfig.objects.filter(pk=SINGLETON).delete()
    return FaultConfig.objects.create(
        pk=SINGLETON,
        rate=float(rate),
        latency_ms=latency,
        kinds=list(kinds),
        operations=list(operations),
        remaining=count,
        when=when,
        hang_seconds=float(hang),
    )


def fault_clear() -> None:
    FaultConfig.objects.filter(pk=SINGLETON).delete()


def fault_as_json(config: FaultConfig | None) -> dict[str, Any]:
    if config is None:
        return {"active": False}
    return {
        "active": True,
        "rate": config.rate,
        "latency_ms": config.latency_ms,
        "kinds": config.kinds,
        "operations": config.operations,
        "count": config.remaining,
        "when": config.when,
        "hang_seconds": config.hang_seconds,
        "triggered": config.triggered,
    }


def fault_decide(*, operation: str) -> Decision | None:
    """What to do to this call: added latency and maybe one fault (claimed atomically by count)."""
    config = FaultConfig.objects.filter(pk=SINGLETON).first()
    if config is None or (config.operations and operation not in config.operations):
        return None
    kind = None
    if config.kinds and random.random() < config.rate:  # noqa: S311 - not security relevant
        qs = FaultConfig.objects.filter(pk=SINGLETON)
        if config.remaining is not None:
            qs = qs.filter(remaining__gt=0)
            claimed = qs.update(remaining=F("remaining") - 1, triggered=F("triggered") + 1)
        else:
            claimed = qs.update(triggered=F("triggered") + 1)
        if claimed:
            kind = random.choice(config.kinds)  # noqa: S311
    if kind is None and not config.latency_ms:
        return None
    return Decision(latency_ms=config.latency_ms, kind=kind, when=config.when, hang_seconds=config.hang_seconds)


def drop_connection(request: HttpRequest) -> bool:
    """Closes the client's TCP connection without a reply. False when the server hides the socket."""
    sock = _client_socket(request)
    if sock is None:
        return False
    try:
        # Linger 0: the final close sends RST rather than a graceful FIN where the OS allows it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


def _client_socket(request: HttpRequest) -> socket.socket | None:
    sock = request.META.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        return sock
    stream: Any = request.META.get("wsgi.input")
    for _ in range(5):  # Django's LimitedStream(s) around the server's rfile (a socket makefile)
        if stream is None:
            return None
        raw = getattr(stream, "raw", None)
        if raw is not None:
            sock = getattr(raw, "_sock", None)
            return sock if isinstance(sock, socket.socket) else None
        read = getattr(stream, "_read", None)  # LimitedStream keeps only the bound `read`
        stream = getattr(read, "__self__", None) or getattr(stream, "stream", None)
    return None
