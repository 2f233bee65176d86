// Restocking by a volunteer: open a compartment (keypad, or from a task), record what is in it
// (product from the catalogue, count, use-by or best-before date), take everything out with a
// reason, close. Each step is one call of /api/staff/restocks; the daemon owns the door and the stock.

import { api } from "./api.js";
import { date, money, t } from "./i18n.js";
import { Keypad } from "./keypad.js";

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = { use_by: 5, best_before: 30 }; // where the date stepper starts: tap +/- from there
const MAX_COUNT = 999;
// Refusals of opening (error code) -> what the keypad screen says.
const OPEN_PROBLEM = { not_found: "staff.open.unknown", not_available: "staff.open.not_available", forbidden: "staff.open.taken" };

function isoIn(days) {
  const d = new Date(Date.now() + days * DAY_MS);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export class Restock {
  constructor(app, staff) {
    this.app = app;
    this.staff = staff;
    this.products = [];
    this.keypad = new Keypad(app.slot("staff-open-keypad"), {
      label: "number.label", okKey: "staff.open.ok", maxLength: 4,
      onSubmit: (value) => this.open(Number(value)),
      onChange: () => {
        app.slot("staff-open-message").textContent = "";
      },
      speak: (items) => app.speech.on && app.speech.say(items),
    });
    app.register("staff-open", { enter: () => this.keypad.refresh(), script: () => [{ key: "staff.open.title" }, { key: "number.hint" }, ...this.keypad.script(), { key: "staff.open.ok" }] });
    app.register("staff-restock", { enter: () => this.renderRestock(), script: () => this.restockScript() });
    app.register("staff-remove", { script: () => ["staff.remove.title", "staff.remove.hint", "staff.remove.expired", "staff.remove.damaged", "staff.remove.recalled", "staff.remove.other"].map((key) => ({ key })) });
    app.register("staff-load", { enter: () => this.renderProducts(), script: () => [{ key: "staff.load.title" }] });
    app.register("staff-amount", { enter: () => this.renderAmount(), script: () => this.amountScript() });
  }

  action(name, target) {
    const actions = {
      "staff-open": () => this.app.show("staff-open"),
      "staff-load": () => this.chooseProduct(),
      "staff-remove": () => this.app.show("staff-remove"),
      "staff-remove-reason": () => this.remove(target.dataset.reason),
      "staff-close": () => this.close(),
      "staff-products-next": () => this.turn(1),
      "staff-products-prev": () => this.turn(-1),
      "staff-product": () => this.pick(target.dataset.gtin),
      "count-down": () => this.stepCount(-1),
      "count-up": () => this.stepCount(1),
      "date-kind": () => this.setDateKind(target.dataset.kind),
      "date-down": () => this.stepDate(-1),
      "date-up": () => this.stepDate(1),
      "staff-save": () => this.save(),
    };
    if (!actions[name]) return false;
    actions[name]();
    return true;
  }

  clear() {
    this.current = null; // the open restocking session (RestockOut)
    this.product = null;
    this.page = 0;
    this.busy = false;
    this.keypad?.clear();
  }

  // ---- open, remove, close -----------------------------------------------------------------------
  async open(compartment) {
    if (this.busy) return;
    this.busy = true;
    const message = this.app.slot("staff-open-message");
    message.textContent = t("staff.open.opening", { compartment });
    try {
      const restock = await api.openRestock(compartment);
      this.keypad.clear();
      if (restock.state === "opened") {
        this.current = restock;
        this.app.show("staff-restock");
      } else {
        this.doorProblem(compartment);
      }
    } catch (error) {
      if (this.staff.failed(error, () => this.open(compartment))) return;
      if (this.app.screen !== "staff-open") this.app.show("staff-open");
      this.app.slot("staff-open-message").textContent = t(OPEN_PROBLEM[error.error] || "staff.open.not_available", { compartment });
    } finally {
      this.busy = false;
    }
  }

  /** Carry on with a restocking left open (after a new log-in): its door may still be open. */
  async resume(id) {
    try {
      this.current = await api.restock(id);
    } catch (error) {
      if (!this.staff.failed(error, () => this.resume(id))) this.staff.home();
      return;
    }
    this.app.show("staff-restock");
  }

  doorProblem(compartment) {
    this.app.problem({
      title: { key: "staff.error.door.title", params: { compartment } },
      money: { key: "staff.error.door.goods" },
      next: { key: "staff.error.door.next" },
      retry: { label: "staff.error.retry", run: () => this.open(compartment) },
    });
  }

  async remove(reason) {
    await this.step(() => api.removeGoods(this.current.id, reason));
  }

  async close() {
    const compartment = this.current.compartment;
    try {
      await api.closeRestock(this.current.id);
    } catch (error) {
      if (!this.staff.failed(error, () => this.close())) this.app.problem({ title: { key: "staff.error.close.title" }, next: { key: "staff.error.close.next" } });
      return;
    }
    this.current = null;
    this.staff.home({ key: "staff.restock.closed", params: { compartment } });
  }

  /** One recording call; the answer is the compartment as it is now. */
  async step(call, messageSlot = null) {
    try {
      this.current = await call();
      this.app.show("staff-restock");
    } catch (error) {
      if (this.staff.failed(error)) return;
      if (messageSlot) this.app.slot(messageSlot).textContent = t("staff.error.load_invalid");
      else this.app.problem({ title: { key: "staff.error.close.title" }, next: { key: "staff.error.close.next" } });
    }
  }

  renderRestock() {
    const r = this.current;
    if (!r) return;
    this.app.slot("restock-title").textContent = t("door.open", { compartment: r.compartment });
    this.app.slot("restock-state").textContent = t("staff.restock.hint");
    const list = this.app.slot("restock-contents");
    list.innerHTML = "";
    for (const item of r.contents) {
      const dates = [item.use_by && t("staff.restock.use_by", { date: item.use_by }), item.best_before && t("buy.best_before", { date: item.best_before })];
      const li = document.createElement("li");
      li.textContent = [`${item.quantity} × ${item.name}`, ...dates.filter(Boolean)].join(" · ");
      list.append(li);
    }
    this.app.slot("restock-empty").hidden = r.contents.length > 0;
    this.app.section("staff-restock").querySelector('[data-action="staff-remove"]').hidden = !r.contents.length;
  }

  restockScript() {
    const r = this.current;
    const items = [{ key: "door.open", params: { compartment: r?.compartment || 0 } }, { key: "staff.restock.hint" }];
    if (!r?.contents.length) items.push({ key: "staff.restock.empty" });
    return [...items, { key: "staff.restock.add" }, { key: "staff.restock.close" }];
  }

  // ---- goods in: product, count, date -----------------------------------------------------------
  async chooseProduct() {
    if (!this.products.length) {
      try {
        this.products = await api.products();
      } catch (error) {
        if (!this.staff.failed(error, () => this.chooseProduct())) this.app.problem({ title: { key: "staff.error.station.title" }, next: { key: "staff.error.station.next" } });
        return;
      }
    }
    this.page = 0;
    this.app.show("staff-load");
  }

  renderProducts() {
    const grid = this.app.slot("staff-products");
    grid.innerHTML = "";
    const { cols, rows } = this.app.shop.measure(grid);
    grid.style.setProperty("--cols", cols);
    const size = cols * rows;
    const pages = Math.max(1, Math.ceil(this.products.length / size));
    this.page = Math.min(this.page, pages - 1);
    for (const p of this.products.slice(this.page * size, (this.page + 1) * size)) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tile";
      button.dataset.action = "staff-product";
      button.dataset.gtin = p.gtin;
      const name = document.createElement("span");
      name.className = "tile-name";
      name.textContent = p.name;
      const price = document.createElement("span");
      price.className = "tile-meta";
      price.textContent = `${money(p.price_cents)} · ${p.gtin}`;
      button.append(name, price);
      li.append(button);
      grid.append(li);
    }
    const section = this.app.section("staff-load");
    section.querySelector('[data-action="staff-products-prev"]').hidden = this.page === 0;
    section.querySelector('[data-action="staff-products-next"]').hidden = this.page >= pages - 1;
    const pageOf = this.app.slot("staff-products-page");
    pageOf.hidden = pages === 1;
    pageOf.textContent = t("buy.page", { page: this.page + 1, pages });
    this.pages = pages;
  }

  turn(step) {
    this.page = Math.max(0, Math.min(this.pages - 1, this.page + step));
    this.renderProducts();
  }

  pick(gtin) {
    const product = this.products.find((p) => p.gtin === gtin);
    if (!product) return;
    const kind = product.needs_date ? "use_by" : "best_before";
    this.product = { ...product, count: 1, kind, days: DEFAULT_DAYS[kind] };
    this.app.slot("amount-message").textContent = "";
    this.app.show("staff-amount");
  }

  stepCount(step) {
    this.product.count = Math.max(1, Math.min(MAX_COUNT, this.product.count + step));
    this.renderAmount();
  }

  setDateKind(kind) {
    if (kind === "none" && this.product.needs_date) return;
    this.product.kind = kind;
    if (kind !== "none") this.product.days = DEFAULT_DAYS[kind];
    this.renderAmount();
  }

  stepDate(step) {
    this.product.days = Math.max(0, Math.min(3650, this.product.days + step));
    this.renderAmount();
  }

  renderAmount() {
    const p = this.product;
    if (!p || !this.current) return;
    this.app.slot("amount-door").textContent = t("buy.compartment", { compartment: this.current.compartment });
    this.app.slot("amount-product").textContent = p.name;
    this.app.slot("amount-count").textContent = String(p.count);
    const section = this.app.section("staff-amount");
    for (const button of section.querySelectorAll('[data-action="date-kind"]')) {
      button.setAttribute("aria-pressed", String(button.dataset.kind === p.kind));
    }
    this.app.slot("date-none").hidden = p.needs_date; // chilled goods always need a date
    this.app.slot("date-stepper").hidden = p.kind === "none";
    this.app.slot("amount-date").textContent = p.kind === "none" ? "" : date(isoIn(p.days));
  }

  amountScript() {
    const p = this.product;
    const items = [{ key: "staff.amount.count" }, { key: "staff.amount.count_value", params: { count: p?.count || 0 } }];
    if (p && p.kind !== "none") items.push({ key: p.kind === "use_by" ? "staff.amount.use_by" : "staff.amount.best_before" }, { key: "staff.amount.date_value", params: { date: isoIn(p.days) } });
    return [...items, { key: "staff.amount.save" }];
  }

  async save() {
    const p = this.product;
    const body = { gtin: p.gtin, quantity: p.count };
    if (p.kind !== "none") body[p.kind] = isoIn(p.days);
    await this.step(() => api.loadGoods(this.current.id, body), "amount-message");
  }
}
