/*
 * Paraf widget: record a short face video (getUserMedia + MediaRecorder) for e-KYC.
 * Needs static/js/paraf-common.js first.
 *
 *   <form method="post" enctype="multipart/form-data">{% csrf_token %}
 *     <div data-video-recorder
 *          data-upload-url="{% url 'certificates:video_upload' enrolment.pk %}"   either: POST it
 *          data-field-name="video"              form field of the upload (default "video")
 *          data-file-input="video"              or: put it into this <input type=file> (name/id)
 *          data-max-seconds="10"                recording stops by itself (default 10)
 *          data-min-seconds="3"                 "Stop" is offered after this (default 3)
 *          data-countdown="3"                   seconds before recording starts (default 3)
 *          data-max-bytes="10485760"            larger recordings are refused (default 10 MB)
 *          data-bitrate="1000000"               video bits per second asked for (default 1 Mbit/s)
 *          data-audio="false"                   record sound too (default false)
 *          data-strings="video-strings"></div>  (or data-text-*: see DEFAULTS below)
 *   </form>
 *
 * Steps: instructions -> camera on -> countdown -> recording (time left shown, stops at the
 * limit) -> preview with "record again" / "send". The camera is switched off as soon as
 * recording stops.
 * Upload mode: POSTs the enclosing form's fields (so {% csrf_token %} and any hidden ids come
 * along) plus the video as <field-name>, with the X-CSRFToken header, to data-upload-url; the JSON
 * reply {"redirect": url} (same origin only) navigates, {"status": text} is shown, {"error": text}
 * is shown and lets the user try again. File-input mode: the video becomes that input's file
 * (DataTransfer), so an ordinary form submit uploads it.
 * Events (bubbling): "paraf:video-recorded" {file}, "paraf:video-uploaded" {status, data},
 * "paraf:video-upload-failed" {status, data}.
 * Format: WebM (VP8/VP9) where the browser can, else MP4 (Safari); both are what Peruri accepts.
 */
(function (global) {
  "use strict";

  const Paraf = global.Paraf;
  const U = Paraf.util;
  const TYPES = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm", "video/mp4;codecs=avc1", "video/mp4"];

  const DEFAULTS = {
    intro: "We need a short video of your face to confirm who you are. Find good light, take off glasses, hats and masks, and look straight at the camera.",
    start_camera: "Turn on the camera",
    starting: "Starting the camera…",
    ready: "Put your face in the middle of the picture, then start recording.",
    record: "Start recording",
    countdown: "Recording starts in {seconds}…",
    recording: "Recording… {seconds} s left. Turn your head slowly to the left, then to the right.",
    stop: "Stop",
    review: "Check your video: your face must be clearly visible. Send it, or record it again.",
    retake: "Record again",
    use: "Send this video",
    uploading: "Sending the video…",
    uploaded: "The video has been sent.",
    attached: "The video is ready and will be sent with the form.",
    too_big: "The video is too large ({size} MB, at most {max} MB). Please record it again.",
    denied: "Camera access was refused. Allow the camera for this site in your browser settings, then try again.",
    no_camera: "No camera was found on this device.",
    unsupported: "This browser cannot record video. Please use a recent Chrome, Firefox or Safari.",
    camera_error: "The camera could not be started. Close other apps that use it and try again.",
    upload_failed: "The video could not be sent. Please try again.",
  };

  function pickType() {
    if (!global.MediaRecorder) return null;
    if (typeof MediaRecorder.isTypeSupported !== "function") return "";
    return TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  }

  function mb(bytes) {
    return (bytes / 1048576).toFixed(1);
  }

  class VideoRecorder {
    constructor(el) {
      this.el = el;
      const d = el.dataset;
      this.s = U.readStrings(el, DEFAULTS);
      this.maxSeconds = Number(d.maxSeconds) || 10;
      this.minSeconds = Math.min(Number(d.minSeconds) || 3, this.maxSeconds);
      this.countdownSeconds = d.countdown === undefined ? 3 : Number(d.countdown);
      this.maxBytes = Number(d.maxBytes) || 10 * 1048576;
      this.bitrate = Number(d.bitrate) || 1000000;
      this.audio = d.audio === "true";
      this.uploadUrl = d.uploadUrl || "";
      this.fieldName = d.fieldName || "video";
      this.fileInput = d.fileInput ? U.findInput(el, d.fileInput) : null;
      this.stream = null;
      this.file = null;
      this.previewUrl = null;
      this._build();
      this._show("intro");
    }

    _build() {
      const s = this.s;
      this.message = U.h("p", { className: "vr-message", "aria-live": "polite" });
      this.error = U.h("p", { className: "vr-error errors", role: "alert", hidden: true });
      this.live = U.h("video", { className: "vr-live", muted: true, playsinline: true, autoplay: true, hidden: true });
      this.live.muted = true;
      this.playback = U.h("video", { className: "vr-playback", controls: true, playsinline: true, hidden: true });
      this.counter = U.h("div", { className: "vr-countdown", "aria-hidden": "true", hidden: true });
      this.progress = U.h("progress", { className: "vr-progress", max: String(this.maxSeconds), value: "0", hidden: true });
      for (const v of [this.live, this.playback]) {
        U.css(v, {
          display: "block", width: "100%", maxWidth: "480px", aspectRatio: "4 / 3", background: "#000",
          borderRadius: "8px", objectFit: "cover", transform: "scaleX(-1)", margin: "0 auto",
        });
      }
      U.css(this.counter, {
        position: "absolute", inset: "0", display: "flex", alignItems: "center", justifyContent: "center",
        fontSize: "4rem", fontWeight: "700", color: "#fff", textShadow: "0 2px 8px #000", pointerEvents: "none",
      });
      U.css(this.progress, { display: "block", width: "100%", maxWidth: "480px", margin: ".5rem auto 0" });
      const screen = U.h("div", { className: "vr-screen" }, [this.live, this.playback, this.counter]);
      U.css(screen, { position: "relative", maxWidth: "480px", margin: "0 auto" });

      const button = (key, cls) => U.h("button", { type: "button", className: cls || "", text: s[key] });
      this.buttons = {
        start: button("start_camera"),
        record: button("record"),
        stop: button("stop", "danger"),
        retake: button("retake", "secondary"),
        use: button("use"),
      };
      const bar = U.h("div", { className: "vr-buttons" }, Object.values(this.buttons));
      U.css(bar, { display: "flex", gap: ".5rem", flexWrap: "wrap", justifyContent: "center" });
      this.el.append(this.message, this.error, screen, this.progress, bar);

      this.buttons.start.addEventListener("click", () => this.startCamera());
      this.buttons.record.addEventListener("click", () => this.startCountdown());
      this.buttons.stop.addEventListener("click", () => this.stopRecording());
      this.buttons.retake.addEventListener("click", () => this.startCamera());
      this.buttons.use.addEventListener("click", () => this.upload());
    }

    /** Show one step: which text, which screen, which buttons. */
    _show(step, text) {
      this.step = step;
      const visible = {
        intro: ["start"], starting: [], live: ["record"], countdown: [], recording: ["stop"],
        review: this.uploadUrl ? ["retake", "use"] : ["retake"], uploading: [], done: [],
        failed: this.uploadUrl && this.file ? ["retake", "use"] : ["retake"],
        camera_failed: ["start"],
      }[step];
      for (const [name, btn] of Object.entries(this.buttons)) {
        U.toggle(btn, visible.includes(name));
        btn.disabled = false;
      }
      const keys = { intro: "intro", starting: "starting", live: "ready", review: "review", uploading: "uploading" };
      if (text !== undefined) this.message.textContent = text;
      else if (keys[step]) this.message.textContent = this.s[keys[step]];
      U.toggle(this.live, ["live", "countdown", "recording"].includes(step));
      U.toggle(this.playback, ["review", "uploading", "done", "failed"].includes(step) && !!this.previewUrl);
      U.toggle(this.counter, step === "countdown");
      U.toggle(this.progress, step === "recording");
      if (step !== "failed" && step !== "camera_failed") this._error("");
    }

    _error(text) {
      this.error.textContent = text;
      U.toggle(this.error, !!text);
    }

    async startCamera() {
      this._clearRecording();
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || pickType() === null) {
        this._show("camera_failed", "");
        this._error(this.s.unsupported);
        return;
      }
      this._show("starting");
      try {
        this.stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } },
          audio: this.audio,
        });
      } catch (err) {
        const name = err && err.name;
        this._show("camera_failed", "");
        this._error(
          name === "NotAllowedError" || name === "SecurityError" ? this.s.denied
            : name === "NotFoundError" || name === "OverconstrainedError" ? this.s.no_camera
              : this.s.camera_error,
        );
        return;
      }
      this.live.srcObject = this.stream;
      try {
        await this.live.play();
      } catch (err) {
        // Autoplay of a muted inline video is allowed everywhere; ignore a racing pause.
      }
      this._show("live");
    }

    startCountdown() {
      let left = this.countdownSeconds;
      if (left <= 0) {
        this.startRecording();
        return;
      }
      this._show("countdown", U.t(this.s, "countdown", { seconds: left }));
      this.counter.textContent = String(left);
      this.countdownTimer = setInterval(() => {
        left -= 1;
        if (left <= 0) {
          clearInterval(this.countdownTimer);
          this.startRecording();
          return;
        }
        this.counter.textContent = String(left);
        this.message.textContent = U.t(this.s, "countdown", { seconds: left });
      }, 1000);
    }

    startRecording() {
      const type = pickType();
      const options = { videoBitsPerSecond: this.bitrate };
      if (type) options.mimeType = type;
      let recorder;
      try {
        recorder = new MediaRecorder(this.stream, options);
      } catch (err) {
        this._stopCamera();
        this._show("camera_failed", "");
        this._error(this.s.unsupported);
        return;
      }
      this.recorder = recorder;
      const chunks = [];
      let size = 0;
      this.tooBig = false;
      recorder.addEventListener("dataavailable", (e) => {
        if (!e.data || !e.data.size) return;
        chunks.push(e.data);
        size += e.data.size;
        if (size > this.maxBytes && recorder.state === "recording") {
          this.tooBig = true;
          recorder.stop();
        }
      });
      recorder.addEventListener("stop", () => this._finish(new Blob(chunks, { type: (recorder.mimeType || type || "video/webm").split(";")[0] })));
      const started = Date.now();
      recorder.start(500);
      this._show("recording", U.t(this.s, "recording", { seconds: this.maxSeconds }));
      this.buttons.stop.disabled = true;
      this.tick = setInterval(() => {
        const elapsed = (Date.now() - started) / 1000;
        this.progress.value = Math.min(elapsed, this.maxSeconds);
        this.message.textContent = U.t(this.s, "recording", { seconds: Math.max(0, Math.ceil(this.maxSeconds - elapsed)) });
        this.buttons.stop.disabled = elapsed < this.minSeconds;
        if (elapsed >= this.maxSeconds) this.stopRecording();
      }, 200);
    }

    stopRecording() {
      clearInterval(this.tick);
      if (this.recorder && this.recorder.state === "recording") this.recorder.stop();
    }

    _finish(blob) {
      clearInterval(this.tick);
      this._stopCamera();
      if (this.tooBig || blob.size > this.maxBytes) {
        this._show("failed", "");
        this._error(U.t(this.s, "too_big", { size: mb(blob.size), max: mb(this.maxBytes) }));
        return;
      }
      const ext = blob.type.includes("mp4") ? "mp4" : "webm";
      this.file = new File([blob], "face-video." + ext, { type: blob.type });
      this.previewUrl = URL.createObjectURL(blob);
      this.playback.src = this.previewUrl;
      if (this.fileInput) {
        U.putFile(this.fileInput, this.file);
        this._show("review", this.s.review + " " + this.s.attached);
      } else {
        this._show("review");
      }
      U.emit(this.el, "paraf:video-recorded", { file: this.file });
    }

    async upload() {
      if (!this.file || !this.uploadUrl) return;
      const form = U.formOf(this.el);
      const data = form ? new FormData(form) : new FormData();
      if (this.fileInput) data.delete(this.fileInput.name);
      data.set(this.fieldName, this.file, this.file.name);
      this._show("uploading");
      let reply;
      try {
        reply = await U.postForm(this.uploadUrl, data, U.csrfToken(this.el));
      } catch (err) {
        reply = { ok: false, status: 0, data: null };
      }
      if (!reply.ok || (reply.data && typeof reply.data.error === "string")) {
        this._show("failed", "");
        this._error((reply.data && typeof reply.data.error === "string" && reply.data.error) || this.s.upload_failed);
        U.emit(this.el, "paraf:video-upload-failed", { status: reply.status, data: reply.data });
        return;
      }
      this._show("done", this.s.uploaded);
      U.emit(this.el, "paraf:video-uploaded", { status: reply.status, data: reply.data });
      U.followReply(reply.data, this.message);
    }

    _stopCamera() {
      if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
      this.stream = null;
      this.live.srcObject = null;
    }

    _clearRecording() {
      clearInterval(this.countdownTimer);
      clearInterval(this.tick);
      this._stopCamera();
      if (this.previewUrl) URL.revokeObjectURL(this.previewUrl);
      this.previewUrl = null;
      this.file = null;
      this.playback.removeAttribute("src");
      if (this.fileInput) this.fileInput.value = "";
    }
  }

  Paraf.VideoRecorder = VideoRecorder;
  U.autoInit("[data-video-recorder]", "parafVideoRecorder", (el) => new VideoRecorder(el));
})(window);
