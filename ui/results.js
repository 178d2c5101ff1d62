// The events of the query, newest first: one row per event (time, level, topic, source and the
// message, or the first fields), opening to the whole event pretty-printed with copy buttons
// and, per field, "only this value" / "without this value" filters that narrow the query the
// way the API reads it. Older events load by cursor when the end of the list comes into view.
// Live events are put on top by the same code, and no (topic, event_id) is ever shown twice.

import { getJson } from "./api.js";
import { formatTime } from "./view.js";

const PAGE_SIZE = 100;
/** A field name the query language accepts (docs/http-api.md, "Searching"). */
const FIELD_NAME = /^[\w@-]+(\.[\w@-]+)*$/u;
/** Names the query language reads as the event's own fields, not the payload's. */
const OWN_FIELDS = new Set(["topic", "source", "event_id", "timestamp"]);
/** Where a row's summary looks for the message, in this order. */
const MESSAGE_FIELDS = ["message", "msg", "log", "text", "body", "event"];

export class Results {
  /** `onFilter(term)` is called with a query term to add, such as `level:"error"`. */
  constructor(onFilter) {
    this.list = document.getElementById("results");
    this.status = document.getElementById("results-status");
    this.more = document.getElementById("load-more");
    this.onFilter = onFilter;
    this.shown = new Set();
    this.cursor = null;
    this.request = null;
    this.loadingMore = false;
    this.firstRendered = false;
    this.more.addEventListener("click", () => this.loadMore());
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadMore();
    }).observe(this.more);
  }

  /** Replaces the list with the first page of `q` over `bounds`. */
  async load(q, bounds, signal) {
    this.request = {
      q,
      since: bounds.since.toISOString(),
      until: bounds.until.toISOString(),
      order: "newest",
      limit: PAGE_SIZE,
    };
    this.cursor = null;
    const page = await getJson("/events", this.request, signal);
    this.list.replaceChildren();
    this.shown.clear();
    this.append(page);
    if (!this.firstRendered) {
      this.firstRendered = true;
      performance.mark("console:first-results");
    }
  }

  async loadMore() {
    if (!this.cursor || this.loadingMore) return;
    this.loadingMore = true;
    const request = this.request;
    try {
      const page = await getJson("/events", { ...request, cursor: this.cursor });
      if (request === this.request) this.append(page);
    } catch (error) {
      this.status.textContent = error.message;
    } finally {
      this.loadingMore = false;
    }
  }

  append(page) {
    const rows = page.events.filter((event) => this.remember(event)).map((event) => this.row(event));
    this.list.append(...rows);
    this.cursor = page.next_cursor || null;
    this.more.hidden = this.cursor === null;
    this.describe();
  }

  /** Puts live events on top, newest first (they arrive oldest first). */
  prepend(events) {
    const rows = events.filter((event) => this.remember(event)).map((event) => this.row(event));
    this.list.prepend(...rows.reverse());
    this.describe();
    return rows.length;
  }

  /** Whether `event` is new to the list; remembers it. */
  remember(event) {
    const key = `${event.topic}\u0000${event.event_id}`;
    if (this.shown.has(key)) return false;
    this.shown.add(key);
    return true;
  }

  describe() {
    const count = this.list.children.length;
    const more = this.cursor ? "; older ones load as you scroll" : "";
    this.status.textContent =
      count === 0 ? "No events match in this range." : `${count.toLocaleString()} shown${more}.`;
  }

  row(event) {
    const item = document.createElement("li");
    item.className = "event";
    item.dataset.topic = event.topic;
    item.dataset.eventId = event.event_id;
    item.dataset.timestamp = event.timestamp;
    const summary = document.createElement("button");
    summary.type = "button";
    summary.className = "event-summary";
    summary.setAttribute("aria-expanded", "false");
    const time = document.createElement("time");
    time.dateTime = event.timestamp;
    time.textContent = formatTime(new Date(event.timestamp));
    const level = typeof event.payload?.level === "string" ? event.payload.level : "";
    const badge = document.createElement("span");
    badge.className = `level ${level ? `level-${level.toLowerCase().replace(/[^a-z]/g, "")}` : ""}`;
    badge.textContent = level;
    const topic = document.createElement("span");
    topic.className = "topic";
    topic.textContent = event.topic;
    const source = document.createElement("span");
    source.className = "source";
    source.textContent = event.source;
    const message = document.createElement("span");
    message.className = "message-text";
    message.textContent = messageOf(event.payload);
    summary.append(time, badge, topic, source, message);
    summary.addEventListener("click", () => this.toggle(item, event));
    item.addEventListener("keydown", (key) => {
      if (key.key === "Escape" && summary.getAttribute("aria-expanded") === "true") {
        key.stopPropagation();
        this.toggle(item, event);
        summary.focus();
      }
    });
    item.append(summary);
    return item;
  }

  toggle(item, event) {
    const summary = item.querySelector(".event-summary");
    const open = summary.getAttribute("aria-expanded") === "true";
    item.querySelector(".event-details")?.remove();
    summary.setAttribute("aria-expanded", String(!open));
    if (!open) item.append(this.details(event));
  }

  details(event) {
    const box = document.createElement("div");
    box.className = "event-details";
    const json = JSON.stringify(event, null, 2);
    const actions = document.createElement("div");
    actions.className = "actions";
    actions.append(
      copyButton("copy-event", "Copy event as JSON", json),
      copyButton("copy-id", "Copy event_id", event.event_id),
    );
    const table = document.createElement("table");
    table.className = "event-fields";
    const caption = document.createElement("caption");
    caption.textContent = "Fields";
    const body = document.createElement("tbody");
    for (const [name, value] of fieldsOf(event)) body.append(this.fieldRow(name, value));
    table.append(caption, body);
    const pre = document.createElement("pre");
    pre.className = "event-json";
    pre.tabIndex = 0;
    pre.setAttribute("aria-label", "The event as JSON");
    pre.textContent = json;
    box.append(actions, table, pre);
    return box;
  }

  fieldRow(name, value) {
    const row = document.createElement("tr");
    row.className = "field";
    row.dataset.field = name;
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = name;
    const cell = document.createElement("td");
    cell.className = "value";
    cell.textContent = typeof value === "string" ? value : JSON.stringify(value);
    const filters = document.createElement("td");
    filters.className = "filters";
    const term = termFor(name, value);
    if (term) {
      const only = document.createElement("button");
      only.type = "button";
      only.className = "only-value quiet";
      only.textContent = "only";
      only.setAttribute("aria-label", `Only events with ${term}`);
      only.addEventListener("click", () => this.onFilter(term));
      const without = document.createElement("button");
      without.type = "button";
      without.className = "without-value quiet";
      without.textContent = "without";
      without.setAttribute("aria-label", `Events without ${term}`);
      without.addEventListener("click", () => this.onFilter(`-${term}`));
      filters.append(only, without);
    }
    row.append(head, cell, filters);
    return row;
  }
}

/** The text a row shows: the payload's message, else its first fields as `name=value`. */
function messageOf(payload) {
  if (!payload || typeof payload !== "object") return "";
  for (const name of MESSAGE_FIELDS) {
    if (typeof payload[name] === "string") return payload[name];
  }
  return Object.entries(payload)
    .filter(([name]) => name !== "level")
    .slice(0, 6)
    .map(([name, value]) => `${name}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
}

/** Every field of the event as the query language names it, with its value; objects opened. */
function fieldsOf(event) {
  const fields = [
    ["topic", event.topic],
    ["source", event.source],
    ["event_id", event.event_id],
    ["timestamp", event.timestamp],
  ];
  const walk = (value, path) => {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      for (const [name, inner] of Object.entries(value)) walk(inner, path ? `${path}.${name}` : name);
    } else if (path) {
      const first = path.split(".")[0];
      fields.push([OWN_FIELDS.has(first) ? `payload.${path}` : path, value]);
    }
  };
  walk(event.payload, "");
  return fields;
}

/** The query term matching `value` exactly in `name`, or null when the language has none. */
export function termFor(name, value) {
  if (!FIELD_NAME.test(name) || name === "timestamp") return null;
  if (typeof value === "string") return `${name}:"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  if (typeof value === "number" && Number.isFinite(value)) return `${name}:${value}`;
  if (typeof value === "boolean") return `${name}:${value}`;
  return null;
}

function copyButton(className, label, text) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `${className} quiet`;
  button.textContent = label;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy refused by the browser";
    }
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  });
  return button;
}
