"""placement.js: the box the user drags becomes the right PDF points on every kind of page.

The expected values come from an independent model of the page geometry (below), not from
pdf.js: the box's on-screen rectangle is read from the DOM and mapped by hand through the page's
/Rotate and CropBox, then compared with what the widget wrote into the hidden inputs.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import NameObject, NumberObject, RectangleObject

pytestmark = pytest.mark.e2e

FIELDS = ["lower_left_x", "lower_left_y", "upper_right_x", "upper_right_y"]


@dataclass(frozen=True)
class Geometry:
    media: tuple[float, float, float, float]
    crop: tuple[float, float, float, float] | None = None
    rotate: int = 0

    @property
    def view(self) -> tuple[float, float, float, float]:
        return self.crop or self.media

    @property
    def display_size(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.view
        w, h = x1 - x0, y1 - y0
        return (h, w) if self.rotate in (90, 270) else (w, h)

    def to_user(self, u: float, v: float) -> tuple[float, float]:
        """A point on the page as displayed (points, from its top-left, v down) -> user space."""
        x0, y0, x1, y1 = self.view
        if self.rotate == 0:
            return x0 + u, y1 - v
        if self.rotate == 90:  # turned clockwise: the left edge is on top, bottom-left at top-left
            return x0 + v, y0 + u
        if self.rotate == 180:
            return x1 - u, y0 + v
        return x1 - v, y1 - u  # 270

    def rect_for(self, u: float, v: float, w: float, h: float) -> dict[str, int]:
        corners = [self.to_user(a, b) for a in (u, u + w) for b in (v, v + h)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        return {
            "lower_left_x": round(min(xs)), "lower_left_y": round(min(ys)),
            "upper_right_x": round(max(xs)), "upper_right_y": round(max(ys)),
        }


PAGES = {
    "plain": Geometry(media=(0, 0, 600, 800)),
    "rotate90": Geometry(media=(0, 0, 600, 800), rotate=90),
    "cropbox-offset": Geometry(media=(0, 0, 700, 900), crop=(50, 100, 650, 850)),
    "rotate180-negative-mediabox": Geometry(media=(-300, -400, 300, 400), rotate=180),
    "rotate270-offset-media-and-crop": Geometry(media=(100, 200, 800, 1100), crop=(150, 250, 750, 1050), rotate=270),
    "rotate90-cropbox-offset": Geometry(media=(0, 0, 842, 595), crop=(21, 33, 821, 583), rotate=90),
}


def make_pdf(geometries: list[Geometry]) -> bytes:
    writer = PdfWriter()
    for g in geometries:
        page = writer.add_blank_page(width=g.media[2] - g.media[0], height=g.media[3] - g.media[1])
        page.mediabox = RectangleObject(g.media)
        if g.crop:
            page.cropbox = RectangleObject(g.crop)
        if g.rotate:
            page[NameObject("/Rotate")] = NumberObject(g.rotate)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def placement_page(query: dict[str, list[str]]) -> str:
    pdf = html.escape(query["pdf"][0])
    initial = html.escape(query.get("initial", ["1"])[0])
    saved = {f: html.escape(query.get(f, [""])[0]) for f in ["page", *FIELDS]}
    inputs = "".join(f'<input type="hidden" name="{f}" value="{v}">' for f, v in saved.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/app.css"><title>placement</title></head>
<body><form id="f" method="post">{inputs}
<div id="placement" data-placement data-pdf-url="/pdf/{pdf}" data-pdfjs-base="/static/vendor/pdfjs/"
     data-initial-page="{initial}" data-box-width="120" data-box-height="50"
     data-text-page-of="Halaman {{page}} dari {{pages}}"></div>
</form>
<script src="/static/js/paraf-common.js" defer></script>
<script src="/static/js/pdf-viewer.js" defer></script>
<script src="/static/js/placement.js" defer></script>
</body></html>"""


@pytest.fixture
def site(widget_site: tuple[str, Any]) -> tuple[str, Any]:
    url, app = widget_site
    app.pdfs["all.pdf"] = make_pdf(list(PAGES.values()))
    app.pages["placement"] = placement_page
    return url, app


def values(page: Any) -> dict[str, int]:
    raw = page.evaluate(
        """() => Object.fromEntries(['page', 'lower_left_x', 'lower_left_y', 'upper_right_x', 'upper_right_y']
             .map((n) => [n, document.forms.f.elements[n].value]))"""
    )
    return {k: int(v) for k, v in raw.items()}


def wait_ready(page: Any) -> None:
    page.wait_for_function(
        """() => document.forms.f.elements.upper_right_x.value !== ''
             && document.querySelector('.placement-stage canvas').width > 0
             && !document.querySelector('.placement-box').hidden"""
    )


def expected_from_dom(page: Any, geometry: Geometry) -> dict[str, int]:
    canvas = page.locator(".placement-stage canvas").bounding_box()
    box = page.locator(".placement-box").bounding_box()
    scale = canvas["width"] / geometry.display_size[0]
    return geometry.rect_for(
        (box["x"] - canvas["x"]) / scale, (box["y"] - canvas["y"]) / scale, box["width"] / scale, box["height"] / scale
    )


def drag(page: Any, locator: Any, dx: float, dy: float) -> None:
    b = locator.bounding_box()
    x, y = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
    page.mouse.move(x + dx, y + dy, steps=4)
    page.mouse.up()


def assert_close(got: dict[str, int], want: dict[str, int]) -> None:
    # The DOM reports sub-pixel positions; one point of rounding difference is allowed.
    for field in FIELDS:
        assert abs(got[field] - want[field]) <= 1, (field, got, want)


@pytest.mark.parametrize("name", list(PAGES))
def test_a_dragged_and_resized_box_gives_the_right_pdf_points(page, site, console_errors, name):
    url, _ = site
    number = list(PAGES).index(name) + 1
    geometry = PAGES[name]
    page.goto(f"{url}/page/placement?pdf=all.pdf&initial={number}")
    wait_ready(page)
    before = values(page)
    assert before["page"] == number
    assert_close(before, expected_from_dom(page, geometry))

    drag(page, page.locator(".placement-box"), -90, -140)
    drag(page, page.locator(".placement-handle"), 35, 25)
    after = values(page)
    assert after != before
    assert after["page"] == number
    assert_close(after, expected_from_dom(page, geometry))

    # Inside the visible page, whole numbers, a real rectangle.
    x0, y0, x1, y1 = geometry.view
    assert x0 <= after["lower_left_x"] < after["upper_right_x"] <= x1
    assert y0 <= after["lower_left_y"] < after["upper_right_y"] <= y1
    assert not console_errors


def test_the_box_can_move_to_another_page_and_keyboard_moves_it(page, site, console_errors):
    url, _ = site
    page.goto(f"{url}/page/placement?pdf=all.pdf&initial=1")
    wait_ready(page)
    assert page.locator(".placement-page").text_content() == f"Halaman 1 dari {len(PAGES)}"
    page.get_by_role("button", name="Next page").click()
    page.wait_for_function("() => document.forms.f.elements.page.value === '2'")
    wait_ready(page)
    assert_close(values(page), expected_from_dom(page, PAGES["rotate90"]))

    start = values(page)
    page.locator(".placement-box").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    moved = values(page)
    assert moved != start
    assert_close(moved, expected_from_dom(page, PAGES["rotate90"]))
    assert not console_errors


def test_tapping_the_page_moves_the_box_there(page, site):
    url, _ = site
    geometry = PAGES["cropbox-offset"]
    page.goto(f"{url}/page/placement?pdf=all.pdf&initial=3")
    wait_ready(page)
    canvas = page.locator(".placement-stage canvas").bounding_box()
    page.mouse.click(canvas["x"] + canvas["width"] * 0.3, canvas["y"] + canvas["height"] * 0.2)
    got = values(page)
    assert_close(got, expected_from_dom(page, geometry))
    box = page.locator(".placement-box").bounding_box()
    assert abs(box["x"] + box["width"] / 2 - (canvas["x"] + canvas["width"] * 0.3)) < 2


def test_a_touch_drag_moves_the_box(page, site):
    url, _ = site
    geometry = PAGES["rotate270-offset-media-and-crop"]
    page.goto(f"{url}/page/placement?pdf=all.pdf&initial=5")
    wait_ready(page)
    before = values(page)
    b = page.locator(".placement-box").bounding_box()
    x, y = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 6):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x - 12 * i, "y": y - 20 * i}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function(f"() => document.forms.f.elements.lower_left_x.value !== '{before['lower_left_x']}'")
    assert_close(values(page), expected_from_dom(page, geometry))


def test_saved_coordinates_put_the_box_back_where_they_say(page, site):
    url, _ = site
    saved = {"page": 6, "lower_left_x": 300, "lower_left_y": 200, "upper_right_x": 420, "upper_right_y": 260}
    query = "&".join(f"{k}={v}" for k, v in saved.items())
    page.goto(f"{url}/page/placement?pdf=all.pdf&{query}")
    wait_ready(page)
    assert values(page) == saved
    assert_close(saved, expected_from_dom(page, PAGES["rotate90-cropbox-offset"]))


def test_the_pure_function_maps_a_rotated_offset_box(page, site):
    """pdfRectFromBox on a hand-made viewport transform (pdf.js's own formula for /Rotate 90)."""
    url, _ = site
    page.goto(f"{url}/page/placement?pdf=all.pdf")
    wait_ready(page)
    # viewBox [21 33 821 583], /Rotate 90, scale 2: x_display = 2(y - 33), y_display = 2(x - 21).
    got = page.evaluate(
        """() => Paraf.placement.pdfRectFromBox(
              {left: 100, top: 40, width: 240, height: 100},
              {transform: [0, 2, 2, 0, -66, -42], viewBox: [21, 33, 821, 583]})"""
    )
    assert got == {"lower_left_x": 41, "lower_left_y": 83, "upper_right_x": 91, "upper_right_y": 203}
    # A box hanging over the page's edge is pulled inside the visible page.
    clamped = page.evaluate(
        """() => Paraf.placement.pdfRectFromBox(
              {left: -10, top: -10, width: 50, height: 50},
              {transform: [0, 2, 2, 0, -66, -42], viewBox: [21, 33, 821, 583]})"""
    )
    assert clamped["lower_left_x"] == 21 and clamped["lower_left_y"] == 33
