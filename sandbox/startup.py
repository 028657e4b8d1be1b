"""Work the sandbox does once when it starts (its CA is created here on first start)."""

from __future__ import annotations


def prepare() -> None:
    """Make sure the sandbox's CA exists. Filled in by the sandbox implementation."""
