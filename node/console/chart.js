// A line chart on a canvas: the last 5 minutes of a few figures, one point
// a second, redrawn as points arrive. Its legend and latest values are text
// beside it, so the figures are readable without the picture.

import { h } from "./dom.js";

/** Points kept: 5 minutes at one a second. */
export const WINDOW_POINTS = 300;

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

/** A chart titled `title`; `push(values)` adds one point per series,
 *  keyed by series name (new names become new series). */
export function lineChart(id, title) {
  const canvas = h("canvas", { id: `${id}-canvas`, role: "img", "aria-label": `${title}, last 5 minutes` });
  const legend = h("ul", { class: "legend", id: `${id}-legend` });
  const series = new Map();
  const element = h("figure", { class: "chart", id },
    h("figcaption", {}, title), canvas, legend);

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 300;
    const height = canvas.clientHeight || 160;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    if (!g) return;
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    let max = 1;
    for (const s of series.values()) for (const v of s.points) max = Math.max(max, v);
    const pad = { left: 40, right: 8, top: 8, bottom: 16 };
    const x = (i) => pad.left + (width - pad.left - pad.right) * (i / (WINDOW_POINTS - 1));
    const y = (v) => height - pad.bottom - (height - pad.top - pad.bottom) * (v / max);
    g.strokeStyle = "#9ca3af";
    g.fillStyle = "#4b5563";
    g.lineWidth = 1;
    g.font = "11px sans-serif";
    g.beginPath();
    g.moveTo(pad.left, pad.top);
    g.lineTo(pad.left, height - pad.bottom);
    g.lineTo(width - pad.right, height - pad.bottom);
    g.stroke();
    g.fillText(String(max), 2, pad.top + 8);
    g.fillText("0", 2, height - pad.bottom);
    g.fillText("−5 min", pad.left, height - 2);
    g.fillText("now", width - pad.right - 20, height - 2);
    for (const s of series.values()) {
      const offset = WINDOW_POINTS - s.points.length;
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      s.points.forEach((v, i) => {
        if (i === 0) g.moveTo(x(offset + i), y(v)); else g.lineTo(x(offset + i), y(v));
      });
      g.stroke();
    }
  }

  function push(values) {
    for (const [name, value] of Object.entries(values)) {
      if (typeof value !== "number") continue;
      let s = series.get(name);
      if (!s) {
        const color = COLORS[series.size % COLORS.length];
        const swatch = h("span", { class: `swatch swatch-${series.size % COLORS.length}`, "aria-hidden": "true" });
        const latest = h("span", { class: "latest", "data-series": name });
        legend.append(h("li", {}, swatch, `${name}: `, latest));
        s = { points: [], color, latest };
        series.set(name, s);
      }
      s.points.push(value);
      if (s.points.length > WINDOW_POINTS) s.points.shift();
      s.latest.textContent = String(value);
      element.dataset.points = String(s.points.length);
    }
    draw();
  }

  return { element, push, draw };
}
