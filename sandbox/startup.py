"""Work the sandbox does once when it starts (its CA is created here on first start)."""

from __future__ import annotations


def prepare() -> None:
    """Make sure the sandbox's CA exists (created once under SANDBOX_DATA_DIR, then reused)."""
    from sandbox import ca

    ca.ensure_ca()
