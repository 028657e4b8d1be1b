/*
 * Paraf widget: draw the handwritten signature (specimen) on a pad, or upload a picture of it.
 * Needs static/js/paraf-common.js and static/vendor/signature_pad/signature_pad.umd.min.js first
 * (or data-signature-pad-src naming the latter, loaded on demand).
 *
 *   <form method="post">{% csrf_token %}
 *     <input type="hidden" name="specimen">
 *     <div data-signature-pad
 *          data-input="specimen"             either: a hidden input (name/id) that gets the PNG
 *          data-format="dataurl"             ... as "data:image/png;base64,..." (default) or "base64"
 *          data-file-input="specimen_file"   or: an <input type=file> that gets specimen.png
 *          data-upload-url="..."             or: a "Save" button POSTs the form + the PNG
 *          data-field-name="specimen"        form field of that upload (default "specimen")
 *          data-required="true"              block the form's submit while the pad is empty
 *          data-allow-upload="true"          offer "upload a picture instead" (default true)
 *          data-max-image-bytes="2097152"    largest accepted picture (default 2 MB)
 *          data-height="200"                 pad height in CSS px (default: 40% of the width)
 *          data-pen-color="#0b2a6f"
 *          data-strings="signature-strings"></div>   (or data-text-*: see DEFAULTS below)
 *   </form>
 *
 * Clear and Undo buttons; the pad keeps its drawing when the screen turns or resizes. The PNG is
 * trimmed to the drawing (plus a small margin) with a transparent background; an uploaded
 * JPEG/PNG is decoded, drawn onto the pad and re-exported as PNG (so its metadata is dropped).
 * Events (bubbling): "paraf:signature-change" {empty}, "paraf:signature-uploaded" {status, data},
 * "paraf:signature-upload-failed" {status, data}. Upload replies as in video-recorder.js.
 */
(function (global) {
  "use strict";

  const Paraf = global.Paraf;
  const U = Paraf.util;

  const DEFAULTS = {
    hint: "Sign inside the box with your finger, a pen or the mouse.",
    clear: "Clear",
    undo: "Undo",
    save: "Save signature",
    saving: "Saving…",
    saved: "Signature saved.",
    upload_instead: "Or upload a picture of your signature (PNG or JPEG)",
    empty: "Please draw your signature first.",
    image_too_big: "The picture is too large (at most {max} MB).",
    image_invalid: "This file is not a PNG or JPEG picture.",
    upload_failed: "The signature could not be saved. Please try again.",
    pad_label: "Signature pad",
  };

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  /** A copy of `canvas` cut down to its non-transparent pixels plus `margin` (or null if empty). */
  function trimmed(canvas, margin) {
    const ctx = canvas.getContext("2d");
    const { width, height } = canvas;
    const pixels = ctx.getImageData(0, 0, width, height).data;
    let top = height, left = width, right = -1, bottom = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (pixels[(y * width + x) * 4 + 3] !== 0) {
          if (x < left) left = x;
          if (x > right) right = x;
          if (y < top) top = y;
          if (y > bottom) bottom = y;
        }
      }
    }
    if (right < 0) return null;
    left = Math.max(0, left - margin);
    top = Math.max(0, top - margin);
    right = Math.min(width - 1, right + margin);
    bottom = Math.min(height - 1, bottom + margin);
    const out = document.createElement("canvas");
    out.width = right - left + 1;
    out.height = bottom - top + 1;
    out.getContext("2d").drawImage(canvas, left, top, out.width, out.height, 0, 0, out.width, out.height);
    return out;
  }

  function toBlob(canvas) {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  class Signature {
    constructor(el) {
      this.el = el;
      const d = el.dataset;
      this.s = U.readStrings(el, DEFAULTS);
      this.input = d.input ? U.findInput(el, d.input) : null;
      this.fileInput = d.fileInput ? U.findInput(el, d.fileInput) : null;
      this.base64Only = d.format === "base64";
      this.uploadUrl = d.uploadUrl || "";
      this.fieldName = d.fieldName || "specimen";
      this.maxImageBytes = Number(d.maxImageBytes) || 2 * 1048576;
      this.fixedHeight = Number(d.height) || 0;
      this._build();
      this.ready = (global.SignaturePad || !d.signaturePadSrc ? Promise.resolve() : loadScript(d.signaturePadSrc))
        .then(() => this._start());
      this.ready.catch((err) => console.error("Paraf signature:", err));
    }

    _build() {
      const s = this.s;
      this.canvas = U.h("canvas", { className: "sig-canvas", role: "img", "aria-label": s.pad_label });
      U.css(this.canvas, {
        display: "block", width: "100%", background: "#fff", border: "1px solid #9aa4b2", borderRadius: "6px",
        touchAction: "none", cursor: "crosshair",
      });
      const button = (key, cls) => U.h("button", { type: "button", className: cls, text: s[key] });
      this.clearBtn = button("clear", "secondary small");
      this.undoBtn = button("undo", "secondary small");
      this.saveBtn = this.uploadUrl ? button("save", "") : null;
      const bar = U.h("div", { className: "sig-buttons" }, [this.undoBtn, this.clearBtn, this.saveBtn]);
      U.css(bar, { display: "flex", gap: ".5rem", flexWrap: "wrap", alignItems: "center", marginTop: ".5rem" });
      this.message = U.h("p", { className: "sig-message muted", "aria-live": "polite", text: s.hint });
      this.error = U.h("p", { className: "sig-error errors", role: "alert", hidden: true });
      this.el.append(this.message, this.canvas, bar, this.error);

      if (this.el.dataset.allowUpload !== "false") {
        const id = "sig-upload-" + Math.random().toString(36).slice(2);
        this.imageInput = U.h("input", { type: "file", id, accept: "image/png,image/jpeg", className: "sig-upload" });
        this.el.append(U.h("label", { for: id, className: "sig-upload-label", text: s.upload_instead }), this.imageInput);
        this.imageInput.addEventListener("change", () => this._useImage(this.imageInput.files[0]));
      }
      this.clearBtn.addEventListener("click", () => {
        this.pad.clear();
        if (this.imageInput) this.imageInput.value = "";
        this._changed();
      });
      this.undoBtn.addEventListener("click", () => {
        const data = this.pad.toData();
        if (data.length) {
          data.pop();
          // Undoing past the strokes also drops an uploaded picture (it is not a stroke).
          this.pad.fromData(data);
        } else {
          this.pad.clear();
        }
        this._changed();
      });
      if (this.saveBtn) this.saveBtn.addEventListener("click", () => this.upload());
      const form = U.formOf(this.el);
      if (form && this.el.dataset.required === "true") {
        form.addEventListener("submit", (e) => {
          if (this.pad && this.pad.isEmpty()) {
            e.preventDefault();
            this._error(this.s.empty);
          }
        });
      }
    }

    _start() {
      const Pad = global.SignaturePad;
      if (!Pad) throw new Error("window.SignaturePad is missing: include vendor/signature_pad first");
      const options = {};
      if (this.el.dataset.penColor) options.penColor = this.el.dataset.penColor;
      this.pad = new Pad(this.canvas, options);
      this.pad.addEventListener("endStroke", () => this._changed());
      this._resize();
      let timer = null;
      let lastWidth = this.canvas.offsetWidth;
      new ResizeObserver(() => {
        if (Math.abs(this.canvas.offsetWidth - lastWidth) < 2) return;
        lastWidth = this.canvas.offsetWidth;
        clearTimeout(timer);
        timer = setTimeout(() => this._resize(), 100);
      }).observe(this.canvas);
    }

    /** Size the canvas to its box at the screen's pixel ratio, keeping the drawing. */
    _resize() {
      const ratio = Math.max(global.devicePixelRatio || 1, 1);
      const width = this.canvas.offsetWidth || 300;
      const height = this.fixedHeight || Math.round(Math.min(Math.max(width * 0.4, 140), 280));
      this.canvas.style.height = height + "px";
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      this.canvas.getContext("2d").scale(ratio, ratio);
      if (this.imageFit) Object.assign(this.imageFit, this._fit(this.imageFit.naturalWidth, this.imageFit.naturalHeight));
      this.pad.redraw();
    }

    _fit(w, h) {
      const ratio = Math.max(global.devicePixelRatio || 1, 1);
      const cw = this.canvas.width / ratio;
      const ch = this.canvas.height / ratio;
      const scale = Math.min(cw / w, ch / h, 1) * 0.92;
      return { width: w * scale, height: h * scale, xOffset: (cw - w * scale) / 2, yOffset: (ch - h * scale) / 2, ratio };
    }

    async _useImage(file) {
      this._error("");
      if (!file) return;
      if (!["image/png", "image/jpeg"].includes(file.type)) {
        this._error(this.s.image_invalid);
        return;
      }
      if (file.size > this.maxImageBytes) {
        this._error(U.t(this.s, "image_too_big", { max: (this.maxImageBytes / 1048576).toFixed(0) }));
        return;
      }
      const dataUrl = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = reject;
        reader.readAsDataURL(file);
      });
      const image = new Image();
      try {
        await new Promise((resolve, reject) => {
          image.onload = resolve;
          image.onerror = reject;
          image.src = dataUrl;
        });
      } catch (err) {
        this._error(this.s.image_invalid);
        return;
      }
      this.imageFit = Object.assign({ naturalWidth: image.naturalWidth, naturalHeight: image.naturalHeight },
        this._fit(image.naturalWidth, image.naturalHeight));
      this.pad.clear();
      await this.pad.fromDataURL(dataUrl, this.imageFit);
      this._changed();
    }

    _error(text) {
      this.error.textContent = text;
      U.toggle(this.error, !!text);
    }

    isEmpty() {
      return !this.pad || this.pad.isEmpty();
    }

    /** The signature as a trimmed PNG canvas, or null when the pad is empty. */
    pngCanvas() {
      if (this.isEmpty()) return null;
      return trimmed(this.canvas, Math.round(8 * (global.devicePixelRatio || 1)));
    }

    async _changed() {
      const empty = this.isEmpty();
      if (!empty) this._error("");
      const png = empty ? null : this.pngCanvas();
      if (this.input) {
        const url = png ? png.toDataURL("image/png") : "";
        this.input.value = this.base64Only ? url.replace(/^data:image\/png;base64,/, "") : url;
      }
      if (this.fileInput) {
        if (png) U.putFile(this.fileInput, new File([await toBlob(png)], "specimen.png", { type: "image/png" }));
        else this.fileInput.value = "";
      }
      U.emit(this.el, "paraf:signature-change", { empty });
    }

    async upload() {
      const png = this.pngCanvas();
      if (!png) {
        this._error(this.s.empty);
        return;
      }
      const form = U.formOf(this.el);
      const data = form ? new FormData(form) : new FormData();
      if (this.fileInput) data.delete(this.fileInput.name);
      data.set(this.fieldName, new File([await toBlob(png)], "specimen.png", { type: "image/png" }));
      this.saveBtn.disabled = true;
      this.message.textContent = this.s.saving;
      let reply;
      try {
        reply = await U.postForm(this.uploadUrl, data, U.csrfToken(this.el));
      } catch (err) {
        reply = { ok: false, status: 0, data: null };
      }
      this.saveBtn.disabled = false;
      if (!reply.ok || (reply.data && typeof reply.data.error === "string")) {
        this.message.textContent = this.s.hint;
        this._error((reply.data && typeof reply.data.error === "string" && reply.data.error) || this.s.upload_failed);
        U.emit(this.el, "paraf:signature-upload-failed", { status: reply.status, data: reply.data });
        return;
      }
      this.message.textContent = this.s.saved;
      U.emit(this.el, "paraf:signature-uploaded", { status: reply.status, data: reply.data });
      U.followReply(reply.data, this.message);
    }
  }

  Paraf.Signature = Signature;
  U.autoInit("[data-signature-pad]", "parafSignature", (el) => new Signature(el));
})(window);
