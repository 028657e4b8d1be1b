/*
 * Paraf widget: place ONE signature box on a page of a PDF and get Peruri's coordinates.
 * Needs static/js/paraf-common.js and static/js/pdf-viewer.js first.
 *
 *   <form method="post">{% csrf_token %}
 *     {{ form.page }} {{ form.lower_left_x }} {{ form.lower_left_y }}      (hidden inputs)
 *     {{ form.upper_right_x }} {{ form.upper_right_y }}
 *     <div data-placement
 *          data-pdf-url="{% url 'documents:document_file' document.pk %}"
 *          data-pdfjs-base="{% get_static_prefix %}vendor/pdfjs/"
 *          data-input-page="page"                  names (in this form) or ids of the inputs;
 *          data-input-llx="lower_left_x"           these are the defaults
 *          data-input-lly="lower_left_y"
 *          data-input-urx="upper_right_x"
 *          data-input-ury="upper_right_y"
 *          data-initial-page="last"                optional: a number or "last" (default 1);
 *                                                  ignored when the inputs already hold a box
 *          data-box-width="160" data-box-height="60"   optional: new box size, PDF points
 *          data-min-width="40" data-min-height="16"    optional: smallest box, PDF points
 *          data-max-width="800"                    optional: widest page display, CSS px
 *          data-strings="placement-strings"></div> (or data-text-*: see DEFAULTS below)
 *   </form>
 *
 * The user drags the box (mouse, touch or pen: pointer events), resizes it by its corner handle,
 * taps the page to move it there, uses the arrow keys (Shift + arrows resize), and changes page.
 * After every change the five inputs hold integers and a "paraf:placement-change" event bubbles
 * with detail {page, lower_left_x, lower_left_y, upper_right_x, upper_right_y}. Filled inputs
 * (editing an existing placement) put the box back where they say.
 *
 * Coordinates: whole PDF points in the page's own user space, lower-left and upper-right
 * corners, page 1-based — what Peruri's signer object wants. See pdfRectFromBox below.
 */
(function (global) {
  "use strict";

  const Paraf = global.Paraf;
  const U = Paraf.util;

  /** pdf.js's Util.applyInverseTransform: display point -> user-space point. */
  function applyInverseTransform(m, x, y) {
    const d = m[0] * m[3] - m[1] * m[2];
    return [
      (x * m[3] - y * m[2] + m[2] * m[5] - m[4] * m[3]) / d,
      (-x * m[1] + y * m[0] + m[4] * m[1] - m[5] * m[0]) / d,
    ];
  }

  /**
   * The pure math: a box drawn on the page as displayed -> Peruri's rectangle.
   *
   *   box       {left, top, width, height} in the viewport's pixels: origin at the top-left
   *             corner of the page *as displayed* (after /Rotate), y pointing down.
   *   viewport  the pdf.js PageViewport the page was displayed with (any scale), or any object
   *             with its `transform` (6 numbers) and optionally `viewBox` [x0, y0, x1, y1].
   *
   * Returns {lower_left_x, lower_left_y, upper_right_x, upper_right_y}: integers, PDF points in
   * the page's user space (y up), which is what the signature field's /Rect uses.
   *
   * Why it is right for any page: the viewport's transform already contains the scale, the
   * /Rotate (90/180/270: the display is the user space turned, so e.g. on a page turned 90°
   * clockwise the display's x runs along user-space y) and the offset of a CropBox/MediaBox that
   * does not start at 0,0 (a CropBox [50 100 350 500] makes the displayed top-left (50, 500)).
   * viewport.convertToPdfPoint inverts that transform; each corner of the box maps to a corner
   * of an axis-aligned rectangle in user space (rotations are multiples of 90°), so the
   * rectangle is the min/max of the four mapped corners. Values are rounded to the nearest
   * point (Peruri rejects decimals with 4012) and kept inside the visible page (viewBox).
   */
  function pdfRectFromBox(box, viewport) {
    const toPdf = typeof viewport.convertToPdfPoint === "function"
      ? (x, y) => viewport.convertToPdfPoint(x, y)
      : (x, y) => applyInverseTransform(viewport.transform, x, y);
    const right = box.left + box.width;
    const bottom = box.top + box.height;
    const corners = [toPdf(box.left, box.top), toPdf(right, box.top), toPdf(box.left, bottom), toPdf(right, bottom)];
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    let llx = Math.round(Math.min(...xs));
    let lly = Math.round(Math.min(...ys));
    let urx = Math.round(Math.max(...xs));
    let ury = Math.round(Math.max(...ys));
    const vb = viewport.viewBox;
    if (vb) {
      const [x0, x1] = [Math.min(vb[0], vb[2]), Math.max(vb[0], vb[2])];
      const [y0, y1] = [Math.min(vb[1], vb[3]), Math.max(vb[1], vb[3])];
      llx = Math.max(llx, Math.ceil(x0));
      lly = Math.max(lly, Math.ceil(y0));
      urx = Math.min(urx, Math.floor(x1));
      ury = Math.min(ury, Math.floor(y1));
    }
    return { lower_left_x: llx, lower_left_y: lly, upper_right_x: urx, upper_right_y: ury };
  }

  /** The inverse, to show a saved rectangle: user-space rect -> box in viewport pixels. */
  function boxFromPdfRect(rect, viewport) {
    const a = viewport.convertToViewportPoint(rect.lower_left_x, rect.lower_left_y);
    const b = viewport.convertToViewportPoint(rect.upper_right_x, rect.upper_right_y);
    return {
      left: Math.min(a[0], b[0]), top: Math.min(a[1], b[1]),
      width: Math.abs(b[0] - a[0]), height: Math.abs(b[1] - a[1]),
    };
  }

  const DEFAULTS = {
    loading: "Loading the document…",
    error: "The document could not be shown.",
    previous: "Previous page",
    next: "Next page",
    page_of: "Page {page} of {pages}",
    box: "Signature",
    box_label: "Signature box: arrow keys move it, Shift + arrow keys resize it",
    resize: "Resize",
    hint: "Drag the box to where the signature goes, or tap the page. Drag its corner to resize it.",
  };
  const FIELDS = {
    page: ["inputPage", "page"],
    lower_left_x: ["inputLlx", "lower_left_x"],
    lower_left_y: ["inputLly", "lower_left_y"],
    upper_right_x: ["inputUrx", "upper_right_x"],
    upper_right_y: ["inputUry", "upper_right_y"],
  };

  class Placement {
    constructor(el) {
      this.el = el;
      const d = el.dataset;
      this.strings = U.readStrings(el, DEFAULTS);
      this.inputs = {};
      for (const [field, [attr, fallback]] of Object.entries(FIELDS)) {
        this.inputs[field] = U.findInput(el, d[attr] || fallback);
        if (!this.inputs[field]) console.error("Paraf placement: no input for " + field);
      }
      this.boxSize = [Number(d.boxWidth) || 160, Number(d.boxHeight) || 60];
      this.minSize = [Number(d.minWidth) || 40, Number(d.minHeight) || 16];
      this.maxWidth = Number(d.maxWidth) || 800;
      this.box = null; // {x, y, w, h}: page points as displayed (viewport at scale 1), y down
      this.pageNumber = 0;
      this._build();
      this.ready = this._open(d.pdfUrl, d.pdfjsBase);
      this.ready.catch(() => {});
    }

    _build() {
      const s = this.strings;
      this.prevBtn = U.h("button", { type: "button", className: "secondary small", text: s.previous, disabled: true });
      this.nextBtn = U.h("button", { type: "button", className: "secondary small", text: s.next, disabled: true });
      this.label = U.h("span", { className: "placement-page", "aria-live": "polite" });
      this.status = U.h("p", { className: "placement-status muted", role: "status", text: s.loading });
      const toolbar = U.h("div", { className: "placement-toolbar" }, [this.prevBtn, this.label, this.nextBtn]);
      U.css(toolbar, { display: "flex", gap: ".5rem", alignItems: "center", flexWrap: "wrap", margin: ".5rem 0" });
      const hint = U.h("p", { className: "placement-hint muted", text: s.hint });

      this.canvas = U.h("canvas", { "aria-hidden": "true" });
      U.css(this.canvas, { display: "block" });
      this.handle = U.h("span", { className: "placement-handle", "aria-hidden": "true", title: s.resize });
      U.css(this.handle, {
        position: "absolute", right: "-12px", bottom: "-12px", width: "24px", height: "24px",
        borderRadius: "50%", background: "#0b5cad", border: "3px solid #fff", boxSizing: "border-box",
        cursor: "nwse-resize", touchAction: "none",
      });
      this.boxEl = U.h("div", {
        className: "placement-box", tabindex: "0", role: "group", "aria-label": s.box_label, hidden: true,
      }, [this._label(s.box), this.handle]);
      U.css(this.boxEl, {
        position: "absolute", boxSizing: "border-box", border: "2px dashed #0b5cad",
        background: "rgba(11, 92, 173, .15)", color: "#0b5cad", fontSize: "12px", fontWeight: "600",
        display: "flex", alignItems: "center", justifyContent: "center", overflow: "visible",
        cursor: "move", touchAction: "none", userSelect: "none",
      });
      this.readout = U.h("span", { className: "placement-readout", "aria-live": "polite" });
      U.css(this.readout, { position: "absolute", width: "1px", height: "1px", overflow: "hidden", clip: "rect(0 0 0 0)" });
      this.stage = U.h("div", { className: "placement-stage" }, [this.canvas, this.boxEl, this.readout]);
      U.css(this.stage, {
        position: "relative", width: "100%", maxWidth: this.maxWidth + "px", margin: "0 auto",
        background: "#fff", boxShadow: "0 1px 3px rgba(0,0,0,.25)",
      });
      this.el.append(toolbar, hint, this.status, this.stage);

      const go = (n) => this.showPage(n).catch((err) => console.error("Paraf placement:", err));
      this.prevBtn.addEventListener("click", () => go(this.pageNumber - 1));
      this.nextBtn.addEventListener("click", () => go(this.pageNumber + 1));
      this._bindPointer();
      this._bindKeys();
      this.stage.addEventListener("click", (e) => {
        if (!this.viewport || this.boxEl.contains(e.target)) return;
        const r = this.canvas.getBoundingClientRect();
        const s = this.scale();
        this.box.x = (e.clientX - r.left) / s - this.box.w / 2;
        this.box.y = (e.clientY - r.top) / s - this.box.h / 2;
        this._clampMove();
        this._layout();
        this._write();
      });
      let timer = null;
      let lastWidth = 0;
      new ResizeObserver(() => {
        const w = this.stage.clientWidth;
        if (!this.pdfPage || Math.abs(w - lastWidth) < 2) return;
        lastWidth = w;
        clearTimeout(timer);
        timer = setTimeout(() => this._render(), 150);
      }).observe(this.stage);
    }

    _label(text) {
      const label = U.h("span", { className: "placement-box-text", text });
      U.css(label, { maxWidth: "100%", overflow: "hidden", whiteSpace: "nowrap", textOverflow: "ellipsis", padding: "0 4px" });
      return label;
    }

    /** CSS pixels per page point at the current display size. */
    scale() {
      return this.canvas.getBoundingClientRect().width / this.viewport.width;
    }

    async _open(url, base) {
      try {
        await this._start(url, base);
      } catch (err) {
        console.error("Paraf placement:", err);
        this.status.textContent = this.strings.error;
        U.emit(this.el, "paraf:pdf-error", { error: String(err) });
        throw err;
      }
    }

    async _start(url, base) {
      this.doc = await Paraf.pdf.open(url, base);
      const saved = this._readInputs();
      let first = 1;
      const initial = this.el.dataset.initialPage;
      if (saved) first = saved.page;
      else if (initial === "last") first = this.doc.numPages;
      else if (Number(initial) >= 1) first = Number(initial);
      await this.showPage(first, saved);
      U.toggle(this.status, false);
      this.status.textContent = "";
    }

    _readInputs() {
      const v = {};
      for (const [field, input] of Object.entries(this.inputs)) {
        if (!input || !/^-?\d+$/.test(input.value.trim())) return null;
        v[field] = parseInt(input.value, 10);
      }
      if (v.page < 1 || v.page > this.doc.numPages || v.upper_right_x <= v.lower_left_x || v.upper_right_y <= v.lower_left_y) {
        return null;
      }
      return v;
    }

    /** Show page n (1-based). The box keeps its size and place, pulled inside the new page. */
    async showPage(n, saved) {
      n = Math.min(Math.max(1, n), this.doc.numPages);
      this.pdfPage = await this.doc.getPage(n);
      this.pageNumber = n;
      this.viewport = this.pdfPage.getViewport({ scale: 1 });
      const vp = this.viewport;
      if (saved) {
        const b = boxFromPdfRect(saved, vp);
        this.box = { x: b.left, y: b.top, w: b.width, h: b.height };
      } else if (!this.box) {
        const w = Math.min(this.boxSize[0], vp.width);
        const h = Math.min(this.boxSize[1], vp.height);
        // Bottom-right, where signatures usually go, one box-height above the bottom edge.
        this.box = { x: vp.width - w - vp.width * 0.08, y: vp.height - h * 2, w, h };
      }
      // A box from a bigger (or differently turned) page keeps its size where it can.
      this.box.w = Math.min(Math.max(this.minSize[0], this.box.w), vp.width);
      this.box.h = Math.min(Math.max(this.minSize[1], this.box.h), vp.height);
      this._clampMove();
      this.label.textContent = U.t(this.strings, "page_of", { page: n, pages: this.doc.numPages });
      this.prevBtn.disabled = n <= 1;
      this.nextBtn.disabled = n >= this.doc.numPages;
      await this._render();
      U.toggle(this.boxEl, true);
      this._write();
    }

    async _render() {
      const width = Math.min(this.stage.clientWidth || 320, this.maxWidth);
      const rendered = await Paraf.pdf.renderPage(this.pdfPage, this.canvas, width);
      if (rendered) this._layout();
    }

    _clampMove() {
      const vp = this.viewport;
      this.box.x = Math.min(Math.max(0, this.box.x), vp.width - this.box.w);
      this.box.y = Math.min(Math.max(0, this.box.y), vp.height - this.box.h);
    }

    /** Resizing keeps the top-left corner: the box may grow only up to the page's edges. */
    _clampResize() {
      const vp = this.viewport;
      this.box.w = Math.min(Math.max(this.minSize[0], this.box.w), vp.width - this.box.x);
      this.box.h = Math.min(Math.max(this.minSize[1], this.box.h), vp.height - this.box.y);
    }

    _layout() {
      const s = this.scale();
      U.css(this.boxEl, {
        left: this.box.x * s + "px", top: this.box.y * s + "px",
        width: this.box.w * s + "px", height: this.box.h * s + "px",
      });
    }

    /** The current placement, as Peruri wants it. */
    value() {
      const rect = pdfRectFromBox({ left: this.box.x, top: this.box.y, width: this.box.w, height: this.box.h }, this.viewport);
      return Object.assign({ page: this.pageNumber }, rect);
    }

    _write() {
      const v = this.value();
      for (const [field, input] of Object.entries(this.inputs)) {
        if (input) input.value = String(v[field]);
      }
      // Read out to screen readers (visually hidden): where the box is now.
      this.readout.textContent = U.t(this.strings, "page_of", { page: v.page, pages: this.doc.numPages }) +
        ": " + v.lower_left_x + ", " + v.lower_left_y + " – " + v.upper_right_x + ", " + v.upper_right_y;
      U.emit(this.el, "paraf:placement-change", v);
    }

    _bindPointer() {
      let drag = null;
      this.boxEl.addEventListener("pointerdown", (e) => {
        if (e.button !== 0 || !this.viewport) return;
        e.preventDefault();
        this.boxEl.focus({ preventScroll: true });
        this.boxEl.setPointerCapture(e.pointerId);
        drag = {
          id: e.pointerId, resize: this.handle.contains(e.target), x: e.clientX, y: e.clientY,
          box: Object.assign({}, this.box), scale: this.scale(),
        };
      });
      this.boxEl.addEventListener("pointermove", (e) => {
        if (!drag || e.pointerId !== drag.id) return;
        const dx = (e.clientX - drag.x) / drag.scale;
        const dy = (e.clientY - drag.y) / drag.scale;
        if (drag.resize) {
          this.box.w = drag.box.w + dx;
          this.box.h = drag.box.h + dy;
          this._clampResize();
        } else {
          this.box.x = drag.box.x + dx;
          this.box.y = drag.box.y + dy;
          this._clampMove();
        }
        this._layout();
      });
      const end = (e) => {
        if (!drag || e.pointerId !== drag.id) return;
        drag = null;
        this._write();
      };
      this.boxEl.addEventListener("pointerup", end);
      this.boxEl.addEventListener("pointercancel", end);
      // A tap on the box must not also count as a tap on the page behind it.
      this.boxEl.addEventListener("click", (e) => e.stopPropagation());
    }

    _bindKeys() {
      const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      this.boxEl.addEventListener("keydown", (e) => {
        const step = steps[e.key];
        if (!step || !this.viewport) return;
        e.preventDefault();
        const amount = 4; // points
        if (e.shiftKey) {
          this.box.w += step[0] * amount;
          this.box.h += step[1] * amount;
          this._clampResize();
        } else {
          this.box.x += step[0] * amount;
          this.box.y += step[1] * amount;
          this._clampMove();
        }
        this._layout();
        this._write();
      });
    }
  }

  Paraf.placement = { pdfRectFromBox, boxFromPdfRect, applyInverseTransform, Placement };
  U.autoInit("[data-placement]", "parafPlacement", (el) => new Placement(el));
})(window);
