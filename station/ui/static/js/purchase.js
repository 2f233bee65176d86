// Buying, from the payment on: the terminal's prompts live, which door opened, "please close the
// door", door closed; a declined card; error screens that say what happened to the money and
// whom to call. The flow runs in the daemon: this only follows it (POST, then server-sent events).

import { api, receiptQr } from "./api.js";
import { money, t, terminalText } from "./i18n.js";

const PAYING = new Set(["created", "payment_requested"]);
const OPENING = new Set(["authorised", "release_requested", "not_released"]);
const RELEASED = new Set(["released", "book_requested", "booked", "done", "released_not_charged", "charge_unknown"]);
const FINAL = new Set(["done", "released_not_charged", "charge_unknown", "declined", "cancelled", "aborted", "reversed"]);
const ERROR_CODES = new Set([
  "cancelled", "aborted", "reversed", "released_not_charged", "charge_unknown",
  "busy", "not_available", "unavailable", "network", "generic",
]);
const MONEY_KEY = {
  reversed: "error.reversed.money",
  released_not_charged: "error.released_not_charged.money",
  charge_unknown: "error.charge_unknown.money",
  network: "error.network.money",
};
const NEXT_KEY = {
  aborted: "error.aborted.next",
  reversed: "error.reversed.next",
  busy: "error.busy.next",
  not_available: "error.not_available.next",
};
const CLOSE_STEP_AFTER_MS = 3000;

export class PurchaseFlow {
  constructor(app) {
    this.app = app;
    this.source = null;
    this.timers = [];
    this.clear();
    app.register("pay", { enter: () => this.renderPay(), script: () => this.payScript() });
    app.register("door", { enter: () => this.renderDoor(), leave: () => this.clearTimers(), script: () => this.doorScript() });
    app.register("done", { enter: () => this.renderDone(), leave: () => this.clearTimers(), script: () => this.doneScript() });
    app.register("declined", { enter: () => this.renderCall("declined"), script: () => [{ key: "declined.title" }, { key: "declined.money" }, { key: "declined.next" }, this.app.helpLine(), { key: "declined.retry" }] });
    app.register("error", { enter: () => this.renderError(), script: () => this.errorScript() });
  }

  action(name) {
    const actions = {
      pay: () => this.begin(this.app.shop.selectedEntry()?.offer),
      retry: () => this.begin(this.offer),
      "cancel-payment": () => this.cancel(),
      "print-receipt": () => this.printReceipt(),
    };
    if (!actions[name]) return false;
    actions[name]();
    return true;
  }

  clear() {
    this.source?.close();
    this.source = null;
    this.clearTimers();
    this.sale = null;
    this.state = null;
    this.message = null;
    this.compartments = [];
    this.total = 0;
    this.booked = null;
    this.opened = new Set();
    this.closed = new Set();
    this.code = null;
    this.cancelWanted = false;
    this.receiptId = null;
    this.printing = null; // null, "queued" or "failed"
  }

  clearTimers() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  // ---- following the purchase ----------------------------------------------------------------
  async begin(offer) {
    if (!offer || this.starting) return; // a second tap while the first is on its way does nothing
    this.starting = true;
    this.clear();
    this.offer = offer;
    this.compartments = [offer.compartment];
    this.total = offer.total_cents;
    this.state = "starting";
    this.app.show("pay");
    try {
      const sale = await api.startPurchase(this.compartments, this.app.credit ? [this.app.credit.code] : []);
      this.sale = sale.sale_id;
      this.follow();
      this.apply(sale);
      if (this.cancelWanted) this.cancel();
    } catch (error) {
      this.fail(error.error);
    } finally {
      this.starting = false;
    }
  }

  follow() {
    this.source = new EventSource(`/api/purchases/${encodeURIComponent(this.sale)}/events`);
    this.source.addEventListener("message", (event) => this.apply(JSON.parse(event.data)));
  }

  apply(progress) {
    if (!this.sale || progress.sale_id !== this.sale) return;
    const said = progress.message && progress.message !== this.message;
    this.state = progress.state;
    this.message = progress.message || this.message;
    // What was booked is known only once the terminal booked it (before that the field reads 0).
    if (this.state === "done" && Number.isInteger(progress.booked_cents)) this.booked = progress.booked_cents;
    if (progress.receipt_id) this.receiptId = progress.receipt_id;
    if (this.state === "done") this.app.credit = null; // a voucher paid with is redeemed now
    if (PAYING.has(this.state) || OPENING.has(this.state)) {
      if (this.app.screen === "pay") this.renderPay();
      else this.app.show("pay");
      if (said && this.app.speech.on && PAYING.has(this.state)) this.app.speech.say([{ terminal: this.message }]);
      this.afterRelease();
    } else if (RELEASED.has(this.state)) this.afterRelease();
    else if (this.state === "declined") this.end("declined");
    else this.fail(this.state);
    if (FINAL.has(this.state)) {
      this.source?.close();
      // The live stream may not carry what was booked nor the receipt: ask once.
      if (this.state === "done" && (this.booked === null || !this.receiptId)) this.fetchBooked();
    }
  }

  async fetchBooked() {
    try {
      const sale = await api.purchase(this.sale);
      this.booked = sale.booked_cents;
      this.receiptId = sale.receipt_id || this.receiptId;
      if (this.app.screen === "done") this.renderDone();
    } catch {
      // the total is shown instead
    }
  }

  onDoor(event) {
    if (!this.compartments.includes(event.compartment) || !this.sale) return;
    (event.state === "opened" ? this.opened : this.closed).add(event.compartment);
    if (event.state === "opened") this.closed.delete(event.compartment);
    this.afterRelease();
  }

  onStatus() {
    if (this.sale) this.afterRelease();
  }

  openDoors() {
    // The status lists doors being opened too; before the sale says "released" only a door event
    // (sent once the sensor saw the door open) counts.
    const reported = RELEASED.has(this.state) ? this.app.status.open_doors || [] : [];
    return this.compartments.filter((c) => (this.opened.has(c) && !this.closed.has(c)) || reported.includes(c));
  }

  /** Once a door opened: "Fach N ist offen", then "Tür geschlossen" when it is shut and the sale ended. */
  afterRelease() {
    if (!(OPENING.has(this.state) || RELEASED.has(this.state))) return;
    const open = this.openDoors();
    if (open.length) {
      this.door = open[0];
      if (this.app.screen !== "door") this.app.show("door");
      else this.renderDoor();
    } else if (FINAL.has(this.state) && this.opened.size) {
      this.end("done");
    } else if (FINAL.has(this.state) && !this.checking) {
      this.checkDoors(); // released, but no door event seen (yet): ask once before saying "closed"
    }
  }

  async checkDoors() {
    this.checking = true;
    try {
      this.app.status = await api.status();
    } catch {
      // keep the last status we had
    }
    this.checking = false;
    if (this.openDoors().length) this.afterRelease();
    else if (FINAL.has(this.state) && this.sale) this.end("done");
  }

  end(screen) {
    this.source?.close();
    this.app.show(screen);
  }

  fail(code) {
    this.source?.close();
    this.code = ERROR_CODES.has(code) ? code : "generic";
    this.app.show("error");
  }

  async cancel() {
    if (!this.sale) {
      this.cancelWanted = true; // the purchase is still being started: cancel it once it exists
      return;
    }
    try {
      await api.cancelPurchase(this.sale);
    } catch {
      // too late (the card is being paid): the terminal's prompts go on and say what happens
    }
  }

  // ---- screens -------------------------------------------------------------------------------
  promptItem() {
    if (OPENING.has(this.state)) return { key: "pay.opening", params: { compartment: this.compartments[0] } };
    if (this.message && PAYING.has(this.state)) return { terminal: this.message };
    return { key: "pay.starting" };
  }

  renderPay() {
    this.app.slot("pay-amount").textContent = t("pay.amount", { total: this.total });
    const item = this.promptItem();
    this.app.slot("prompt-text").textContent = item.terminal !== undefined ? terminalText(item.terminal) : t(item.key, item.params);
    this.app.section("pay").querySelector('[data-action="cancel-payment"]').hidden = !(this.state === "starting" || PAYING.has(this.state));
  }

  payScript() {
    const items = [{ key: "pay.title" }, { key: "pay.amount", params: { total: this.total } }, this.promptItem(), { key: "pay.follow" }];
    if (this.state === "starting" || PAYING.has(this.state)) items.push({ key: "pay.cancel" });
    return items;
  }

  renderDoor() {
    this.app.slot("door-title").textContent = t("door.open", { compartment: this.door });
    const close = this.app.slot("step-close");
    const take = this.app.slot("step-take");
    take.classList.add("now");
    close.classList.remove("now");
    this.clearTimers();
    this.timers.push(setTimeout(() => {
      take.classList.remove("now");
      close.classList.add("now");
    }, CLOSE_STEP_AFTER_MS));
  }

  doorScript() {
    return [{ key: "door.open", params: { compartment: this.door } }, { key: "door.take" }, { key: "door.close" }];
  }

  doneMoney() {
    if (this.state === "released_not_charged" || this.state === "charge_unknown") return { key: MONEY_KEY[this.state] };
    return { key: "done.charged", params: { total: this.booked ?? this.total } };
  }

  renderDone() {
    const item = this.doneMoney();
    this.app.slot("done-money").querySelector("span").textContent = t(item.key, item.params);
    // The receipt: a QR code on the screen always (no paper needed), printed on request.
    this.app.slot("done-receipt").hidden = !this.receiptId;
    this.app.slot("done-print").hidden = !this.receiptId || this.printing === "queued";
    if (this.receiptId) this.app.slot("done-qr").src = receiptQr(this.receiptId);
    this.app.slot("done-qr").alt = t("done.receipt");
    const printing = this.app.slot("done-printing");
    printing.hidden = !this.printing;
    printing.querySelector("span").textContent = t(this.printing === "failed" ? "done.print_failed" : "done.printing");
    this.clearTimers();
    this.timers.push(setTimeout(() => this.app.resetSession("start"), this.app.boot.timing.done_s * 1000));
  }

  doneScript() {
    const receipt = this.receiptId ? [{ key: "done.receipt" }, { key: "done.print" }] : [];
    return [{ key: "done.closed" }, { key: "done.thanks" }, this.doneMoney(), ...receipt, { key: "done.again" }, { key: "done.finish" }];
  }

  async printReceipt() {
    if (!this.receiptId) return;
    try {
      await api.printReceipt(this.receiptId);
      this.printing = "queued";
    } catch {
      this.printing = "failed"; // the QR code on the screen is the receipt then
    }
    if (this.app.screen === "done") this.renderDone();
  }

  renderCall(screen) {
    const help = this.app.helpLine();
    this.app.section(screen).querySelector('[data-slot="call"]').textContent = t(help.key, help.params);
  }

  errorParts() {
    const code = this.code || "generic";
    return {
      title: { key: `error.${code}.title` },
      money: { key: MONEY_KEY[code] || "error.nothing_charged" },
      next: NEXT_KEY[code] ? { key: NEXT_KEY[code] } : null,
    };
  }

  renderError() {
    const { title, money: moneyItem, next } = this.errorParts();
    this.app.slot("error-title").textContent = t(title.key);
    this.app.slot("error-money").querySelector("span").textContent = t(moneyItem.key);
    const nextEl = this.app.slot("error-next");
    nextEl.hidden = !next;
    nextEl.textContent = next ? t(next.key) : "";
    this.renderCall("error");
  }

  errorScript() {
    const { title, money: moneyItem, next } = this.errorParts();
    return [title, moneyItem, ...(next ? [next] : []), this.app.helpLine(), { key: "chrome.home" }];
  }

  /** Show a screen of this flow with given data, without a purchase (screenshots, checks). */
  preview(screen, data = {}) {
    this.clear();
    Object.assign(this, data);
    this.app.show(screen);
  }
}

export { money };
