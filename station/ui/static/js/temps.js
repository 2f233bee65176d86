// Temperatures of the last 24 hours per fridge, for volunteers: an inline SVG chart per fridge with
// the zone's limit drawn in (and a tolerated brief rise for frozen goods), and the same in words,
// so nothing depends on colour or on seeing the chart. Data: GET /api/staff/reports/temperatures.

import { api } from "./api.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 600;
const H = 170;
const PAD = { left: 56, right: 8, top: 10, bottom: 24 };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function celsius(value) {
  return `${new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 }).format(value)} °C`;
}

/** How many time slices reached above the limit (or the tolerated rise, where there is one). */
export function above(fridge) {
  const ceiling = fridge.ceiling_c ?? fridge.limit_c;
  return ceiling === null ? 0 : fridge.points.filter((p) => p.max_c > ceiling).length;
}

export class Temperatures {
  constructor(app, staff) {
    this.app = app;
    this.staff = staff;
    this.data = null;
    app.register("staff-temps", { enter: () => this.render(), script: () => this.script() });
  }

  action(name) {
    if (name !== "staff-temps") return false;
    this.open();
    return true;
  }

  async open() {
    try {
      this.data = await api.temperatures();
    } catch (error) {
      if (!this.staff.failed(error, () => this.open())) this.app.problem({ title: { key: "staff.error.temps.title" }, next: { key: "staff.error.station.next" } });
      return;
    }
    this.app.show("staff-temps");
  }

  statusItem(fridge) {
    if (!fridge.points.length) return { key: "staff.temps.none" };
    if (fridge.limit_c === null) return { key: "staff.temps.no_limit" };
    const count = above(fridge);
    return count ? { key: "staff.temps.above", params: { count } } : { key: "staff.temps.below" };
  }

  render() {
    const list = this.app.slot("temps-list");
    list.innerHTML = "";
    if (!this.data) return;
    for (const fridge of this.data.fridges) list.append(this.figure(fridge));
    this.app.slot("temps-empty").hidden = this.data.fridges.length > 0;
  }

  figure(fridge) {
    const li = document.createElement("li");
    li.className = "temps-fridge";
    const head = document.createElement("p");
    head.className = "temps-head";
    const name = document.createElement("strong");
    name.textContent = t("staff.temps.fridge", { fridge: fridge.fridge, zone: fridge.zone });
    const words = [];
    if (fridge.points.length) {
      const low = Math.min(...fridge.points.map((p) => p.min_c));
      const high = Math.max(...fridge.points.map((p) => p.max_c));
      words.push(`${celsius(low)} … ${celsius(high)}`);
    }
    if (fridge.limit_c !== null) words.push(t("staff.temps.limit", { limit: celsius(fridge.limit_c) }));
    const item = this.statusItem(fridge);
    words.push(t(item.key, item.params));
    const detail = document.createElement("span");
    detail.textContent = words.join(" · ");
    head.append(name, detail);
    li.append(head, this.chart(fridge, `${name.textContent}: ${detail.textContent}`));
    return li;
  }

  chart(fridge, label) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "temps-chart" });
    const since = Date.parse(this.data.since);
    const span = Date.parse(this.data.until) - since || 1;
    const values = fridge.points.flatMap((p) => [p.min_c, p.max_c]);
    for (const line of [fridge.limit_c, fridge.ceiling_c]) if (line !== null) values.push(line);
    const lo = Math.floor((values.length ? Math.min(...values) : 0) - 1);
    const hi = Math.ceil((values.length ? Math.max(...values) : 10) + 1);
    const x = (iso) => PAD.left + ((Date.parse(iso) - since) / span) * (W - PAD.left - PAD.right);
    const y = (c) => PAD.top + ((hi - c) / (hi - lo)) * (H - PAD.top - PAD.bottom);
    root.append(svg("rect", { x: PAD.left, y: PAD.top, width: W - PAD.left - PAD.right, height: H - PAD.top - PAD.bottom, class: "temps-frame" }));
    for (const c of [lo, hi]) root.append(svg("text", { x: PAD.left - 6, y: y(c) + 5, class: "temps-axis", "text-anchor": "end" }, celsius(c)));
    for (const hours of [24, 12, 0]) {
      const at = new Date(since + span - hours * 3600_000).toISOString();
      root.append(svg("text", { x: x(at), y: H - 6, class: "temps-axis", "text-anchor": hours === 24 ? "start" : hours ? "middle" : "end" }, hours ? `−${hours} h` : t("staff.temps.now")));
    }
    if (fridge.limit_c !== null) this.limitLine(root, y(fridge.limit_c), "temps-limit", t("staff.temps.limit", { limit: celsius(fridge.limit_c) }));
    if (fridge.ceiling_c !== null) this.limitLine(root, y(fridge.ceiling_c), "temps-ceiling", celsius(fridge.ceiling_c));
    const band = fridge.points.map((p) => `${x(p.at)},${y(p.max_c)}`).concat([...fridge.points].reverse().map((p) => `${x(p.at)},${y(p.min_c)}`));
    if (band.length) root.append(svg("polygon", { points: band.join(" "), class: "temps-band" }));
    root.append(svg("polyline", { points: fridge.points.map((p) => `${x(p.at)},${y(p.mean_c)}`).join(" "), class: "temps-mean" }));
    for (const p of fridge.points) root.append(svg("circle", { cx: x(p.at), cy: y(p.mean_c), r: 3, class: "temps-dot" })); // a lone reading shows too
    const ceiling = fridge.ceiling_c ?? fridge.limit_c;
    for (const p of fridge.points) {
      if (ceiling === null || p.max_c <= ceiling) continue;
      const cx = x(p.at);
      const cy = y(p.max_c);
      root.append(svg("path", { d: `M${cx - 6},${cy - 4} L${cx + 6},${cy - 4} L${cx},${cy - 14} Z`, class: "temps-over" })); // a warning mark, not just colour
    }
    return root;
  }

  limitLine(root, yPos, className, text) {
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: yPos, y2: yPos, class: className }));
    root.append(svg("text", { x: W - PAD.right - 4, y: yPos - 4, class: `temps-axis ${className}-label`, "text-anchor": "end" }, text));
  }

  script() {
    const items = [{ key: "staff.temps.title" }];
    for (const fridge of this.data?.fridges || []) items.push(this.statusItem(fridge));
    return items;
  }
}
