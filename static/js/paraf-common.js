/*
 * Paraf widgets: shared helpers (load this before any other static/js/ widget).
 *
 * Everything hangs off one global, `window.Paraf`. No inline script or style is needed anywhere:
 * widgets read their configuration from data- attributes, and their texts from
 *   - a json_script element named by data-strings:   data-strings="video-strings"
 *       {{ video_strings|json_script:"video-strings" }}   (a dict of translated texts)
 *   - or one data-text-<key> attribute per text:      data-text-retake="{% translate 'Retake' %}"
 * Later sources win; a key given nowhere falls back to the widget's English default.
 * Texts are only ever written with textContent, never as HTML.
 */
(function (global) {
  "use strict";

  const Paraf = (global.Paraf = global.Paraf || {});

  /** Merge a widget's default texts with the ones the template rendered. */
  function readStrings(el, defaults) {
    const out = Object.assign({}, defaults);
    const id = el.dataset.strings;
    if (id) {
      const node = document.getElementById(id);
      if (node) {
        try {
          const parsed = JSON.parse(node.textContent);
          if (parsed && typeof parsed === "object") {
            for (const [k, v] of Object.entries(parsed)) {
              if (typeof v === "string") out[k] = v;
            }
          }
        } catch (err) {
          console.error("Paraf: bad JSON in #" + id, err);
        }
      }
    }
    for (const [name, value] of Object.entries(el.dataset)) {
      // data-text-page-of -> dataset.textPageOf -> key "page_of" (keys are snake_case, as in the
      // Python dicts templates pass to json_script).
      if (name.length > 4 && name.startsWith("text")) {
        const key = (name.charAt(4).toLowerCase() + name.slice(5)).replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
        out[key] = value;
      }
    }
    return out;
  }

  /** "Page {page} of {pages}" + {page: 2, pages: 5} -> "Page 2 of 5". Plain text only. */
  function format(template, values) {
    return String(template).replace(/\{(\w+)\}/g, (m, k) =>
      Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m,
    );
  }

  /** The text for `key`, with {placeholders} filled from `values`. */
  function t(strings, key, values) {
    const s = strings[key] === undefined ? key : strings[key];
    return values ? format(s, values) : s;
  }

  /** Create an element: h("button", {className: "x", type: "button", text: "Go"}, [children]). */
  function h(tag, props, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else if (k === "hidden") toggle(node, !v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children || []) {
      if (child) node.appendChild(child);
    }
    return node;
  }

  /** Set several CSSOM properties (allowed under style-src 'self', unlike style="" attributes). */
  function css(node, styles) {
    for (const [k, v] of Object.entries(styles)) {
      if (k === "display") {
        node._parafDisplay = v; // remembered for toggle(); a hidden node stays hidden
        if (node.hidden) continue;
      }
      node.style[k] = v;
    }
    return node;
  }

  /**
   * Show or hide a node. Sets the `hidden` attribute AND an inline display:none, because a
   * stylesheet rule such as `button { display: inline-block }` beats the browser's [hidden] rule.
   */
  function toggle(node, visible) {
    node.hidden = !visible;
    node.style.display = visible ? node._parafDisplay || "" : "none";
  }

  /** The form a widget belongs to: data-form="<form id>", else the enclosing form. */
  function formOf(el) {
    if (el.dataset.form) return document.getElementById(el.dataset.form);
    return el.closest("form");
  }

  /**
   * Resolve an input named by a data attribute: a field name inside the widget's form first,
   * then an element id anywhere in the document.
   */
  function findInput(el, ref) {
    if (!ref) return null;
    const form = formOf(el);
    if (form && form.elements[ref] && form.elements[ref].nodeType === 1) return form.elements[ref];
    return document.getElementById(ref);
  }

  /**
   * The CSRF token rendered by {% csrf_token %} (the cookie is HttpOnly, so JS reads the hidden
   * input): data-csrf-input="<id>", else the one in the widget's form, else the first on the page.
   */
  function csrfToken(el) {
    let input = el.dataset.csrfInput ? document.getElementById(el.dataset.csrfInput) : null;
    const form = formOf(el);
    if (!input && form) input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!input) input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /** `url` resolved against this page, or null unless it is on this page's own origin. */
  function sameOriginUrl(url) {
    try {
      const u = new URL(url, global.location.href);
      return u.origin === global.location.origin ? u.href : null;
    } catch (err) {
      return null;
    }
  }

  /**
   * POST a FormData to our own server with the CSRF token; resolves {ok, status, data} where data
   * is the parsed JSON reply (or null). Rejects only on network errors.
   */
  async function postForm(url, formData, token) {
    const target = sameOriginUrl(url);
    if (!target) throw new Error("Paraf: refusing to POST to another origin: " + url);
    const response = await fetch(target, {
      method: "POST",
      body: formData,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, Accept: "application/json", "X-Requested-With": "XMLHttpRequest" },
    });
    let data = null;
    if ((response.headers.get("Content-Type") || "").includes("json")) {
      try {
        data = await response.json();
      } catch (err) {
        data = null;
      }
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  /**
   * Follow a JSON reply from our server: {"redirect": url} (same origin only) navigates,
   * {"status": text} is shown in statusEl. Returns true when it navigated.
   */
  function followReply(data, statusEl) {
    if (!data || typeof data !== "object") return false;
    if (typeof data.redirect === "string") {
      const url = sameOriginUrl(data.redirect);
      if (url) {
        global.location.assign(url);
        return true;
      }
    }
    if (typeof data.status === "string" && statusEl) statusEl.textContent = data.status;
    return false;
  }

  /** Put a File into an <input type=file> (so a normal form submit uploads it). */
  function putFile(input, file) {
    const dt = new DataTransfer();
    dt.items.add(file);
    input.files = dt.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  /** Run init(el) for each element matching selector once the DOM is ready (once per element). */
  function autoInit(selector, key, init) {
    const run = () => {
      document.querySelectorAll(selector).forEach((el) => {
        if (el[key]) return;
        try {
          el[key] = init(el);
        } catch (err) {
          console.error("Paraf: could not start widget", selector, err);
        }
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
    else run();
  }

  function emit(el, name, detail) {
    el.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }

  Paraf.util = {
    readStrings, format, t, h, css, toggle, formOf, findInput, csrfToken, sameOriginUrl, postForm,
    followReply, putFile, autoInit, emit,
  };
})(window);
