// What the console shows — the query, the time range and whether it follows live — kept in the
// page's URL, so that a link or a reload reproduces the view. Relative ranges (`15m`, `1h`,
// `24h`, `7d`) end at the moment a search runs; a custom range is two instants.

/** The relative ranges, in milliseconds. */
export const RANGES = {
  "15m": 15 * 60 * 1000,
  "1h": 60 * 60 * 1000,
  "24h": 24 * 60 * 60 * 1000,
  "7d": 7 * 24 * 60 * 60 * 1000,
};

const DEFAULT_RANGE = "1h";

/** The view the URL describes. */
export function readView(location = window.location) {
  const params = new URLSearchParams(location.search);
  const since = parseInstant(params.get("since"));
  const until = parseInstant(params.get("until"));
  const custom = since !== null && until !== null && since < until;
  const range = params.get("range");
  return {
    q: params.get("q") || "",
    range: custom ? "custom" : RANGES[range] ? range : DEFAULT_RANGE,
    since: custom ? since : null,
    until: custom ? until : null,
    live: params.get("live") === "1",
  };
}

/** Puts `view` in the URL: a new history entry, or the current one replaced. */
export function writeView(view, { replace = false } = {}) {
  const params = new URLSearchParams();
  if (view.q) params.set("q", view.q);
  if (view.range === "custom" && view.since && view.until) {
    params.set("since", view.since.toISOString());
    params.set("until", view.until.toISOString());
  } else {
    params.set("range", view.range);
  }
  if (view.live) params.set("live", "1");
  const url = `${window.location.pathname}?${params}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
}

/** The instants a search of `view` covers, `until` excluded. */
export function boundsOf(view, now = new Date()) {
  if (view.range === "custom" && view.since && view.until) {
    return { since: view.since, until: view.until };
  }
  return { since: new Date(now.getTime() - RANGES[view.range]), until: now };
}

function parseInstant(text) {
  if (!text) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `date` as the value of a `datetime-local` input (local time, to the second). */
export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** The value of a `datetime-local` input as an instant, or null. */
export function fromLocalInput(text) {
  return parseInstant(text);
}

/** An instant for people: local date and time, to the millisecond. */
export function formatTime(date) {
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.` +
    pad(date.getMilliseconds(), 3)
  );
}
