/*
 * Paraf widget: show every page of a PDF with pdf.js (vendored in static/vendor/pdfjs/).
 * Needs static/js/paraf-common.js first.
 *
 *   <div data-pdf-viewer
 *        data-pdf-url="{% url 'documents:document_file' document.pk %}"
 *        data-pdfjs-base="{% get_static_prefix %}vendor/pdfjs/"
 *        data-max-width="900"                       (optional, CSS px; default: the container's width)
 *        data-text-loading="{% translate 'Loading the document…' %}"
 *        data-text-error="{% translate 'The document could not be shown.' %}"
 *        data-text-page-of="{% translate 'Page {page} of {pages}' %}"></div>
 *   <script src="{% static 'js/paraf-common.js' %}" defer></script>
 *   <script src="{% static 'js/pdf-viewer.js' %}" defer></script>
 *
 * Pages are canvases that fit the container's width (phones included), rendered lazily as they
 * scroll into view and again when the width changes. Events (bubbling, on the container):
 * "paraf:pdf-loaded" {numPages}, "paraf:page-rendered" {pageNumber, viewport}, "paraf:pdf-error".
 *
 * Other widgets reuse the loader: Paraf.pdf.open(url, base) -> PDFDocumentProxy and
 * Paraf.pdf.renderPage(page, canvas, cssWidth) -> the PageViewport used (pdf.js CSS pixels).
 *
 * CSP: pdf.js is an ES module loaded with import() from our own origin (script-src 'self'); its
 * worker is a module worker from the same origin (worker-src 'self'); no eval and no WebAssembly
 * (useWasm: false: JPEG 2000 / JBIG2 images use the shipped plain-JS decoders).
 */
(function (global) {
  "use strict";

  const Paraf = global.Paraf;
  const U = Paraf.util;
  // Keep canvases under ~8 megapixels: phone browsers refuse (blank canvas) above ~16.
  const MAX_CANVAS_PIXELS = 8e6;
  const libs = new Map();

  function normalizeBase(base) {
    const b = base || "/static/vendor/pdfjs/";
    return new URL(b.endsWith("/") ? b : b + "/", global.location.href).href;
  }

  /** Import pdf.js once per base URL and point it at its worker. */
  function load(base) {
    const root = normalizeBase(base);
    if (!libs.has(root)) {
      libs.set(
        root,
        import(root + "pdf.min.mjs").then((lib) => {
          lib.GlobalWorkerOptions.workerSrc = root + "pdf.worker.min.mjs";
          return lib;
        }),
      );
    }
    return libs.get(root);
  }

  /** Open a PDF (same-origin URL, cookies sent) -> pdf.js PDFDocumentProxy. */
  async function open(url, base) {
    const root = normalizeBase(base);
    const lib = await load(root);
    const task = lib.getDocument({
      url: new URL(url, global.location.href).href,
      cMapUrl: root + "cmaps/",
      cMapPacked: true,
      standardFontDataUrl: root + "standard_fonts/",
      iccUrl: root + "iccs/",
      wasmUrl: root + "wasm/",
      useWasm: false,
      enableXfa: false,
    });
    return task.promise;
  }

  /**
   * Render `page` into `canvas` at `cssWidth` CSS pixels wide (sharp on high-DPI screens).
   * Returns the PageViewport in CSS pixels, or null when a newer render of the same canvas
   * cancelled this one.
   */
  async function renderPage(page, canvas, cssWidth) {
    const unscaled = page.getViewport({ scale: 1 });
    const viewport = page.getViewport({ scale: cssWidth / unscaled.width });
    let ratio = global.devicePixelRatio || 1;
    if (viewport.width * viewport.height * ratio * ratio > MAX_CANVAS_PIXELS) {
      ratio = Math.sqrt(MAX_CANVAS_PIXELS / (viewport.width * viewport.height));
    }
    if (canvas._parafRender) {
      canvas._parafRender.cancel();
      await canvas._parafRender.promise.catch(() => {});
    }
    canvas.width = Math.max(1, Math.floor(viewport.width * ratio));
    canvas.height = Math.max(1, Math.floor(viewport.height * ratio));
    U.css(canvas, { width: viewport.width + "px", height: viewport.height + "px" });
    const task = page.render({
      canvas: canvas,
      viewport: viewport,
      transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
    });
    canvas._parafRender = task;
    try {
      await task.promise;
    } catch (err) {
      if (err && err.name === "RenderingCancelledException") return null;
      throw err;
    } finally {
      if (canvas._parafRender === task) canvas._parafRender = null;
    }
    return viewport;
  }

  const DEFAULTS = {
    loading: "Loading the document…",
    error: "The document could not be shown.",
    page_of: "Page {page} of {pages}",
  };

  class PdfViewer {
    constructor(el) {
      this.el = el;
      this.strings = U.readStrings(el, DEFAULTS);
      this.maxWidth = Number(el.dataset.maxWidth) || Infinity;
      this.pages = [];
      this.status = U.h("p", { className: "pdfv-status muted", role: "status", text: this.strings.loading });
      this.list = U.h("div", { className: "pdfv-pages" });
      el.append(this.status, this.list);
      this.ready = this._open(el.dataset.pdfUrl, el.dataset.pdfjsBase);
      this.ready.catch(() => {});
    }

    width() {
      return Math.max(100, Math.min(this.list.clientWidth || this.el.clientWidth || 320, this.maxWidth));
    }

    async _open(url, base) {
      try {
        this.doc = await open(url, base);
        const total = this.doc.numPages;
        for (let n = 1; n <= total; n++) {
          const pdfPage = await this.doc.getPage(n);
          const vp = pdfPage.getViewport({ scale: 1 });
          const canvas = U.h("canvas", { "aria-hidden": "true" });
          U.css(canvas, { display: "block", maxWidth: "100%" });
          const wrapper = U.h("div", {
            className: "pdfv-page",
            role: "img",
            "aria-label": U.t(this.strings, "page_of", { page: n, pages: total }),
            "data-page-number": n,
          }, [canvas]);
          U.css(wrapper, {
            position: "relative", width: "100%", maxWidth: this.maxWidth === Infinity ? "" : this.maxWidth + "px",
            aspectRatio: vp.width + " / " + vp.height, margin: "0 auto 12px", background: "#fff",
            boxShadow: "0 1px 3px rgba(0,0,0,.25)",
          });
          this.list.appendChild(wrapper);
          this.pages.push({ number: n, pdfPage, wrapper, canvas, renderedWidth: 0, visible: false, viewport: null });
        }
      } catch (err) {
        console.error("Paraf pdf-viewer:", err);
        this.status.textContent = this.strings.error;
        U.emit(this.el, "paraf:pdf-error", { error: String(err) });
        throw err;
      }
      this.status.textContent = "";
      U.toggle(this.status, false);

      const observer = new IntersectionObserver((entries) => {
        for (const entry of entries) {
          const p = this.pages[Number(entry.target.dataset.pageNumber) - 1];
          p.visible = entry.isIntersecting;
          if (p.visible) this._render(p);
        }
      }, { rootMargin: "100% 0px" });
      this.pages.forEach((p) => observer.observe(p.wrapper));

      let timer = null;
      new ResizeObserver(() => {
        clearTimeout(timer);
        timer = setTimeout(() => this.pages.filter((p) => p.visible).forEach((p) => this._render(p)), 150);
      }).observe(this.list);

      U.emit(this.el, "paraf:pdf-loaded", { numPages: this.doc.numPages });
      return this.doc;
    }

    async _render(p) {
      const width = this.width();
      if (Math.abs(p.renderedWidth - width) < 2) return;
      p.renderedWidth = width;
      try {
        const viewport = await renderPage(p.pdfPage, p.canvas, width);
        if (!viewport) return;
        p.viewport = viewport;
        U.emit(this.el, "paraf:page-rendered", { pageNumber: p.number, viewport });
      } catch (err) {
        p.renderedWidth = 0;
        console.error("Paraf: page " + p.number + " failed to render", err);
      }
    }
  }

  Paraf.pdf = { load, open, renderPage, PdfViewer };
  U.autoInit("[data-pdf-viewer]", "parafPdfViewer", (el) => new PdfViewer(el));
})(window);
