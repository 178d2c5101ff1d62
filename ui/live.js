// Live mode: follows the query through `/events/stream` (Server-Sent Events) and hands each
// event to the page. The stream is read with `fetch`, not `EventSource`, because only `fetch`
// can send the key as a header (a key never goes in a URL). Every event's SSE id is the cursor
// after it: a reconnect (the server restarted, the network dropped) or a resume after a pause
// sends the last one as `Last-Event-ID`, so the server continues exactly there: no gap, no
// repeat. Pausing closes the stream; what arrives meanwhile is sent on resume.

import { errorOf, requestHeaders, urlOf } from "./api.js";

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;
/** The window of the events-per-second figure. */
const RATE_WINDOW_MS = 5000;

export class Live {
  /** `onEvents(events)` gets each batch of events, oldest first; `onError(error)` a refusal. */
  constructor(onEvents, onError) {
    this.onEvents = onEvents;
    this.onError = onError;
    this.button = document.getElementById("live");
    this.pauseButton = document.getElementById("pause");
    this.status = document.getElementById("live-status");
    this.rate = document.getElementById("live-rate");
    this.controller = null;
    this.lastId = null;
    this.q = "";
    this.running = false;
    this.paused = false;
    this.arrivals = [];
    this.rateTimer = null;
  }

  get on() {
    return this.running;
  }

  /** Starts following `q` from now. */
  start(q) {
    this.stop();
    this.q = q;
    this.lastId = null;
    this.running = true;
    this.paused = false;
    this.arrivals = [];
    this.button.setAttribute("aria-pressed", "true");
    this.pauseButton.disabled = false;
    this.pauseButton.setAttribute("aria-pressed", "false");
    this.pauseButton.textContent = "Pause";
    this.rateTimer = setInterval(() => this.showRate(), 1000);
    this.follow();
  }

  stop() {
    this.running = false;
    this.controller?.abort();
    this.controller = null;
    clearInterval(this.rateTimer);
    this.button.setAttribute("aria-pressed", "false");
    this.pauseButton.disabled = true;
    this.pauseButton.setAttribute("aria-pressed", "false");
    this.setStatus("off");
    this.rate.textContent = "";
  }

  togglePause() {
    if (!this.running) return;
    this.paused = !this.paused;
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    this.pauseButton.textContent = this.paused ? "Resume" : "Pause";
    if (this.paused) {
      this.controller?.abort();
      this.controller = null;
      this.setStatus("paused");
    } else {
      this.follow();
    }
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.dataset.status = text;
  }

  showRate() {
    const now = performance.now();
    this.arrivals = this.arrivals.filter((at) => now - at < RATE_WINDOW_MS);
    const perSecond = this.arrivals.length / (RATE_WINDOW_MS / 1000);
    this.rate.textContent = this.paused ? "" : `${perSecond.toFixed(perSecond < 10 ? 1 : 0)} events/s`;
  }

  /** Reads the stream until stopped or paused, reconnecting after failures. */
  async follow() {
    const controller = new AbortController();
    this.controller = controller;
    let retry = RETRY_FIRST_MS;
    while (this.controller === controller && !controller.signal.aborted) {
      this.setStatus(this.lastId === null ? "connecting" : "reconnecting");
      try {
        const headers = requestHeaders({ Accept: "text/event-stream" });
        if (this.lastId !== null) headers["Last-Event-ID"] = this.lastId;
        const response = await fetch(urlOf("/events/stream", { q: this.q }), {
          headers,
          credentials: "omit",
          cache: "no-store",
          signal: controller.signal,
        });
        if (!response.ok) {
          const error = await errorOf(response);
          if (error.status >= 400 && error.status < 500 && error.status !== 429) {
            this.onError(error);
            this.stop();
            return;
          }
          throw error;
        }
        await this.read(response.body, controller, () => {
          retry = RETRY_FIRST_MS;
          this.setStatus("live");
        });
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      if (controller.signal.aborted) return;
      this.setStatus("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retry));
      retry = Math.min(retry * 2, RETRY_MAX_MS);
    }
  }

  /** Parses the SSE stream: `id:`, `event:` and `data:` lines, an empty line ends an event. */
  async read(body, controller, onOpen) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let fields = { id: null, event: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done || controller.signal.aborted) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      const batch = [];
      for (const line of lines) {
        if (line === "") {
          if (fields.id !== null) this.lastId = fields.id;
          if (fields.event === "position") onOpen();
          else if (fields.data.length) batch.push(JSON.parse(fields.data.join("\n")));
          fields = { id: null, event: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "id") fields.id = text;
        else if (name === "event") fields.event = text;
        else if (name === "data") fields.data.push(text);
      }
      if (batch.length) {
        const now = performance.now();
        for (let i = 0; i < batch.length; i += 1) this.arrivals.push(now);
        this.onEvents(batch);
      }
    }
  }
}
