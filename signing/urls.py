from __future__ import annotations

from django.urls import path

from signing import views

app_name = "signing"

urlpatterns = [
    path("", views.my_documents, name="my_documents"),
    path("<uuid:public_id>/", views.document, name="document"),
    path("<uuid:public_id>/otp/", views.otp_request, name="otp_request"),
    path("<uuid:public_id>/tanda-tangani/", views.sign, name="sign"),
    path("<uuid:public_id>/konfirmasi/", views.webview_confirm, name="webview_confirm"),
]
