"""Sandbox-only hooks (not Peruri's): the CA certificate, the outbox, fault injection."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from sandbox import ca, faults, selectors
from sandbox.gateway import OPERATIONS, api_key_ok, gateway_error
from sandbox.models import FaultConfig, Message


@require_GET
def ca_pem(request: HttpRequest) -> HttpResponse:
    """The sandbox CA's certificate: the one trust root of every signature the sandbox makes."""
    response = HttpResponse(ca.ensure_ca().certificate_pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'inline; filename="peruri-sandbox-ca.pem"'
    return response


def _message_json(message: Message) -> dict[str, object]:
    data: dict[str, object] = {
        "id": message.pk,
        "kind": message.kind,
        "to": message.to,
        "phone": message.phone,
        "subject": message.subject,
        "text": message.body,
        "link": message.link,
        "orderId": str(message.order_id) if message.order_id else None,
        "createdAt": message.created_at.isoformat(),
    }
    if message.otp:
        data["otp"] = message.otp
    return data


@require_GET
def outbox_json(request: HttpRequest) -> JsonResponse:
    to = request.GET.get("to") or None
    messages = selectors.message_list(to=to)
    return JsonResponse({"messages": [_message_json(m) for m in messages]})


@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    to = request.GET.get("to") or ""
    return render(request, "sandbox/outbox.html", {"outbox_messages": selectors.message_list(to=to or None), "to": to})


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
def faults_view(request: HttpRequest) -> HttpResponse:
    """POST sets the fault configuration (JSON), DELETE clears it, GET shows it. Needs the API key."""
    if not api_key_ok(request):
        return gateway_error(request, 401, "Unauthorized application request", path="sandbox/faults")
    if request.method == "DELETE":
        faults.fault_clear()
        return JsonResponse({"active": False})
    if request.method == "POST":
        try:
            config = json.loads(request.body or b"{}")
            saved = faults.fault_set(config=config, operations_known=frozenset(OPERATIONS))
        except (ValueError, UnicodeDecodeError) as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse(faults.fault_as_json(saved))
    return JsonResponse(faults.fault_as_json(FaultConfig.objects.filter(pk=faults.SINGLETON).first()))
