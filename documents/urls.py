from __future__ import annotations

from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="document_list"),
    path("unggah/", views.document_upload, name="document_upload"),
    path("<uuid:public_id>/", views.document_detail, name="document_detail"),
    path("<uuid:public_id>/tempatkan/", views.document_place, name="document_place"),
    path("<uuid:public_id>/kirim/", views.document_send, name="document_send"),
    path("<uuid:public_id>/ulangi/", views.document_retry, name="document_retry"),
    path("<uuid:public_id>/batalkan/", views.document_cancel, name="document_cancel"),
    path("<uuid:public_id>/kirim-tautan/", views.document_resend_link, name="document_resend_link"),
    path("<uuid:public_id>/rekonsiliasi/", views.document_reconcile, name="document_reconcile"),
    path("<uuid:public_id>/berkas.pdf", views.document_file, name="document_file"),
    path("<uuid:public_id>/unduh/", views.document_download, name="document_download"),
]
