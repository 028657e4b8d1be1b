from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.services import SignInLinkInvalid, signin_link_consume, signin_link_peek


@never_cache
@require_http_methods(["GET", "POST"])
def signin_link(request: HttpRequest, token: str) -> HttpResponse:
    """Open an e-mailed sign-in link.

    GET only shows a button: mail scanners that prefetch links must not use up a single-use
    link. The POST (with CSRF) consumes it and signs the person in.
    """
    try:
        link = signin_link_peek(token=token) if request.method == "GET" else signin_link_consume(token=token)
    except SignInLinkInvalid:
        return render(request, "accounts/signin_link_invalid.html", status=410)
    if request.method == "GET":
        return render(request, "accounts/signin_link.html", {"link": link})
    login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, _("You are signed in."))
    return redirect(link.next_url or "home")


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
