// The receipt printer for volunteers: its state in words (GET /api/staff/printer) and, for each
// state, what to do: change the paper roll, close the cover, check power and cable, or call.

import { api } from "./api.js";
import { t } from "./i18n.js";

const PAPER = ["staff.printer.step.open", "staff.printer.step.roll", "staff.printer.step.close", "staff.printer.step.check"];
const STEPS = {
  ok: [],
  unknown: ["staff.printer.step.check"],
  none: [],
  paper_near_end: PAPER,
  paper_out: PAPER,
  cover_open: ["staff.printer.step.close", "staff.printer.step.check"],
  not_answering: ["staff.printer.step.power", "staff.printer.step.cable", "staff.printer.step.call"],
  fault: ["staff.printer.step.restart", "staff.printer.step.call"],
};
const GOOD = new Set(["ok"]);

export class PrinterScreen {
  constructor(app, staff) {
    this.app = app;
    this.staff = staff;
    this.data = null;
    app.register("staff-printer", { enter: () => this.render(), script: () => this.script() });
  }

  action(name) {
    if (name !== "staff-printer" && name !== "staff-printer-check") return false;
    this.open();
    return true;
  }

  async open() {
    try {
      this.data = await api.printer();
    } catch (error) {
      if (!this.staff.failed(error, () => this.open())) this.app.problem({ title: { key: "staff.error.printer.title" }, next: { key: "staff.error.station.next" } });
      return;
    }
    if (this.app.screen === "staff-printer") this.render();
    else this.app.show("staff-printer");
    if (this.app.speech.on) this.app.speakScreen();
  }

  items() {
    const state = this.data?.state || "unknown";
    const items = [{ key: `staff.printer.${state}` }, ...(STEPS[state] || []).map((key) => ({ key }))];
    if (this.data?.queued) items.push({ key: "staff.printer.queued", params: { count: this.data.queued } });
    return items;
  }

  render() {
    const state = this.data?.state || "unknown";
    const [head, ...steps] = this.items().filter((item) => item.key !== "staff.printer.queued");
    const status = this.app.slot("printer-state");
    status.classList.toggle("notice-ok", GOOD.has(state));
    status.querySelector("use").setAttribute("href", GOOD.has(state) ? "#i-check" : "#i-warn");
    status.querySelector("span").textContent = t(head.key);
    const list = this.app.slot("printer-steps");
    list.innerHTML = "";
    for (const step of steps) {
      const li = document.createElement("li");
      li.textContent = t(step.key, step.params);
      list.append(li);
    }
    list.hidden = !steps.length;
    const queued = this.app.slot("printer-queued");
    queued.hidden = !this.data?.queued;
    queued.textContent = this.data?.queued ? t("staff.printer.queued", { count: this.data.queued }) : "";
  }

  script() {
    return [{ key: "staff.printer.title" }, ...this.items(), { key: "staff.printer.qr_note" }, { key: "staff.printer.recheck" }];
  }
}
