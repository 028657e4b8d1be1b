from __future__ import annotations

from django.urls import path

from certificates import views

app_name = "certificates"

urlpatterns = [
    # The person (their own enrolment only: no id in these URLs).
    path("saya/", views.my_enrolment, name="my_enrolment"),
    path("saya/pendaftaran/", views.register, name="register"),
    path("saya/video/", views.video, name="video"),
    path("saya/spesimen/", views.specimen, name="specimen"),
    path("saya/aktivasi/", views.activation, name="activation"),
    path("saya/aktivasi/konfirmasi/", views.activation_confirm, name="activation_confirm"),
    path("saya/periksa/", views.check_now, name="check_now"),
    path("saya/tautkan/", views.link_existing, name="link_existing"),
    path("saya/aktivasi/ulang/", views.reopen_webview, name="reopen_webview"),
    # Partner staff.
    path("", views.enrolment_list, name="enrolment_list"),
    path("undang/", views.enrolment_invite, name="enrolment_invite"),
    path("<int:pk>/", views.enrolment_detail, name="enrolment_detail"),
    path("<int:pk>/ulangi/", views.enrolment_retry, name="enrolment_retry"),
    path("<int:pk>/undang-ulang/", views.enrolment_resend, name="enrolment_resend"),
    path("<int:pk>/isi/", views.enrolment_prefill, name="enrolment_prefill"),
    path("<int:pk>/identitas/", views.enrolment_identity, name="enrolment_identity"),
    path("<int:pk>/identitas/<str:field>/", views.enrolment_identity_file, name="enrolment_identity_file"),
]
