// The console's entry point: signs in, reads the view from the URL, runs the query (the
// results and the histogram at once, one bounds for both), and wires the controls. A new search
// cancels the one in flight. `body[data-busy]` is "1" while a search's answers are pending and
// "0" once all of them are drawn; `body[data-state]` is "loading", "signin" or "ready".

import { ApiError } from "./api.js";
import { Histogram } from "./histogram.js";
import { Live } from "./live.js";
import { Panels } from "./panels.js";
import { QueryBar } from "./querybar.js";
import { Results } from "./results.js";
import { signIn } from "./signin.js";
import { boundsOf, fromLocalInput, readView, toLocalInput, writeView } from "./view.js";

const form = document.getElementById("query-form");
const queryInput = document.getElementById("query");
const rangeSelect = document.getElementById("range");
const customRange = document.getElementById("custom-range");
const sinceInput = document.getElementById("since");
const untilInput = document.getElementById("until");
const errorBox = document.getElementById("error");

let view = readView();
let bounds = boundsOf(view);
let search = null;

const histogram = new Histogram((since, until) => {
  view = { ...view, range: "custom", since, until };
  showView();
  writeView(view);
  run();
});
const results = new Results((term) => addTerm(term));
const live = new Live(
  (events) => results.prepend(events),
  (error) => {
    // The tail was refused (a 4xx): live mode is off, and the URL says so.
    showError(error);
    view = { ...view, live: false };
    writeView(view, { replace: true });
  },
);
const queryBar = new QueryBar(() => bounds);
const panels = new Panels(() => bounds, (topic) => addTerm(`topic:"${topic.replace(/[\\"]/g, (c) => `\\${c}`)}"`));

/** Puts the view into the controls. */
function showView() {
  queryInput.value = view.q;
  rangeSelect.value = view.range;
  customRange.hidden = view.range !== "custom";
  if (view.range === "custom") {
    sinceInput.value = toLocalInput(view.since);
    untilInput.value = toLocalInput(view.until);
  }
}

/** Reads the controls into the view. */
function takeControls() {
  const range = rangeSelect.value;
  if (range === "custom") {
    const since = fromLocalInput(sinceInput.value) || bounds.since;
    const until = fromLocalInput(untilInput.value) || bounds.until;
    view = { ...view, q: queryInput.value.trim(), range, since, until };
  } else {
    view = { ...view, q: queryInput.value.trim(), range, since: null, until: null };
  }
}

/** Narrows the query with `term` (AND), keeping an OR of the query together. */
function addTerm(term) {
  const q = view.q.trim();
  const grouped = /\bOR\b/.test(q) ? `(${q})` : q;
  view = { ...view, q: q ? `${grouped} ${term}` : term };
  showView();
  writeView(view);
  run();
  queryInput.focus();
}

function showError(error) {
  errorBox.textContent = error.message;
  errorBox.hidden = false;
  queryInput.setAttribute("aria-invalid", String(error instanceof ApiError && error.status === 400));
}

function clearError() {
  errorBox.textContent = "";
  errorBox.hidden = true;
  queryInput.removeAttribute("aria-invalid");
}

/** Runs the view's query: the results and the histogram over the same bounds. */
async function run() {
  search?.abort();
  const controller = new AbortController();
  search = controller;
  bounds = boundsOf(view);
  document.body.dataset.busy = "1";
  clearError();
  queryBar.reset();
  if (view.live) live.start(view.q);
  const outcomes = await Promise.allSettled([
    results.load(view.q, bounds, controller.signal),
    histogram.load(view.q, bounds, controller.signal),
  ]);
  if (search !== controller) return;
  const failure = outcomes.find((outcome) => outcome.status === "rejected");
  if (failure && failure.reason?.name !== "AbortError") showError(failure.reason);
  document.body.dataset.busy = "0";
}

function toggleLive() {
  if (live.on) {
    live.stop();
    view = { ...view, live: false };
  } else {
    live.start(view.q);
    view = { ...view, live: true };
  }
  writeView(view, { replace: true });
}

async function start() {
  await signIn();
  document.getElementById("loading").hidden = true;
  document.getElementById("console").hidden = false;
  document.body.dataset.state = "ready";
  showView();
  writeView(view, { replace: true });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    takeControls();
    writeView(view);
    run();
  });
  rangeSelect.addEventListener("change", () => {
    if (rangeSelect.value === "custom") {
      customRange.hidden = false;
      sinceInput.value = toLocalInput(bounds.since);
      untilInput.value = toLocalInput(bounds.until);
      sinceInput.focus();
      return;
    }
    takeControls();
    customRange.hidden = true;
    writeView(view);
    run();
  });
  window.addEventListener("popstate", () => {
    view = readView();
    showView();
    run();
  });
  document.getElementById("live").addEventListener("click", toggleLive);
  document.getElementById("pause").addEventListener("click", () => live.togglePause());

  await run();
  panels.start();
}

start();
