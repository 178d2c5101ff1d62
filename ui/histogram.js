// The log volume of the query: `/events/count` split by `level`, drawn as stacked bars (one
// segment per level among the most frequent, one for the rest), so the bars add up to the
// count's total. Dragging across the chart picks a time span to zoom into.

import { getJson } from "./api.js";
import { formatTime } from "./view.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const HEIGHT = 120;
/** Bucket widths the chart may use, in seconds; the smallest giving at most MAX_BARS wins. */
const INTERVALS = [
  ["1s", 1], ["5s", 5], ["10s", 10], ["30s", 30], ["1m", 60], ["5m", 300], ["10m", 600],
  ["30m", 1800], ["1h", 3600], ["3h", 10800], ["6h", 21600], ["12h", 43200], ["1d", 86400],
];
const MAX_BARS = 120;
/** How many levels get a colour of their own. */
const LEVELS_SHOWN = 6;

/** The colour family of a level's name, as a CSS class. */
function levelClass(level) {
  const name = level.toLowerCase();
  if (/^(fatal|crit|critical|emerg|emergency|alert|panic)$/.test(name)) return "lvl-fatal";
  if (/^(err|error|severe)$/.test(name)) return "lvl-error";
  if (/^(warn|warning)$/.test(name)) return "lvl-warn";
  if (/^(info|notice|information)$/.test(name)) return "lvl-info";
  if (/^(debug|trace|verbose|fine)$/.test(name)) return "lvl-debug";
  return level === "" ? "lvl-other" : "lvl-misc";
}

function intervalFor(since, until) {
  const seconds = (until - since) / 1000;
  const fit = INTERVALS.find(([, width]) => seconds / width <= MAX_BARS);
  return (fit || INTERVALS[INTERVALS.length - 1])[0];
}

export class Histogram {
  /** `onZoom(since, until)` is called when a span is dragged across the chart. */
  constructor(onZoom) {
    this.svg = document.getElementById("histogram");
    this.total = document.getElementById("histogram-total");
    this.legend = document.getElementById("histogram-legend");
    this.axis = document.getElementById("histogram-axis");
    this.onZoom = onZoom;
    this.bounds = null;
    this.listenForDrags();
  }

  /** Counts `q` over `bounds` and draws it. */
  async load(q, bounds, signal) {
    const answer = await getJson(
      "/events/count",
      {
        q,
        since: bounds.since.toISOString(),
        until: bounds.until.toISOString(),
        interval: intervalFor(bounds.since, bounds.until),
        by: "level",
        top: LEVELS_SHOWN,
      },
      signal,
    );
    this.bounds = bounds;
    this.draw(answer);
  }

  draw(answer) {
    const buckets = answer.buckets;
    const series = answer.series || [];
    this.total.dataset.total = String(answer.total);
    this.total.textContent = `${answer.total.toLocaleString()} events`;
    this.svg.replaceChildren();
    const highest = Math.max(1, ...buckets.map((bucket) => bucket.count));
    const span = this.bounds.until - this.bounds.since;
    const xOf = (instant) => ((instant - this.bounds.since) / span) * WIDTH;
    const widthSeconds = answer.interval_seconds * 1000;
    buckets.forEach((bucket, index) => {
      const start = new Date(bucket.start);
      const left = Math.max(0, xOf(start));
      const right = Math.min(WIDTH, xOf(new Date(start.getTime() + widthSeconds)));
      const width = Math.max(1, right - left - 1);
      // Segments from the bottom: each level among the most frequent, then the rest.
      const segments = series.map((one) => [one.value, one.buckets[index].count]);
      const named = segments.reduce((sum, [, count]) => sum + count, 0);
      segments.push(["", bucket.count - named]);
      let base = HEIGHT;
      for (const [level, count] of segments) {
        if (count < 1) continue;
        const height = (count / highest) * (HEIGHT - 4);
        base -= height;
        const rect = document.createElementNS(SVG, "rect");
        rect.setAttribute("class", `bar ${levelClass(level)}`);
        rect.setAttribute("x", left.toFixed(2));
        rect.setAttribute("y", base.toFixed(2));
        rect.setAttribute("width", width.toFixed(2));
        rect.setAttribute("height", height.toFixed(2));
        rect.dataset.count = String(count);
        rect.dataset.start = bucket.start;
        rect.dataset.level = level;
        const title = document.createElementNS(SVG, "title");
        title.textContent = `${formatTime(start)}: ${count} ${level || "other"}`;
        rect.append(title);
        this.svg.append(rect);
      }
    });
    this.drawLegend(series, answer.total);
    this.drawAxis();
  }

  drawLegend(series, total) {
    const named = series.reduce((sum, one) => sum + one.total, 0);
    const entries = series.map((one) => [one.value, one.total]);
    if (total - named > 0) entries.push(["", total - named]);
    this.legend.replaceChildren(
      ...entries.map(([level, count]) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = `swatch ${levelClass(level)}`;
        item.append(swatch, `${level || (series.length ? "other" : "events")} ${count.toLocaleString()}`);
        return item;
      }),
    );
  }

  drawAxis() {
    const { since, until } = this.bounds;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map(
      (fraction) => new Date(since.getTime() + fraction * (until - since)),
    );
    this.axis.replaceChildren(
      ...ticks.map((instant) => {
        const label = document.createElement("span");
        label.textContent = formatTime(instant).slice(5, 19);
        return label;
      }),
    );
  }

  /** Pointer down, move, up: a shaded span while dragging, then a zoom into it. */
  listenForDrags() {
    let startX = null;
    let shade = null;
    const xIn = (event) => {
      const box = this.svg.getBoundingClientRect();
      return Math.min(WIDTH, Math.max(0, ((event.clientX - box.left) / box.width) * WIDTH));
    };
    this.svg.addEventListener("pointerdown", (event) => {
      if (!this.bounds || event.button !== 0) return;
      startX = xIn(event);
      this.svg.setPointerCapture(event.pointerId);
      shade = document.createElementNS(SVG, "rect");
      shade.setAttribute("class", "selection");
      shade.setAttribute("y", "0");
      shade.setAttribute("height", String(HEIGHT));
      shade.setAttribute("x", String(startX));
      shade.setAttribute("width", "0");
      this.svg.append(shade);
    });
    this.svg.addEventListener("pointermove", (event) => {
      if (startX === null) return;
      const x = xIn(event);
      shade.setAttribute("x", String(Math.min(x, startX)));
      shade.setAttribute("width", String(Math.abs(x - startX)));
    });
    const finish = (event) => {
      if (startX === null) return;
      const x = xIn(event);
      const [from, to] = [Math.min(x, startX), Math.max(x, startX)];
      startX = null;
      shade?.remove();
      if (to - from < 3) return;
      const span = this.bounds.until - this.bounds.since;
      const since = new Date(this.bounds.since.getTime() + (from / WIDTH) * span);
      const until = new Date(this.bounds.since.getTime() + (to / WIDTH) * span);
      this.onZoom(since, until);
    };
    this.svg.addEventListener("pointerup", finish);
    this.svg.addEventListener("pointercancel", () => {
      startX = null;
      shade?.remove();
    });
  }
}
