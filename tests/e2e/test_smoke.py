"""Foundation smoke journey: staff sign in and switch between Indonesian and English."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_staff_signs_in_and_switches_language(page, app_server, staff_user):
    page.goto(f"{app_server}/akun/masuk/")
    # Bahasa Indonesia is the default language.
    assert page.locator("html").get_attribute("lang") == "id"
    page.fill("#id_username", "staf@example.com")
    page.fill("#id_password", "rahasia-staf-123")
    page.click("main button[type=submit]")
    nav = page.locator("nav.nav")
    nav.get_by_text("Dokumen").wait_for()
    assert nav.get_by_text("Keluar").is_visible()

    page.select_option("#lang-select", "en")
    page.click(".lang button")
    nav.get_by_text("Documents").wait_for()
    assert nav.get_by_text("Sign out").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"

    page.select_option("#lang-select", "id")
    page.click(".lang button")
    nav.get_by_text("Dokumen").wait_for()
