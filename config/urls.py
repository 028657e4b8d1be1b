from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts.views import home
from config import views

admin.site.site_header = _("Paraf administration")
admin.site.site_title = _("Paraf")

urlpatterns = [
    path("", home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("akun/", include("accounts.urls")),
    path("sertifikat/", include("certificates.urls")),
    path("dokumen/", include("documents.urls")),
    path("tanda-tangan/", include("signing.urls")),
    path("admin/", admin.site.urls),
]

if settings.MAILBOX_PAGE_ENABLED:
    urlpatterns.append(path("dev/mail/", views.mailbox, name="mailbox"))
