/*
 * Paraf widget: the SAFE listener for Peruri's web views (RELIABILITY-SECURITY 10-11).
 * Needs static/js/paraf-common.js first.
 *
 *   <div data-webview-listener
 *        data-kind="activation"                      which iFrame this page opened: activation | signing
 *        data-origin="{{ webview_origin }}"          Peruri's web-view origin, exactly (scheme://host[:port])
 *        data-func-activation="generateCertificate"  expected callback names (defaults shown;
 *        data-func-signing="signDocument"              Paraf passes settings.PERURI_WEBVIEW_CALLBACKS)
 *        data-order-id="{{ order.peruri_order_id }}" optional: a signing callback must name this order
 *        data-confirm-url="{% url 'signing:embedded_confirm' document.pk %}"
 *        data-iframe="peruri-frame"                  optional: the iframe's id (default: the first
 *                                                      iframe inside this element)
 *        data-strings="webview-strings">             (or data-text-*: see DEFAULTS below)
 *     {% csrf_token %}
 *     <iframe id="peruri-frame" src="{{ webview_url }}" allow="camera; microphone"
 *             referrerpolicy="origin" title="Peruri"></iframe>
 *     <p data-webview-status role="status"></p>      optional: where texts go (else one is added)
 *   </div>
 *
 * A message is accepted only when ALL hold, otherwise it is ignored without a trace:
 *   - event.origin === data-origin (exact string compare of the normalised origin);
 *   - event.source === that iframe's contentWindow (not another frame of the same origin);
 *   - event.data is a plain object whose `func` is the one expected for data-kind (a fixed map:
 *     nothing is ever looked up by the message's own func name);
 *   - event.data.message is a plain object with resultCode /^[0-9A-Z]{1,8}$/, resultDesc a string
 *     of at most 255 characters, and orderId (optional) a digit string (equal to data-order-id
 *     when that is set).
 * The callback is only a hint: the widget POSTs (same origin, X-CSRFToken from {% csrf_token %})
 * the form fields kind, func, resultCode, resultDesc[, orderId] to data-confirm-url, and the
 * SERVER asks Peruri (Check Certificate / Check Document Status) before changing anything.
 * It then follows the JSON reply: {"redirect": url} (same origin only) navigates; {"status": text}
 * is shown with textContent; {"status": text, "retry": seconds} also asks again after that delay
 * (at most 20 times, e.g. while Peruri is still issuing the certificate). One request at a time.
 * Events (bubbling): "paraf:webview-callback" {kind, resultCode, resultDesc, orderId}.
 */
(function (global) {
  "use strict";

  const Paraf = global.Paraf;
  const U = Paraf.util;
  const RESULT_CODE = /^[0-9A-Z]{1,8}$/;
  const ORDER_ID = /^[0-9]{1,20}$/;
  const MAX_RETRIES = 20;

  const DEFAULTS = {
    checking: "Checking the result with Peruri…",
    failed: "We could not check the result. Please reload the page.",
  };

  function isPlainObject(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  }

  function normalizeOrigin(value) {
    try {
      const origin = new URL(value).origin;
      return origin === "null" ? null : origin;
    } catch (err) {
      return null;
    }
  }

  /**
   * The pure check: returns {func, resultCode, resultDesc, orderId} for an acceptable message
   * data, or null. `expectedFunc` comes from the fixed map; `expectedOrderId` may be "".
   */
  function validateMessage(data, expectedFunc, expectedOrderId) {
    if (!isPlainObject(data) || typeof data.func !== "string" || data.func !== expectedFunc) return null;
    const m = data.message;
    if (!isPlainObject(m)) return null;
    if (typeof m.resultCode !== "string" || !RESULT_CODE.test(m.resultCode)) return null;
    if (typeof m.resultDesc !== "string" || m.resultDesc.length > 255) return null;
    let orderId = "";
    if (m.orderId !== undefined && m.orderId !== null) {
      if (typeof m.orderId !== "string" || !ORDER_ID.test(m.orderId)) return null;
      orderId = m.orderId;
    }
    if (expectedOrderId && orderId && orderId !== expectedOrderId) return null;
    return { func: data.func, resultCode: m.resultCode, resultDesc: m.resultDesc, orderId };
  }

  class WebviewListener {
    constructor(el) {
      this.el = el;
      const d = el.dataset;
      this.s = U.readStrings(el, DEFAULTS);
      this.origin = normalizeOrigin(d.origin || "");
      this.kind = d.kind;
      // The fixed map: which callback each kind of iFrame may send.
      const funcs = Object.freeze({
        activation: d.funcActivation || "generateCertificate",
        signing: d.funcSigning || "signDocument",
      });
      this.expectedFunc = Object.prototype.hasOwnProperty.call(funcs, this.kind) ? funcs[this.kind] : null;
      this.orderId = d.orderId || "";
      this.confirmUrl = U.sameOriginUrl(d.confirmUrl || "");
      this.iframe = d.iframe ? document.getElementById(d.iframe) : el.querySelector("iframe");
      this.status = el.querySelector("[data-webview-status]");
      if (!this.status) {
        this.status = U.h("p", { className: "webview-status", role: "status" });
        el.appendChild(this.status);
      }
      this.busy = false;
      this.done = false;
      if (!this.origin || !this.expectedFunc || !this.iframe || !this.confirmUrl) {
        console.error("Paraf webview-listener: needs data-origin, data-kind, data-confirm-url and an iframe");
        return;
      }
      this.onMessage = (event) => this._receive(event);
      global.addEventListener("message", this.onMessage);
    }

    _receive(event) {
      if (this.done || this.busy) return;
      if (event.origin !== this.origin) return;
      if (!this.iframe.contentWindow || event.source !== this.iframe.contentWindow) return;
      const message = validateMessage(event.data, this.expectedFunc, this.orderId);
      if (!message) return;
      U.emit(this.el, "paraf:webview-callback", {
        kind: this.kind, resultCode: message.resultCode, resultDesc: message.resultDesc, orderId: message.orderId,
      });
      this._confirm(message, 0);
    }

    async _confirm(message, attempt) {
      this.busy = true;
      this.status.textContent = this.s.checking;
      const body = new FormData();
      body.set("kind", this.kind);
      body.set("func", message.func);
      body.set("resultCode", message.resultCode);
      body.set("resultDesc", message.resultDesc);
      if (message.orderId) body.set("orderId", message.orderId);
      let reply;
      try {
        reply = await U.postForm(this.confirmUrl, body, U.csrfToken(this.el));
      } catch (err) {
        reply = { ok: false, status: 0, data: null };
      }
      const data = reply.data;
      if (!reply.ok || !data || typeof data !== "object") {
        this.busy = false;
        this.status.textContent = (data && typeof data.status === "string" && data.status) || this.s.failed;
        return;
      }
      if (U.followReply(data, this.status)) {
        this.done = true;
        global.removeEventListener("message", this.onMessage);
        return;
      }
      const retry = Number(data.retry);
      if (retry > 0 && attempt < MAX_RETRIES) {
        setTimeout(() => this._confirm(message, attempt + 1), Math.min(retry, 60) * 1000);
        return;
      }
      this.busy = false;
    }
  }

  Paraf.webview = { validateMessage, WebviewListener };
  U.autoInit("[data-webview-listener]", "parafWebviewListener", (el) => new WebviewListener(el));
})(window);
