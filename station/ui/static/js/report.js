// The end-of-day report for volunteers: today so far (sales, card bookings, goods in and out,
// temperatures per zone, open tasks), and sending it to the platform now.

import { api } from "./api.js";
import { money, t } from "./i18n.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

export class EndOfDay {
  constructor(app, staff) {
    this.app = app;
    this.staff = staff;
    this.clear();
    app.register("staff-report", { enter: () => this.render(), script: () => this.script() });
  }

  action(name) {
    const actions = { "staff-report": () => this.open(), "staff-report-send": () => this.send() };
    if (!actions[name]) return false;
    actions[name]();
    return true;
  }

  clear() {
    this.data = null;
    this.sent = false;
  }

  async open() {
    this.sent = false;
    try {
      this.data = await api.endOfDay(today());
    } catch (error) {
      if (!this.staff.failed(error, () => this.open())) this.app.problem({ title: { key: "staff.error.report.title" }, next: { key: "staff.error.station.next" } });
      return;
    }
    this.app.show("staff-report");
  }

  render() {
    const r = this.data;
    if (!r) return;
    const [y, m, d] = r.day.split("-");
    this.app.slot("report-day").textContent = t("staff.report.day", { day: `${d}.${m}.${y}` });
    const facts = this.app.slot("report-facts");
    facts.innerHTML = "";
    const row = (key, value) => {
      const div = el("div");
      div.append(el("dt", "", t(key)), el("dd", "", value));
      facts.append(div);
    };
    row("staff.report.sales", t("staff.report.sales_value", { count: r.sales.count, total: r.sales.total_cents }));
    row("staff.report.card", money(r.card.booked_cents));
    row("staff.report.stock", t("staff.report.stock_value", { loaded: r.stock.loaded_items, removed: r.stock.removed_items }));
    for (const [zone, temps] of Object.entries(r.temperatures)) {
      const c = new Intl.NumberFormat(document.documentElement.lang, { maximumFractionDigits: 1 });
      const range = temps.readings ? `${c.format(temps.min_c)} … ${c.format(temps.max_c)} °C` : t("staff.report.no_readings");
      row("staff.report.zone", `${zone}: ${range}`);
    }
    row("staff.report.tasks", String(r.open_tasks.length));
    this.app.slot("report-sent").hidden = !this.sent;
    this.app.section("staff-report").querySelector('[data-action="staff-report-send"]').hidden = this.sent;
  }

  async send() {
    try {
      this.data = await api.sendEndOfDay(this.data.day);
      this.sent = true;
      this.render();
    } catch (error) {
      if (!this.staff.failed(error, () => this.send())) this.app.problem({ title: { key: "staff.error.report.title" }, next: { key: "staff.error.station.next" } });
    }
  }

  script() {
    const items = [{ key: "staff.report.title" }, { key: "staff.report.sales" }];
    if (this.data) items.push({ key: "staff.report.sales_value", params: { count: this.data.sales.count, total: this.data.sales.total_cents } });
    return [...items, this.sent ? { key: "staff.report.sent" } : { key: "staff.report.send" }];
  }
}
