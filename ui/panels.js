// The side panels: the topics with their events in the chosen range and how long they are
// kept, the instances sharing the store and whether they look alive, and the counters of
// `/stats`. Refreshed every few seconds while the page is visible.

import { getJson } from "./api.js";
import { formatTime } from "./view.js";

const REFRESH_MS = 10000;
const TOPICS_SHOWN = 100;
const COUNTERS = [
  ["received", "Received"],
  ["unique_processed", "Stored, ever"],
  ["duplicate_dropped", "Duplicates dropped"],
  ["stored_events", "Stored now"],
  ["expired", "Expired"],
  ["purged", "Purged"],
];

export class Panels {
  /** `boundsNow()` gives the range topics are counted over; `onTopic(topic)` a click. */
  constructor(boundsNow, onTopic) {
    this.boundsNow = boundsNow;
    this.onTopic = onTopic;
    this.topics = document.querySelector("#topics tbody");
    this.instances = document.querySelector("#instances tbody");
    this.counters = document.getElementById("counters");
    this.status = document.getElementById("panels-status");
    this.topicsStatus = document.getElementById("topics-status");
    this.timer = null;
  }

  start() {
    this.refresh();
    this.timer = setInterval(() => {
      if (document.visibilityState === "visible") this.refresh();
    }, REFRESH_MS);
  }

  async refresh() {
    let stats;
    try {
      stats = await getJson("/stats");
      this.status.textContent = `${stats.store} store, up ${Math.round(stats.uptime_seconds)} s.`;
    } catch (error) {
      this.status.textContent = error.message;
      return;
    }
    this.showCounters(stats);
    this.showInstances(stats.instances);
    try {
      const { since, until } = this.boundsNow();
      const counted = await getJson("/events/values", {
        field: "topic",
        since: since.toISOString(),
        until: until.toISOString(),
        limit: TOPICS_SHOWN,
      });
      this.showTopics(stats, counted.values);
    } catch (error) {
      this.topicsStatus.textContent = error.message;
    }
  }

  showCounters(stats) {
    this.counters.replaceChildren(
      ...COUNTERS.flatMap(([name, label]) => {
        const term = document.createElement("dt");
        term.textContent = label;
        const value = document.createElement("dd");
        value.dataset.counter = name;
        value.textContent = Number(stats[name]).toLocaleString();
        return [term, value];
      }),
    );
  }

  showInstances(instances) {
    this.instances.replaceChildren(
      ...instances.map((instance) => {
        const row = document.createElement("tr");
        row.dataset.instance = instance.instance;
        const heartbeat = formatTime(new Date(instance.heartbeat_at));
        row.append(
          cell(instance.instance, "th"),
          cell(instance.alive ? "alive" : "silent", "td", `last heartbeat ${heartbeat}`),
          cell(formatTime(new Date(instance.started_at)).slice(0, 19)),
        );
        row.children[1].className = instance.alive ? "alive" : "silent";
        return row;
      }),
    );
  }

  /** Every topic the counts name, then the others `/stats` lists, each with its retention. */
  showTopics(stats, counted) {
    const counts = new Map(counted.map((value) => [value.value, value.count]));
    const names = [...counts.keys()];
    for (const topic of stats.topics) {
      if (names.length >= TOPICS_SHOWN) break;
      if (!counts.has(topic)) names.push(topic);
    }
    this.topics.replaceChildren(
      ...names.map((topic) => {
        const row = document.createElement("tr");
        row.dataset.topic = topic;
        const head = document.createElement("th");
        head.scope = "row";
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link";
        button.textContent = topic;
        button.setAttribute("aria-label", `Search topic ${topic}`);
        button.addEventListener("click", () => this.onTopic(topic));
        head.append(button);
        const count = cell((counts.get(topic) || 0).toLocaleString());
        count.className = "count";
        const kept = cell(retentionOf(topic, stats.retention));
        kept.className = "retention";
        row.append(head, count, kept);
        return row;
      }),
    );
    const more = stats.topics_total > names.length ? ` of ${stats.topics_total}` : "";
    this.topicsStatus.textContent = `${names.length}${more} topics.`;
  }

  stop() {
    clearInterval(this.timer);
  }
}

function cell(text, tag = "td", title = "") {
  const element = document.createElement(tag);
  if (tag === "th") element.scope = "row";
  element.textContent = text;
  if (title) element.title = title;
  return element;
}

/** How long `topic` is kept: the first rule that matches it (most specific first), else the default. */
function retentionOf(topic, retention) {
  for (const rule of retention.rules) {
    const matches = rule.topics.endsWith("*")
      ? topic.startsWith(rule.topics.slice(0, -1))
      : topic === rule.topics;
    if (matches) return rule.keep;
  }
  return retention.default;
}
