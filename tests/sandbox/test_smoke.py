from __future__ import annotations

from tests.sandbox.helpers import Api, signer


def test_it_signs_a_document_end_to_end(api: Api, signer_email: str) -> None:
    order_id = api.send_document(signer_email, signer=[signer(page="2")])
    api.sign(order_id, signer_email)
    status = api.ok("checkDocumentStatus", {"param": {"orderId": order_id}})
    assert status["data"] == {"orderId": order_id, "status": "SIGNED"}
    assert api.download(order_id).startswith(b"%PDF")
