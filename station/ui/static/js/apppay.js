// Paying by app and proving an age. The pay-by-app screen shows the station's signed payment
// request as a QR code (from the API), the amount, how long it is valid and "waiting for your app";
// the purchase flow (purchase.js) follows the sale to the door once the platform confirmed it.
// The age screen offers the proofs the daemon accepts (GET /api/payment-methods): a customer card
// held to the reader before paying by card, or the app, which checks the age itself.

import { api } from "./api.js";
import { t } from "./i18n.js";

const CARD_POLL_MS = 1000;
const WAITING = new Set(["starting", "app_requested"]);

export class AppPay {
  constructor(app) {
    this.app = app;
    this.methods = { card: true, app: false, age_proofs: ["customer_card"] };
    this.clockTimer = null;
    this.clear();
    app.register("pay-app", { enter: () => this.enterPay(), leave: () => this.leavePay(), script: () => this.payScript() });
    app.register("age", { enter: () => this.enterAge(), leave: () => this.leaveAge(), script: () => this.ageScript() });
  }

  clear() {
    this.cardRead = false;
    this.refusedAge = null;
  }

  /** How the shopper can pay right now (the app needs the link to the platform). */
  async refreshMethods() {
    try {
      this.methods = await api.paymentMethods();
    } catch {
      this.methods = { ...this.methods, app: false };
    }
    return this.methods;
  }

  // ---- the pay-by-app screen -----------------------------------------------------------------
  flow() {
    return this.app.purchase;
  }

  expiresAt() {
    const request = this.flow().appRequest;
    if (!request) return null;
    try {
      return Date.parse(JSON.parse(request.body).expires_at);
    } catch {
      return null;
    }
  }

  secondsLeft() {
    const at = this.expiresAt();
    return at === null ? null : Math.max(0, Math.round((at - Date.now()) / 1000));
  }

  enterPay() {
    this.renderPay();
    clearInterval(this.clockTimer);
    this.clockTimer = setInterval(() => this.renderClock(), 1000);
  }

  leavePay() {
    clearInterval(this.clockTimer);
    this.clockTimer = null;
  }

  statusItem() {
    const flow = this.flow();
    if (WAITING.has(flow.state)) return { key: flow.qrUrl ? "payapp.waiting" : "pay.starting" };
    return { key: "pay.opening", params: { compartment: flow.compartments[0] } };
  }

  renderPay() {
    const flow = this.flow();
    this.app.slot("payapp-amount").textContent = t("pay.amount", { total: flow.total });
    const qr = this.app.slot("payapp-qr");
    qr.hidden = !flow.qrUrl;
    if (flow.qrUrl && qr.getAttribute("src") !== flow.qrUrl) qr.src = flow.qrUrl;
    qr.alt = t("payapp.qr");
    const item = this.statusItem();
    this.app.slot("payapp-status").querySelector("span").textContent = t(item.key, item.params);
    this.app.section("pay-app").querySelector('[data-action="cancel-payment"]').hidden = !WAITING.has(flow.state);
    this.renderClock();
  }

  renderClock() {
    const left = this.secondsLeft();
    const row = this.app.slot("payapp-left");
    row.hidden = left === null || !WAITING.has(this.flow().state);
    if (row.hidden) return;
    row.querySelector("span").textContent = t("payapp.left", { minutes: Math.ceil(left / 60) });
    this.app.slot("payapp-clock").textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }

  payScript() {
    const flow = this.flow();
    const items = [{ key: "payapp.title" }, { key: "pay.amount", params: { total: flow.total } }];
    if (WAITING.has(flow.state)) {
      items.push({ key: "payapp.scan" }, { key: "payapp.confirm" });
      const left = this.secondsLeft();
      if (left !== null) items.push({ key: "payapp.left", params: { minutes: Math.ceil(left / 60) } });
    }
    items.push(this.statusItem());
    if (WAITING.has(flow.state)) items.push({ key: "pay.cancel" });
    return items;
  }

  // ---- age-restricted goods: which proofs count, before any payment ---------------------------
  async enterAge() {
    this.renderAge();
    clearInterval(this.cardTimer);
    this.cardTimer = setInterval(() => this.pollCard(), CARD_POLL_MS);
    await this.refreshMethods();
    if (this.app.screen === "age") this.renderAge();
  }

  leaveAge() {
    clearInterval(this.cardTimer);
    this.cardTimer = null;
  }

  /** The reader saw a card: paying by card may go on (the daemon checks the card's age then). */
  async pollCard() {
    if (this.app.screen !== "age" || this.cardRead || this.polling) return;
    this.polling = true;
    try {
      const tap = await api.ageCard();
      if (tap.card_waiting && this.app.screen === "age") {
        this.cardRead = true;
        this.refusedAge = null;
        this.renderAge();
        if (this.app.speech.on) this.app.speech.say([{ key: "age.card_read" }]);
      }
    } catch {
      // the reader is not answering: the app still works
    } finally {
      this.polling = false;
    }
  }

  /** The daemon refused the card payment: no card, or one not cleared for this age. */
  refused() {
    this.cardRead = false;
    this.refusedAge = this.offer()?.min_age ?? 18;
    this.app.show("age");
  }

  offer() {
    return this.app.shop.selectedEntry()?.offer;
  }

  ageItems() {
    const o = this.offer();
    const items = [{ key: "age.title", params: { age: o?.min_age ?? 18 } }, { key: "age.how" }, { key: "age.card" }];
    items.push({ key: this.cardRead ? "age.card_read" : "age.card_wait" });
    items.push({ key: this.methods.app ? "age.app" : "item.app_down" });
    return items;
  }

  renderAge() {
    const o = this.offer();
    if (!o) return;
    this.app.slot("age-title").textContent = t("age.title", { age: o.min_age });
    const state = this.app.slot("age-card-state");
    state.classList.toggle("notice-ok", this.cardRead);
    state.querySelector("use").setAttribute("href", this.cardRead ? "#i-check" : "#i-clock");
    state.querySelector("span").textContent = t(this.cardRead ? "age.card_read" : "age.card_wait");
    this.app.slot("age-app-text").textContent = t(this.methods.app ? "age.app" : "item.app_down");
    const message = this.app.slot("age-message");
    message.textContent = this.refusedAge ? t("age.card_refused", { age: this.refusedAge }) : "";
    this.app.slot("age-pay-app").hidden = !this.methods.app;
    this.app.slot("age-pay-card").disabled = !this.cardRead || !this.app.status.card_payment;
  }

  ageScript() {
    const items = this.ageItems();
    if (this.refusedAge) items.push({ key: "age.card_refused", params: { age: this.refusedAge } });
    items.push({ key: "age.not_yet" });
    if (this.methods.app) items.push({ key: "item.pay_app" });
    if (this.cardRead) items.push({ key: "item.pay" });
    return [...items, { key: "age.other" }];
  }
}
