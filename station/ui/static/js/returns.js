// Returning empties: the live count, the pay-out (printed voucher with a QR code as the digital
// fallback, credit to spend here now, or a donation), and redeeming a voucher at the station's till.
// The return runs in the daemon: this only follows it (POST, then server-sent events).

import { api, receiptQr } from "./api.js";
import { money, t } from "./i18n.js";
import { Keypad } from "./keypad.js";

const SETTLED = new Set(["voucher", "credit", "donated", "cancelled"]);
const PRINT_DONE = new Set(["printed", "unconfirmed", "expired"]);
const PRINT_POLL_MS = 1000;
const KIND_KEY = { single_use: "return.kind.single_use", reusable: "return.kind.reusable", crate: "return.kind.crate" };
// Why the machine cannot take a return now (GET /api/deposit machine_state) -> what the screen says.
// (Each name has a return.error.<name>.title and .next in the catalogue.)
const MACHINE_PROBLEM = { bin_full: "full", fault: "fault", out_of_order: "fault", session: "busy", busy: "busy" };
// A voucher that cannot pay (POST /api/vouchers/check): its state or the refusal -> the message.
const VOUCHER_PROBLEM = {
  not_found: "voucher.error.unknown",
  redeemed: "voucher.error.redeemed",
  void: "voucher.error.void",
  held: "voucher.error.held",
  throttled: "voucher.error.throttled",
  invalid: "voucher.error.unknown",
};

export class Returns {
  constructor(app) {
    this.app = app;
    this.source = null;
    this.clear();
    this.keypad = new Keypad(app.slot("voucher-keypad"), {
      label: "voucher.label",
      okKey: "voucher.check",
      maxLength: 13,
      onSubmit: (value) => this.checkVoucher(value),
      onChange: () => {
        app.slot("voucher-message").textContent = "";
      },
      speak: (items) => app.speech.on && app.speech.say(items),
    });
    app.register("return", { enter: () => this.renderCount(), script: () => this.countScript() });
    app.register("return-choice", { enter: () => this.renderChoice(), script: () => this.choiceScript() });
    app.register("return-voucher", { enter: () => this.renderVoucher(), leave: () => clearTimeout(this.printTimer), script: () => this.voucherScript() });
    app.register("return-thanks", { enter: () => this.renderThanks(), script: () => [{ key: "return.thanks" }, { key: "return.donated", params: { total: this.view?.total_cents || 0 } }, { key: "done.finish" }] });
    app.register("voucher", { enter: () => this.keypad.refresh(), script: () => [{ key: "voucher.title" }, { key: "voucher.hint" }, { key: "voucher.label" }, ...this.keypad.script(), { key: "voucher.check" }] });
    app.register("voucher-ok", { enter: () => this.renderCredit(), script: () => [{ key: "voucher.ok", params: { total: this.app.credit?.amount_cents || 0 } }, { key: "voucher.how" }, { key: "voucher.shop" }] });
  }

  action(name, target) {
    const actions = {
      return: () => this.begin(),
      "return-finish": () => this.finish(),
      "return-choose": () => this.choose(target.dataset.choice),
      "voucher-spend": () => this.spendVoucher(),
      voucher: () => this.app.show("voucher"),
    };
    if (!actions[name]) return false;
    actions[name]();
    return true;
  }

  clear() {
    this.source?.close();
    this.source = null;
    clearTimeout(this.printTimer);
    this.returnId = null;
    this.view = null;
    this.deposit = null;
    this.busy = false;
    this.keypad?.clear();
  }

  // ---- the return ----------------------------------------------------------------------------
  async begin() {
    if (this.busy) return;
    this.clear();
    this.busy = true;
    try {
      this.deposit = await api.depositStatus();
      if (!this.deposit.ready) {
        this.machineProblem(this.deposit.machine_state);
        return;
      }
      const view = await api.startReturn();
      this.returnId = view.return_id;
      this.view = view;
      this.app.show("return");
      this.follow();
    } catch (error) {
      this.requestProblem(error, false);
    } finally {
      this.busy = false;
    }
  }

  follow() {
    this.source = new EventSource(`/api/returns/${encodeURIComponent(this.returnId)}/events`);
    this.source.addEventListener("message", (event) => this.apply(JSON.parse(event.data)));
  }

  apply(view) {
    if (view.return_id !== this.returnId) return;
    this.view = view;
    if (SETTLED.has(view.state)) this.source?.close();
    if (view.state === "open" || view.state === "counting") {
      if (this.app.screen === "return") this.renderCount();
    } else if (view.state === "choosing") {
      if (this.app.screen !== "return-choice") this.app.show("return-choice");
    } else this.settled();
  }

  /** The return ended (by a choice here, or by the daemon's own time-out): show how it was paid out. */
  settled() {
    const state = this.view.state;
    if (state === "voucher") this.app.show("return-voucher");
    else if (state === "credit") this.spendVoucher();
    else if (state === "donated") this.app.show("return-thanks");
    else if (this.app.screen.startsWith("return")) this.app.problem({ title: { key: "return.error.cancelled" }, money: { key: "return.error.nothing_taken" }, next: { key: "return.error.again" } });
  }

  async finish() {
    if (this.busy || !this.returnId) return;
    this.busy = true;
    try {
      this.apply(await api.finishReturn(this.returnId));
    } catch (error) {
      this.requestProblem(error, true);
    } finally {
      this.busy = false;
    }
  }

  async choose(choice) {
    if (this.busy || !this.returnId) return;
    this.busy = true;
    try {
      this.apply(await api.chooseReturn(this.returnId, choice));
    } catch (error) {
      this.requestProblem(error, true);
    } finally {
      this.busy = false;
    }
  }

  /** The voucher of a settled return (paper or credit). */
  voucher() {
    return this.view?.vouchers?.[0] || null;
  }

  /** Pay with the return's voucher (or credit) now: the buy screen takes it off the total. */
  spendVoucher() {
    const voucher = this.voucher();
    if (!voucher) return;
    this.app.credit = { code: voucher.code, amount_cents: voucher.amount_cents };
    this.app.show("voucher-ok");
  }

  // ---- screens -------------------------------------------------------------------------------
  renderCount() {
    const view = this.view || { count: 0, total_cents: 0, items: [], state: "open" };
    this.app.slot("return-prompt").textContent = t(view.state === "open" ? "return.starting" : "return.insert");
    this.app.slot("return-count").textContent = String(view.count);
    this.app.slot("return-total").textContent = money(view.total_cents);
    this.app.slot("return-items").innerHTML = "";
    for (const item of view.items) {
      const li = document.createElement("li");
      li.textContent = t("return.line", { count: item.count, price: item.deposit_cents });
      li.prepend(`${t(KIND_KEY[item.kind] || "return.kind.single_use")}: `);
      this.app.slot("return-items").append(li);
    }
    this.app.section("return").querySelector('[data-action="return-finish"]').disabled = view.state !== "counting";
  }

  countScript() {
    const view = this.view || { count: 0, total_cents: 0, state: "open" };
    return [
      { key: "return.title" },
      { key: view.state === "open" ? "return.starting" : "return.insert" },
      { key: "return.count" }, { key: "return.items", params: { count: view.count } },
      { key: "return.total" }, { key: "buy.price", params: { price: view.total_cents } },
      { key: "return.finish" },
    ];
  }

  renderChoice() {
    const total = this.view?.total_cents || 0;
    this.app.slot("choice-title").textContent = t("return.you_get", { total });
    const recipient = this.deposit?.donation_recipient;
    this.app.slot("choice-donation").hidden = !recipient;
    this.app.slot("donation-to").textContent = recipient || "";
  }

  choiceScript() {
    const items = [{ key: "return.you_get", params: { total: this.view?.total_cents || 0 } }, { key: "return.choose" },
      { key: "return.voucher" }, { key: "return.voucher_hint" }, { key: "return.credit" }, { key: "return.credit_hint" }];
    if (this.deposit?.donation_recipient) items.push({ key: "return.donate" });
    return items;
  }

  printKey(voucher) {
    if (!voucher || voucher.print_state === null) return "return.print.none";
    if (voucher.print_state === "printed") return "return.print.done";
    if (PRINT_DONE.has(voucher.print_state)) return "return.print.failed";
    return "return.print.running";
  }

  renderVoucher() {
    const voucher = this.voucher();
    if (!voucher) return;
    this.app.slot("voucher-title").textContent = t("return.voucher_title", { total: voucher.amount_cents });
    this.app.slot("voucher-print").querySelector("span").textContent = t(this.printKey(voucher));
    const qr = this.app.slot("voucher-qr");
    qr.hidden = !voucher.receipt_id;
    if (voucher.receipt_id) {
      qr.src = receiptQr(voucher.receipt_id);
      qr.alt = t("return.qr");
    }
    this.app.slot("voucher-code").textContent = t("return.code", { code: voucher.code.replace(/(\d{1})(\d{6})(\d{6})/, "$1 $2 $3") });
    if (voucher.print_state && !PRINT_DONE.has(voucher.print_state)) this.watchPrint();
  }

  /** Follow the print job until the printer says printed (or gave up: then the QR code is the voucher). */
  watchPrint() {
    clearTimeout(this.printTimer);
    this.printTimer = setTimeout(async () => {
      try {
        this.view = await api.getReturn(this.returnId);
      } catch {
        // keep what we had; try again
      }
      if (this.app.screen === "return-voucher") this.renderVoucher();
    }, PRINT_POLL_MS);
  }

  voucherScript() {
    const voucher = this.voucher();
    if (!voucher) return [];
    return [
      { key: "return.voucher_title", params: { total: voucher.amount_cents } },
      { key: this.printKey(voucher) },
      { key: "return.qr" },
      { key: "return.code", params: { code: voucher.code } },
      { key: "return.spend_now" }, { key: "done.finish" },
    ];
  }

  renderThanks() {
    this.app.slot("thanks-amount").textContent = t("return.donated", { total: this.view?.total_cents || 0 });
  }

  renderCredit() {
    this.app.slot("credit-title").textContent = t("voucher.ok", { total: this.app.credit?.amount_cents || 0 });
  }

  // ---- redeeming a voucher -------------------------------------------------------------------
  async checkVoucher(code) {
    const message = this.app.slot("voucher-message");
    const say = (key, params) => {
      message.textContent = t(key, params);
      if (this.app.speech.on) this.app.speech.say([{ key, params }]);
    };
    if (code.length !== 13) return say("voucher.error.length");
    try {
      const voucher = await api.checkVoucher(code);
      if (!voucher.redeemable) return say(VOUCHER_PROBLEM[voucher.state] || "voucher.error.void");
      this.app.credit = { code: voucher.code, amount_cents: voucher.amount_cents };
      this.app.show("voucher-ok");
    } catch (error) {
      if (error.status === 0 || error.status >= 500) say("voucher.error.station");
      else say(VOUCHER_PROBLEM[error.error] || "voucher.error.unknown");
    }
  }

  // ---- what went wrong, and what to do ---------------------------------------------------------
  machineProblem(state) {
    const name = MACHINE_PROBLEM[state] || "silent";
    this.app.problem({
      title: { key: `return.error.${name}.title` }, money: { key: "return.error.nothing_taken" }, next: { key: `return.error.${name}.next` },
    });
  }

  /** A request failed. `counted`: containers may already be in, so say their deposit is not lost. */
  requestProblem(error, counted) {
    const busy = error.error === "busy" || error.error === "not_available";
    this.app.problem({
      title: { key: busy ? "return.error.busy.title" : counted ? "return.error.stuck.title" : "return.error.silent.title" },
      money: { key: counted ? "return.error.kept" : "return.error.nothing_taken" },
      next: { key: busy ? "return.error.busy.next" : counted ? "return.error.stuck.next" : "return.error.silent.next" },
      retry: counted && this.returnId ? { label: "return.error.retry", run: () => this.resume() } : undefined,
    });
  }

  /** After a failed request: ask the daemon where the return is now and show that. */
  async resume() {
    try {
      const view = await api.getReturn(this.returnId);
      this.view = view;
      if (view.state === "open" || view.state === "counting") this.app.show("return");
      this.apply(view);
    } catch (error) {
      this.requestProblem(error, true);
    }
  }

  /** Show a screen of this flow with sample data, without a return (screenshots, checks). */
  preview(screen, data = {}) {
    this.clear();
    Object.assign(this, data);
    if (data.credit) this.app.credit = data.credit;
    this.app.show(screen);
  }
}
