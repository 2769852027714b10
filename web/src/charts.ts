// Inline SVG bar charts: readable at any width (viewBox), described for screen readers, with
// the figures also given as text next to each bar.

import { s } from "./dom";

export interface Bar {
  label: string;
  value: number;
  tone?: "yes" | "no" | "abstain" | "in" | "out" | "reserve" | "neutral" | "win";
  text?: string;
}

export interface ChartOptions {
  title: string;
  max?: number;
  marker?: { value: number; label: string };
  testid?: string;
  labelWidth?: number;
}

const ROW = 34;
const BAR = 20;
// On a narrow screen each label goes on its own line above its bar, so no label is cut off.
const STACKED_ROW = 52;
const LABEL_LINE = 20;

export function barChart(bars: Bar[], options: ChartOptions): SVGElement {
  // Drawn at about the width it will be shown at, so its text stays readable on a phone.
  const WIDTH = Math.max(300, Math.min(640, (window.innerWidth || 640) - 56));
  const stacked = WIDTH < 520;
  const labelWidth = stacked ? 0 : Math.min(options.labelWidth ?? 170, Math.round(WIDTH * 0.32));
  const valueWidth = WIDTH < 480 ? 120 : 150;
  const plot = WIDTH - labelWidth - valueWidth;
  const row = stacked ? STACKED_ROW : ROW;
  const top = stacked ? LABEL_LINE : 0;
  const max = Math.max(options.max ?? 0, ...bars.map((b) => b.value), 1);
  const height = bars.length * row + (options.marker ? 22 : 8);
  const description = bars.map((b) => `${b.label}: ${b.text ?? b.value}`).join("; ");
  const rows = bars.map((bar, i) => {
    const y = i * row + 6 + top;
    const w = Math.max(bar.value > 0 ? 2 : 0, (bar.value / max) * plot);
    const label = stacked
      ? s("text", { x: 0, y: y - 6, class: "chart-label" }, bar.label)
      : s("text", { x: labelWidth - 8, y: y + BAR / 2 + 5, "text-anchor": "end", class: "chart-label" }, bar.label);
    return s(
      "g",
      { class: `bar tone-${bar.tone ?? "neutral"}` },
      label,
      s("rect", { x: labelWidth, y, width: plot, height: BAR, class: "track", rx: 3 }),
      s("rect", { x: labelWidth, y, width: w.toFixed(1), height: BAR, class: "fill", rx: 3 }),
      s("text", { x: labelWidth + plot + 8, y: y + BAR / 2 + 5, class: "chart-value" }, bar.text ?? String(bar.value)),
    );
  });
  const marker = options.marker
    ? (() => {
        const x = labelWidth + (options.marker.value / max) * plot;
        return s(
          "g",
          { class: "marker" },
          s("line", { x1: x.toFixed(1), x2: x.toFixed(1), y1: 2 + top, y2: bars.length * row + 4 }),
          s("text", { x: x.toFixed(1), y: bars.length * row + 18, "text-anchor": x < 60 ? "start" : "middle", class: "chart-note" }, options.marker.label),
        );
      })()
    : null;
  return s(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      class: "chart",
      role: "img",
      "aria-label": `${options.title}: ${description}`,
      "data-testid": options.testid,
      preserveAspectRatio: "xMinYMin meet",
    },
    s("title", null, options.title),
    rows,
    marker,
  );
}
