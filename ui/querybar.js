// The query bar's suggestions: while a field name is being typed, the field names seen in the
// range (`/fields`, plus the event's own fields); after `name:`, that field's most frequent
// values (`/events/values`). A listbox driven from the input as the ARIA combobox pattern
// says: ↓/↑ move, Enter takes the highlighted one, Escape closes, Tab leaves.

import { getJson } from "./api.js";

const OWN_FIELDS = ["topic", "source", "event_id", "timestamp"];
const FIELD_NAME = /^[\w@-]+(\.[\w@-]+){0,15}$/u;
const DEBOUNCE_MS = 150;
const MAX_SHOWN = 12;

export class QueryBar {
  /** `boundsNow()` gives the range suggestions are drawn from. */
  constructor(boundsNow) {
    this.input = document.getElementById("query");
    this.list = document.getElementById("suggestions");
    this.boundsNow = boundsNow;
    this.options = [];
    this.active = -1;
    this.timer = null;
    this.controller = null;
    this.fieldNames = null;
    this.input.addEventListener("input", () => this.schedule());
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
  }

  /** Forgets what was learned of the range (a new search ran). */
  reset() {
    this.fieldNames = null;
    this.close();
  }

  key(event) {
    const open = !this.list.hidden;
    if (event.key === "ArrowDown" && open) {
      event.preventDefault();
      this.highlight(Math.min(this.active + 1, this.options.length - 1));
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      this.highlight(Math.max(this.active - 1, 0));
    } else if (event.key === "Enter" && open && this.active >= 0) {
      event.preventDefault();
      this.accept(this.options[this.active]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      this.close();
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.close();
    }
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.suggest(), DEBOUNCE_MS);
  }

  /** The term being typed: from the last space or parenthesis before the caret. */
  currentTerm() {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const before = this.input.value.slice(0, caret);
    const start = Math.max(before.lastIndexOf(" "), before.lastIndexOf("("), before.lastIndexOf(")")) + 1;
    return { start, end: caret, text: before.slice(start).replace(/^-/, "") };
  }

  async suggest() {
    const term = this.currentTerm();
    this.controller?.abort();
    this.controller = new AbortController();
    const signal = this.controller.signal;
    try {
      const colon = term.text.indexOf(":");
      let options;
      if (colon > 0) {
        options = await this.values(term.text.slice(0, colon), term.text.slice(colon + 1), signal);
      } else if (term.text.length > 0) {
        options = (await this.names(signal))
          .filter((name) => name.startsWith(term.text) && name !== term.text)
          .map((name) => ({ text: `${name}:`, label: `${name}:` }));
      } else {
        options = [];
      }
      this.show(options.slice(0, MAX_SHOWN));
    } catch {
      this.close();
    }
  }

  async names(signal) {
    if (!this.fieldNames) {
      const { since, until } = this.boundsNow();
      const answer = await getJson(
        "/fields",
        { since: since.toISOString(), until: until.toISOString(), limit: 200 },
        signal,
      );
      this.fieldNames = [...OWN_FIELDS, ...answer.fields.map((field) => field.field)];
    }
    return this.fieldNames;
  }

  async values(name, typed, signal) {
    const field = name.replace(/^payload\./, "");
    if (!FIELD_NAME.test(field) || field === "timestamp") return [];
    const { since, until } = this.boundsNow();
    const answer = await getJson(
      "/events/values",
      { field: name, since: since.toISOString(), until: until.toISOString(), limit: 20 },
      signal,
    );
    const typedValue = typed.replace(/^"/, "").replace(/"$/, "");
    return answer.values
      .filter((value) => value.value.startsWith(typedValue))
      .map((value) => ({
        text: `${name}:${quote(value.value)}`,
        label: `${name}:${quote(value.value)}  (${value.count.toLocaleString()})`,
      }));
  }

  show(options) {
    this.options = options;
    this.active = -1;
    this.list.replaceChildren(
      ...options.map((option, index) => {
        const item = document.createElement("li");
        item.id = `suggestion-${index}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.textContent = option.label;
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          this.accept(option);
        });
        return item;
      }),
    );
    const open = options.length > 0;
    this.list.hidden = !open;
    this.input.setAttribute("aria-expanded", String(open));
    this.input.removeAttribute("aria-activedescendant");
  }

  highlight(index) {
    this.active = index;
    [...this.list.children].forEach((item, i) => item.setAttribute("aria-selected", String(i === index)));
    if (index >= 0) this.input.setAttribute("aria-activedescendant", `suggestion-${index}`);
  }

  accept(option) {
    const term = this.currentTerm();
    const value = this.input.value;
    const negated = value.slice(term.start).startsWith("-") ? "-" : "";
    const head = value.slice(0, term.start) + negated + option.text;
    this.input.value = head + value.slice(term.end);
    this.input.setSelectionRange(head.length, head.length);
    this.close();
    this.input.focus();
    if (option.text.endsWith(":")) this.schedule();
  }

  /** Closes the list, and cancels a suggestion on its way, which would open it again. */
  close() {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.list.hidden = true;
    this.options = [];
    this.active = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }
}

/** A value as the query language reads it back: bare when it is one plain word, else quoted. */
function quote(value) {
  return /^[\p{L}\p{N}_.@-]+$/u.test(value) ? value : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
