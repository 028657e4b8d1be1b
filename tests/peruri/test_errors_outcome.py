"""`outcome_of` is the one classification of failed calls that the call log and the apps share."""

from __future__ import annotations

from peruri import PeruriPending, PeruriRejected, PeruriTransient, PeruriUnavailable, outcome_of


def test_each_kind_of_failure_has_its_outcome():
    assert outcome_of(PeruriPending("pending", code="1040", description="masih diverifikasi")) == "pending"
    assert outcome_of(PeruriRejected("rejected", code="1006", description="KYC ditolak")) == "rejected"
    assert outcome_of(PeruriTransient("timeout", operation="sendDocument", outcome_unknown=True)) == "unknown"
    assert outcome_of(PeruriTransient("refused", operation="sendDocument", outcome_unknown=False)) == "transient"
    assert outcome_of(PeruriUnavailable("breaker open")) == "unavailable"
