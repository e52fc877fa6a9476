// Charts drawn as SVG, node by node: grouped bars, lines, a heat map and a timeline.
// Colours come from CSS classes (analytics.css), so the three Teams themes apply; every
// chart has a title and a text alternative, and its numbers are in a table nearby.

const SVG = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes and children. */
function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function frame(width, height, title, description) {
  const id = `chart-${Math.random().toString(36).slice(2, 9)}`;
  return s(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": `${id}-title ${id}-desc`,
      preserveAspectRatio: "xMidYMid meet",
    },
    s("title", { id: `${id}-title` }, title),
    s("desc", { id: `${id}-desc` }, description),
  );
}

/** Return a "nice" upper bound for an axis holding ``value``. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function axisY(chart, { left, top, height, width, max, format, ticks = 4 }) {
  for (let n = 0; n <= ticks; n += 1) {
    const value = (max * n) / ticks;
    const y = top + height - (height * n) / ticks;
    chart.append(
      s("line", { class: "chart-grid", x1: left, x2: left + width, y1: y, y2: y }),
      s("text", { class: "chart-label", x: left - 6, y: y + 4, "text-anchor": "end" }, format(value)),
    );
  }
}

/**
 * Grouped bars: one group per category, one bar per series.
 * @param {{title: string, categories: string[], series: {name: string, className: string, values: number[]}[], format?: (v: number) => string}} spec
 */
export function barChart({ title, categories, series, format = (v) => String(Math.round(v)) }) {
  const width = 640;
  const height = 260;
  const left = 44;
  const top = 16;
  const bottom = 56;
  const plotWidth = width - left - 12;
  const plotHeight = height - top - bottom;
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)));
  const summary = categories
    .map((c, i) => `${c}: ${series.map((x) => `${x.name} ${format(x.values[i] ?? 0)}`).join(", ")}`)
    .join("; ");
  const chart = frame(width, height, title, summary || "No data");
  axisY(chart, { left, top, height: plotHeight, width: plotWidth, max, format });
  const groupWidth = plotWidth / Math.max(1, categories.length);
  const barWidth = Math.min(36, (groupWidth * 0.8) / Math.max(1, series.length));
  categories.forEach((category, i) => {
    const groupLeft = left + i * groupWidth + (groupWidth - barWidth * series.length) / 2;
    series.forEach((item, k) => {
      const value = item.values[i] ?? 0;
      const barHeight = (plotHeight * value) / max;
      chart.append(
        s(
          "rect",
          {
            class: `chart-bar ${item.className}`,
            x: groupLeft + k * barWidth,
            y: top + plotHeight - barHeight,
            width: Math.max(1, barWidth - 2),
            height: barHeight,
            "data-value": value,
          },
          s("title", {}, `${category}, ${item.name}: ${format(value)}`),
        ),
      );
    });
    chart.append(
      s("text", { class: "chart-label", x: left + (i + 0.5) * groupWidth, y: top + plotHeight + 16, "text-anchor": "middle" }, category),
    );
  });
  legend(chart, series, left, height - 18);
  return chart;
}

function legend(chart, series, x, y) {
  let at = x;
  for (const item of series) {
    chart.append(
      s("rect", { class: `chart-bar ${item.className}`, x: at, y: y - 9, width: 10, height: 10 }),
      s("text", { class: "chart-label", x: at + 14, y }, item.name),
    );
    at += 24 + item.name.length * 7;
  }
}

/**
 * Lines over categories (days); a null value breaks the line.
 * @param {{title: string, categories: string[], series: {name: string, className: string, values: (number|null)[]}[], max?: number, format?: (v: number) => string}} spec
 */
export function lineChart({ title, categories, series, max = null, format = (v) => `${Math.round(v * 100)}%` }) {
  const width = 640;
  const height = 240;
  const left = 44;
  const top = 16;
  const bottom = 56;
  const plotWidth = width - left - 16;
  const plotHeight = height - top - bottom;
  const top_ = max ?? niceMax(Math.max(0, ...series.flatMap((x) => x.values.filter((v) => v !== null))));
  const summary = series
    .map((x) => `${x.name}: ${x.values.map((v, i) => `${categories[i]} ${v === null ? "none" : format(v)}`).join(", ")}`)
    .join("; ");
  const chart = frame(width, height, title, summary || "No data");
  axisY(chart, { left, top, height: plotHeight, width: plotWidth, max: top_, format });
  const step = categories.length > 1 ? plotWidth / (categories.length - 1) : 0;
  const xAt = (i) => left + (categories.length > 1 ? i * step : plotWidth / 2);
  const yAt = (v) => top + plotHeight - (plotHeight * v) / top_;
  for (const item of series) {
    let path = "";
    item.values.forEach((value, i) => {
      if (value === null) return;
      const previous = i > 0 ? item.values[i - 1] : null;
      path += `${previous === null ? "M" : "L"}${xAt(i).toFixed(1)},${yAt(value).toFixed(1)} `;
      chart.append(
        s("circle", { class: `chart-point ${item.className}`, cx: xAt(i), cy: yAt(value), r: 3 }, s("title", {}, `${categories[i]}, ${item.name}: ${format(value)}`)),
      );
    });
    if (path) chart.prepend(s("path", { class: `chart-line ${item.className}`, d: path.trim() }));
  }
  const every = Math.max(1, Math.ceil(categories.length / 10));
  categories.forEach((category, i) => {
    if (i % every !== 0) return;
    chart.append(s("text", { class: "chart-label", x: xAt(i), y: top + plotHeight + 16, "text-anchor": "middle" }, category));
  });
  legend(chart, series, left, height - 18);
  // Keep title and desc first for assistive technology.
  chart.prepend(chart.querySelector("desc"));
  chart.prepend(chart.querySelector("title"));
  return chart;
}

/**
 * A heat map: rows (days) by columns (hours), darker for more.
 * @param {{title: string, rows: string[], columns: string[], values: number[][]}} spec
 */
export function heatMap({ title, rows, columns, values }) {
  const cell = 22;
  const left = 92;
  const top = 22;
  const width = left + columns.length * cell + 8;
  const height = top + rows.length * cell + 8;
  const max = Math.max(1, ...values.flat());
  const total = values.flat().reduce((a, b) => a + b, 0);
  const busiest = values
    .flatMap((row, r) => row.map((v, c) => [v, r, c]))
    .sort((a, b) => b[0] - a[0])[0];
  const description = busiest && busiest[0] > 0 ? `${total} calls; busiest: ${rows[busiest[1]]} ${columns[busiest[2]]} with ${busiest[0]}` : "No calls";
  const chart = frame(width, height, title, description);
  columns.forEach((column, c) => {
    if (c % 2 === 0) chart.append(s("text", { class: "chart-label", x: left + c * cell + cell / 2, y: top - 8, "text-anchor": "middle" }, column));
  });
  rows.forEach((row, r) => {
    chart.append(s("text", { class: "chart-label", x: left - 6, y: top + r * cell + cell / 2 + 4, "text-anchor": "end" }, row));
    columns.forEach((column, c) => {
      const value = values[r][c] || 0;
      const level = value === 0 ? 0 : Math.min(5, 1 + Math.floor((value / max) * 4.999));
      chart.append(
        s(
          "rect",
          { class: `heat heat-${level}`, x: left + c * cell + 1, y: top + r * cell + 1, width: cell - 2, height: cell - 2, rx: 2, "data-value": value },
          s("title", {}, `${row} ${column}: ${value}`),
        ),
      );
    });
  });
  return chart;
}

/**
 * A day as a horizontal band: segments coloured by state, hours marked.
 * @param {{title: string, start: Date, end: Date, segments: {state: string, start: Date, end: Date, label: string}[], hourLabel: (d: Date) => string}} spec
 */
/**
 * An agent's day as two labelled bands over the hours shown: calls and wrap-ups (exact, from
 * the records) and the sampled state of each interval. Segments and states carry a
 * ``stateLabel`` to show; hour labels stay inside the chart.
 */
export function timeline({ title, start, end, segments, states = [], hourLabel }) {
  const width = 720;
  const left = 84;
  const right = 24;
  const top = 8;
  const band = 26;
  const gap = 8;
  const height = top + 2 * band + gap + 30;
  const span = end - start || 1;
  const xAt = (t) => left + ((Math.min(Math.max(t, start), end) - start) / span) * (width - left - right);
  const described = [...segments, ...states].map((x) => `${x.label}: ${x.stateLabel || x.state}`);
  const chart = frame(width, height, title, described.length ? described.join("; ") : "Nothing recorded this day");
  const rows = [
    ["Calls", top, segments],
    ["State", top + band + gap, states],
  ];
  for (const [name, y, items] of rows) {
    chart.append(
      s("text", { class: "chart-label timeline-band-label", x: left - 8, y: y + band / 2 + 4, "text-anchor": "end" }, name),
      s("rect", { class: "timeline-day", x: left, y, width: width - left - right, height: band }),
    );
    for (const item of items) {
      const x = xAt(item.start);
      chart.append(
        s(
          "rect",
          { class: `timeline-${item.state}`, x, y, width: Math.max(1.5, xAt(item.end) - x), height: band },
          s("title", {}, `${item.label}: ${item.stateLabel || item.state}`),
        ),
      );
    }
  }
  const hours = Math.round(span / 3600000);
  const step = hours <= 12 ? 1 : 3;
  const axis = top + 2 * band + gap;
  for (let hour = 0; hour <= hours; hour += step) {
    const at = new Date(start.getTime() + hour * 3600000);
    const x = xAt(at);
    chart.append(
      s("line", { class: "chart-grid", x1: x, x2: x, y1: axis, y2: axis + 6 }),
      // The first and last labels sit inside the chart rather than half outside it.
      s("text", { class: "chart-label", x, y: axis + 20, "text-anchor": hour === 0 ? "start" : hour + step > hours ? "end" : "middle" }, hourLabel(at)),
    );
  }
  return chart;
}
