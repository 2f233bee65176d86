// Buying, before the payment: the shop window, the grid of compartments (paged, never scrolled),
// the compartment number keypad, the item and the age notice.

import { api } from "./api.js";
import { date, money, t } from "./i18n.js";
import { Keypad } from "./keypad.js";

const STATE_ICON = {
  sold_out: "soldout", blocked: "lock", needs_check: "clock", unavailable: "offline", reserved: "clock", occupied: "door",
};
const WINDOW_REFRESH_MS = 60_000;
const COLD = { chilled: "buy.chilled", frozen: "buy.frozen" };

function icon(name) {
  return `<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-${name}"/></svg>`;
}

function escape(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

export class Shop {
  constructor(app) {
    this.app = app;
    this.offers = new Map(); // compartment -> offer (GET /api/offers)
    this.shelf = []; // every compartment with its state (GET /api/ui/compartments)
    this.page = 0;
    this.pageSize = 1;
    this.selected = null;
    this.keypad = new Keypad(app.slot("keypad"), {
      label: "number.label",
      okKey: "number.show",
      maxLength: 4,
      onSubmit: (value) => this.showNumber(Number(value)),
      onChange: () => {
        app.slot("number-message").textContent = "";
      },
      speak: (items) => app.speech.on && app.speech.say(items),
    });
    app.register("idle", { enter: () => this.enterWindow(), script: () => this.windowScript() });
    app.register("buy", { enter: () => this.enterGrid(), script: () => this.gridScript() });
    app.register("number", { enter: () => this.keypad.refresh(), script: () => this.numberScript() });
    app.register("item", { enter: () => this.renderItem(), script: () => this.itemScript() });
    app.register("age", { enter: () => this.renderAge(), script: () => this.ageScript() });
  }

  action(name, target) {
    const actions = {
      buy: () => this.app.show("buy"),
      "next-page": () => this.turn(1),
      "prev-page": () => this.turn(-1),
      "by-number": () => this.app.show("number"),
      select: () => this.select(Number(target.dataset.compartment)),
      "age-continue": () => this.app.show("age"),
    };
    if (!actions[name]) return false;
    actions[name]();
    return true;
  }

  clear() {
    this.selected = null;
    this.page = 0;
    this.keypad.clear();
    this.app.slot("number-message").textContent = "";
  }

  /** The grid's entries: the shelf (every door) with the offers merged in. */
  entries() {
    if (!this.shelf.length) return [...this.offers.values()].map((offer) => ({ compartment: offer.compartment, state: "for_sale", offer }));
    return this.shelf.map((c) => {
      const offer = this.offers.get(c.compartment);
      const state = c.state === "for_sale" && !offer ? "sold_out" : c.state;
      return { ...c, state, offer: state === "for_sale" ? offer : undefined };
    });
  }

  async refresh() {
    const [offers, shelf] = await Promise.allSettled([api.offers(), api.compartments()]);
    if (offers.status === "fulfilled") this.offers = new Map(offers.value.map((o) => [o.compartment, o]));
    if (shelf.status === "fulfilled") this.shelf = shelf.value;
    for (const offer of this.offers.values()) {
      if (!offer.available) this.shelf = this.shelf.map((c) => (c.compartment === offer.compartment ? { ...c, state: "unavailable" } : c));
    }
  }

  /** The station's status changed (a board down, a door, the terminal): redraw what depends on it. */
  async onStatus() {
    const screen = this.app.screen;
    if (screen === "item") this.renderItem();
    if (screen !== "buy" && screen !== "idle") return;
    await this.refresh();
    if (this.app.screen !== screen) return;
    if (screen === "buy") this.renderGrid();
    else this.renderWindow();
  }

  layoutChanged() {
    if (this.app.screen === "buy") this.renderGrid();
    if (this.app.screen === "idle") this.renderWindow();
  }

  // ---- shop window (idle screen) -------------------------------------------------------------
  enterWindow() {
    this.renderWindow();
    this.refreshWindow();
  }

  /** The shop window follows the stock while it is shown (sales, restocking). */
  async refreshWindow() {
    clearTimeout(this.windowTimer);
    await this.refresh();
    if (this.app.screen !== "idle") return;
    this.renderWindow();
    this.windowTimer = setTimeout(() => this.refreshWindow(), WINDOW_REFRESH_MS);
  }

  renderWindow() {
    const list = this.app.slot("window");
    const forSale = this.entries().filter((e) => e.state === "for_sale");
    list.innerHTML = forSale
      .map((e) => `<li><span>${escape(e.offer.name)}</span><span class="price">${escape(money(e.offer.quantity * e.offer.price_cents))}</span></li>`)
      .join("");
    // Show only what fits (nothing scrolls); say how many more there are.
    let hidden = 0;
    const bottom = list.getBoundingClientRect().bottom;
    for (const item of [...list.children].reverse()) {
      if (item.getBoundingClientRect().bottom <= bottom + 1) break;
      item.remove();
      hidden += 1;
    }
    const more = this.app.slot("window-more");
    more.hidden = hidden === 0;
    more.textContent = t("idle.more", { count: hidden });
    this.app.slot("window-empty").hidden = forSale.length > 0;
  }

  windowScript() {
    const forSale = this.entries().some((e) => e.state === "for_sale");
    return [{ key: "idle.title" }, ...(forSale ? [] : [{ key: "idle.empty" }]), { key: "idle.touch" }];
  }

  // ---- grid of compartments ------------------------------------------------------------------
  enterGrid() {
    this.renderGrid();
    this.refresh().then(() => this.app.screen === "buy" && this.renderGrid());
  }

  /** How many tiles fit the grid's box at the current text size: the grid is paged, never scrolled. */
  measure(grid) {
    const probe = document.createElement("div");
    probe.className = "tile";
    probe.style.cssText = "position:absolute;visibility:hidden;width:var(--tile-w);height:var(--tile-h)";
    grid.parentElement.append(probe);
    const tile = probe.getBoundingClientRect();
    probe.remove();
    const gap = parseFloat(getComputedStyle(grid).rowGap) || 0;
    const box = grid.getBoundingClientRect();
    const cols = Math.max(1, Math.floor((box.width + gap) / (tile.width + gap)));
    const rows = Math.max(1, Math.floor((box.height + gap) / (tile.height + gap)));
    return { cols, rows };
  }

  renderGrid() {
    const grid = this.app.slot("grid");
    grid.innerHTML = "";
    const { cols, rows } = this.measure(grid);
    grid.style.setProperty("--cols", cols);
    this.pageSize = cols * rows;
    const entries = this.entries();
    const pages = Math.max(1, Math.ceil(entries.length / this.pageSize));
    this.page = Math.min(this.page, pages - 1);
    const shown = entries.slice(this.page * this.pageSize, (this.page + 1) * this.pageSize);
    grid.innerHTML = shown.map((e) => `<li>${this.tile(e)}</li>`).join("");
    this.app.slot("grid-empty").hidden = entries.length > 0;
    const section = this.app.section("buy");
    section.querySelector('[data-action="prev-page"]').hidden = this.page === 0;
    section.querySelector('[data-action="next-page"]').hidden = this.page >= pages - 1;
    const pageOf = this.app.slot("page-of");
    pageOf.hidden = pages === 1;
    pageOf.textContent = t("buy.page", { page: this.page + 1, pages });
    this.shown = shown;
    this.pages = pages;
  }

  tile(e) {
    const door = `<span>${escape(t("buy.compartment", { compartment: e.compartment }))}</span>`;
    if (e.state !== "for_sale") {
      return `<div class="tile tile-off" data-compartment="${e.compartment}" data-state="${e.state}">
        <span class="tile-door">${door}</span>
        <span class="tile-state">${icon(STATE_ICON[e.state] || "lock")}${escape(t(`buy.state.${e.state}`))}</span></div>`;
    }
    const o = e.offer;
    const age = o.min_age ? `<span class="badge">${escape(t("buy.min_age", { age: o.min_age }))}</span>` : "";
    const meta = [
      COLD[o.temperature_class] ? `${icon("snow")}${escape(t(COLD[o.temperature_class]))}` : "",
      o.best_before ? escape(t("buy.best_before", { date: o.best_before })) : "",
    ].filter(Boolean).join(" · ");
    const deposit = o.deposit_cents ? `<span class="tile-meta">${escape(t("buy.deposit", { deposit: o.quantity * o.deposit_cents }))}</span>` : "";
    return `<button type="button" class="tile" data-action="select" data-compartment="${e.compartment}" data-state="for_sale">
      <span class="tile-door">${door}${age}</span>
      <span class="tile-name">${escape(o.name)}</span>
      ${meta ? `<span class="tile-meta">${meta}</span>` : ""}
      <span class="tile-price">${escape(money(o.quantity * o.price_cents))}</span>
      ${deposit}</button>`;
  }

  turn(step) {
    this.page = Math.max(0, Math.min(this.pages - 1, this.page + step));
    this.renderGrid();
    if (this.app.speech.on) this.app.speakScreen();
  }

  gridScript() {
    const items = [{ key: "buy.title" }, { key: "buy.hint" }];
    for (const e of this.shown || []) {
      items.push({ key: "buy.compartment", params: { compartment: e.compartment } });
      if (e.state !== "for_sale") items.push({ key: `buy.state.${e.state}` });
      else {
        items.push({ key: "buy.price", params: { price: e.offer.quantity * e.offer.price_cents } });
        if (e.offer.min_age) items.push({ key: "buy.min_age", params: { age: e.offer.min_age } });
      }
    }
    if (!(this.shown || []).length) items.push({ key: "buy.empty" });
    if (this.pages > 1) items.push({ key: "buy.page", params: { page: this.page + 1, pages: this.pages } });
    items.push({ key: "buy.by_number" });
    return items;
  }

  // ---- compartment number --------------------------------------------------------------------
  showNumber(number) {
    const known = this.entries().some((e) => e.compartment === number);
    if (!known) {
      this.app.slot("number-message").textContent = t("number.unknown", { compartment: number });
      if (this.app.speech.on) this.app.speech.say([{ key: "number.unknown", params: { compartment: number } }]);
      return;
    }
    this.select(number);
  }

  numberScript() {
    return [{ key: "number.title" }, { key: "number.hint" }, { key: "number.label" }, ...this.keypad.script(), { key: "number.show" }];
  }

  // ---- item ----------------------------------------------------------------------------------
  select(compartment) {
    this.selected = compartment;
    this.app.show("item");
  }

  selectedEntry() {
    return this.entries().find((e) => e.compartment === this.selected);
  }

  renderItem() {
    const e = this.selectedEntry();
    if (!e) return;
    const o = e.offer;
    const section = this.app.section("item");
    this.app.slot("item-door").textContent = t("buy.compartment", { compartment: e.compartment });
    this.app.slot("item-name").textContent = o ? o.name : t(`buy.state.${e.state}`);
    section.querySelector(".facts").hidden = !o;
    this.app.slot("item-off").hidden = Boolean(o);
    const temp = this.app.slot("item-temp");
    temp.hidden = !(o && COLD[o.temperature_class]);
    if (o && COLD[o.temperature_class]) temp.querySelector("span").textContent = t(COLD[o.temperature_class]);
    const age = this.app.slot("item-age");
    age.hidden = !(o && o.min_age);
    const pay = section.querySelector('[data-action="pay"]');
    pay.hidden = !o || Boolean(o.min_age);
    // A terminal that does not answer would only abort the payment: say so before anyone tries
    // (unless a voucher pays for all of it: then the card is not asked).
    const credit = this.app.credit;
    const covered = Boolean(o && credit && credit.amount_cents >= o.total_cents);
    pay.disabled = !this.app.status.card_payment && !covered;
    this.app.slot("item-card-down").hidden = !o || Boolean(o.min_age) || this.app.status.card_payment || covered;
    const creditNote = this.app.slot("item-credit");
    creditNote.hidden = !(o && credit);
    if (credit) creditNote.querySelector("span").textContent = t("item.credit", { total: credit.amount_cents });
    section.querySelector('[data-action="age-continue"]').hidden = !(o && o.min_age);
    this.app.slot("item-cards").hidden = !o || Boolean(o.min_age);
    if (!o) return;
    if (o.min_age) age.querySelector("span").textContent = t("item.age_notice", { age: o.min_age });
    this.app.slot("item-price").textContent = money(o.quantity * o.price_cents);
    this.app.slot("item-deposit-row").hidden = !o.deposit_cents;
    this.app.slot("item-deposit").textContent = money(o.quantity * o.deposit_cents);
    this.app.slot("item-total").textContent = money(o.total_cents);
    const more = [t("item.contents", { count: o.quantity })];
    if (o.best_before) more.push(t("item.best_before", { date: o.best_before }));
    this.app.slot("item-more").textContent = more.join(" · ");
    this.app.slot("pay-label").textContent = `${t("item.pay")}: ${money(o.total_cents)}`;
  }

  itemScript() {
    const e = this.selectedEntry();
    if (!e) return [];
    const items = [{ key: "buy.compartment", params: { compartment: e.compartment } }];
    const o = e.offer;
    if (!o) return [...items, { key: "item.not_for_sale" }];
    items.push({ key: "item.price" }, { key: "buy.price", params: { price: o.quantity * o.price_cents } });
    if (o.deposit_cents) items.push({ key: "item.deposit" }, { key: "buy.price", params: { price: o.quantity * o.deposit_cents } });
    items.push({ key: "item.total" }, { key: "buy.price", params: { price: o.total_cents } });
    items.push({ key: "item.contents", params: { count: o.quantity } });
    if (o.best_before) items.push({ key: "item.best_before", params: { date: o.best_before } });
    if (o.min_age) return [...items, { key: "item.age_notice", params: { age: o.min_age } }, { key: "item.continue" }];
    if (!this.app.status.card_payment) return [...items, { key: "chrome.card_down" }];
    return [...items, { key: "item.pay" }, { key: "item.cards" }];
  }

  // ---- age-restricted goods: explain before any payment (the age check comes with issue 14) ---
  renderAge() {
    const o = this.selectedEntry()?.offer;
    if (!o) return;
    this.app.slot("age-title").textContent = t("age.title", { age: o.min_age });
    const help = this.app.helpLine();
    this.app.section("age").querySelector('[data-slot="call"]').textContent = t(help.key, help.params);
  }

  ageScript() {
    const o = this.selectedEntry()?.offer;
    return [{ key: "age.title", params: { age: o?.min_age } }, { key: "age.how" }, { key: "age.not_yet" }, { key: "age.other" }];
  }
}

export { escape, icon };
