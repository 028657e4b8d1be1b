/*
 * The sandbox's web views (activation and signing), driving the shared widgets of static/js/ and
 * reporting the outcome to the partner's page with window.parent.postMessage.
 *
 * Configuration: the json_script #webview-config rendered by sandbox/webviews.py:
 *   {page: "activation"|"signing", func, partnerOrigins: [...], step, callback?, orderId?}
 * The message goes only to the partner origin that frames us (document.referrer's origin, else
 * location.ancestorOrigins[0], when it is one of partnerOrigins; else the only partner origin
 * configured) — never to "*". Not framed (opened from the e-mail link): nothing is posted.
 */
(function () {
  "use strict";

  const U = window.Paraf.util;
  const config = JSON.parse(document.getElementById("webview-config").textContent);

  function originOf(url) {
    try {
      return new URL(url).origin;
    } catch (err) {
      return null;
    }
  }

  function partnerOrigin() {
    const allowed = config.partnerOrigins || [];
    const seen = [];
    if (document.referrer) seen.push(originOf(document.referrer));
    if (window.location.ancestorOrigins && window.location.ancestorOrigins.length) {
      seen.push(window.location.ancestorOrigins[0]);
    }
    const match = seen.find((origin) => origin && allowed.includes(origin));
    if (match) return match;
    // The browser delivers nothing if the parent is not on this origin, so this stays safe.
    return allowed.length === 1 ? allowed[0] : null;
  }

  let reported = false;

  /** Report the outcome once: {resultCode, resultDesc[, orderId]} as Peruri's callback. */
  function notifyParent(message) {
    if (reported || window.parent === window) return;
    const origin = partnerOrigin();
    if (!origin) {
      U.toggle(document.querySelector("[data-frame-warning]"), true);
      return;
    }
    reported = true;
    const payload = { resultCode: String(message.resultCode), resultDesc: String(message.resultDesc).slice(0, 255) };
    if (config.page === "signing") payload.orderId = String(message.orderId || config.orderId || "");
    window.parent.postMessage({ func: config.func, message: payload }, origin);
    document.body.dataset.callbackSent = payload.resultCode;
  }

  function section(name) {
    return document.querySelector('[data-section="' + name + '"]');
  }

  // ------------------------------------------------------------------------------- activation

  function activation() {
    const order = ["video", "specimen", "done"];
    function show(step) {
      order.forEach((name) => {
        const node = section(name);
        if (node) U.toggle(node, name === step);
        const item = document.querySelector('[data-step="' + name + '"]');
        if (item) {
          item.classList.toggle("is-current", name === step);
          item.classList.toggle("is-done", order.indexOf(name) < order.indexOf(step));
        }
      });
    }
    if (config.step && config.step !== "error") show(config.step);
    if (config.callback) notifyParent(config.callback);

    const video = section("video");
    const specimen = section("specimen");
    if (video) {
      video.addEventListener("paraf:video-uploaded", () => show("specimen"));
      video.addEventListener("paraf:video-upload-failed", (e) => {
        const data = e.detail.data;
        if (data && data.final) notifyParent(data);
      });
    }
    if (specimen) {
      specimen.addEventListener("paraf:signature-uploaded", (e) => {
        show("done");
        notifyParent(e.detail.data);
      });
      specimen.addEventListener("paraf:signature-upload-failed", (e) => {
        const data = e.detail.data;
        if (data && data.final) notifyParent(data);
      });
    }
  }

  // ------------------------------------------------------------------------------- signing

  function signing() {
    if (config.callback) notifyParent(config.callback);
    const form = document.getElementById("sign-form");
    if (!form) return;
    const requestBtn = form.querySelector('[data-action="request-otp"]');
    const resendBtn = form.querySelector('[data-action="resend-otp"]');
    const signBtn = form.querySelector('[data-action="sign"]');
    const entry = form.querySelector("[data-otp-entry]");
    const status = form.querySelector("[data-otp-status]");
    const error = form.querySelector("[data-error]");
    const otpInput = form.elements.otp;
    let cooldown = null;

    function showError(text) {
      error.textContent = text || "";
      U.toggle(error, !!text);
    }

    function finish(data, ok) {
      if (ok) {
        U.toggle(form, false);
        U.toggle(section("done"), true);
      } else {
        requestBtn.disabled = true;
        resendBtn.disabled = true;
        signBtn.disabled = true;
      }
      notifyParent(data);
    }

    async function post(url) {
      const body = new FormData(form);
      try {
        return await U.postForm(url, body, "");
      } catch (err) {
        return { ok: false, status: 0, data: null };
      }
    }

    function startCooldown(seconds) {
      clearInterval(cooldown);
      let left = seconds;
      resendBtn.disabled = true;
      resendBtn.textContent = "Kirim ulang kode (" + left + ")";
      cooldown = setInterval(() => {
        left -= 1;
        if (left <= 0) {
          clearInterval(cooldown);
          resendBtn.disabled = false;
          resendBtn.textContent = "Kirim ulang kode";
          return;
        }
        resendBtn.textContent = "Kirim ulang kode (" + left + ")";
      }, 1000);
    }

    async function requestOtp() {
      showError("");
      requestBtn.disabled = true;
      const reply = await post(form.dataset.otpUrl);
      requestBtn.disabled = false;
      const data = reply.data || {};
      if (!reply.ok || data.resultCode !== "0") {
        showError(data.error || "Kode OTP gagal dikirim. Silakan coba lagi.");
        if (data.final) finish(data, false);
        return;
      }
      form.elements.ticket.value = data.ticket;
      status.textContent = data.status;
      U.toggle(requestBtn, false);
      U.toggle(entry, true);
      otpInput.value = "";
      otpInput.focus();
      startCooldown(30);
    }

    async function sign(e) {
      e.preventDefault();
      showError("");
      if (!/^[0-9]{6}$/.test(otpInput.value.trim())) {
        showError("Masukkan 6 digit kode OTP.");
        return;
      }
      signBtn.disabled = true;
      status.textContent = "Menandatangani dokumen…";
      const reply = await post(form.dataset.signUrl);
      signBtn.disabled = false;
      const data = reply.data || {};
      if (reply.ok && data.resultCode === "0") {
        finish(data, true);
        return;
      }
      status.textContent = "";
      showError(data.error || "Dokumen gagal ditandatangani. Silakan coba lagi.");
      if (data.final) finish(data, false);
      else if (data.resultCode === "4026") {
        // The code is used up, burned or expired: ask for a new one.
        U.toggle(entry, false);
        U.toggle(requestBtn, true);
      }
    }

    requestBtn.addEventListener("click", requestOtp);
    resendBtn.addEventListener("click", requestOtp);
    form.addEventListener("submit", sign);
  }

  if (config.page === "activation") activation();
  else if (config.page === "signing") signing();
})();
