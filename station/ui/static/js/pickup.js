// Collecting an order or parcel: the pick-up code on the keypad (a 2D scanner that types like a
// keyboard fills the same field), or a customer card held to the reader; then which door opened,
// "please close the door", and "door closed". Wrong codes and the throttle say what to do next.
// The daemon decides everything (POST /api/pickup/collect or /card); this only shows it.

import { api } from "./api.js";
import { Keypad } from "./keypad.js";
import { t } from "./i18n.js";

const CODE_MIN = 10;
const CODE_MAX = 16;
const CARD_POLL_MS = 1000;
const CLOSE_STEP_AFTER_MS = 3000;
// The daemon's refusal -> what the screen says (and whether the help line belongs to it).
const PROBLEM = {
  wrong_code: "pickup.error.wrong",
  throttled: "pickup.error.throttled",
  locked: "pickup.error.locked",
  order_state: "pickup.error.collected",
  expired: "pickup.error.expired",
  blocked: "pickup.error.blocked",
  wrong_station: "pickup.error.wrong_station",
  revoked: "pickup.error.revoked",
  busy: "pickup.error.busy",
  unknown_order: "pickup.error.wrong",
  unavailable: "pickup.error.unavailable",
};
const CALL = new Set(["locked", "expired", "blocked", "revoked", "unavailable"]);

export class Pickup {
  constructor(app) {
    this.app = app;
    this.timers = [];
    this.scan = "";
    this.keypad = new Keypad(app.slot("pickup-keypad"), {
      label: "pickup.label",
      okKey: "pickup.open",
      maxLength: CODE_MAX,
      onSubmit: (value) => this.submitCode(value),
      onChange: () => this.say(null),
      speak: (items) => app.speech.on && app.speech.say(items),
    });
    this.clear();
    app.register("pickup", { enter: () => this.enter(), leave: () => this.leave(), script: () => this.script() });
    app.register("pickup-door", { enter: () => this.renderDoor(), leave: () => this.clearTimers(), script: () => this.doorScript() });
    app.register("pickup-done", {
      enter: () => this.renderDone(),
      leave: () => this.clearTimers(),
      script: () => [{ key: "done.closed" }, { key: "pickup.thanks" }, { key: "pickup.another" }, { key: "done.finish" }],
    });
    // A 2D scanner is a keyboard: what it types on this screen is a code, Enter sends it.
    document.addEventListener("keydown", (event) => this.onKey(event));
  }

  action(name) {
    if (name !== "pickup") return false;
    this.clear();
    this.app.show("pickup");
    return true;
  }

  clear() {
    this.clearTimers();
    this.keypad.clear();
    this.messageItem = null;
    this.step = null; // the door step the daemon answered: {compartment, outcome, kind}
    this.busy = false;
    this.closed = false;
    this.scan = "";
  }

  clearTimers() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  // ---- the code screen -----------------------------------------------------------------------
  enter() {
    this.keypad.refresh();
    this.renderMessage();
    clearInterval(this.cardTimer);
    this.cardTimer = setInterval(() => this.pollCard(), CARD_POLL_MS);
  }

  leave() {
    clearInterval(this.cardTimer);
    this.cardTimer = null;
  }

  script() {
    const items = [{ key: "pickup.title" }, { key: "pickup.hint" }, { key: "pickup.card" }, { key: "pickup.qr" }];
    if (this.messageItem) items.push(this.messageItem);
    return [...items, { key: "pickup.label" }, ...this.keypad.script(), { key: "pickup.open" }];
  }

  /** Show (and, with speech on, say) a message under the heading; null clears it. */
  say(item) {
    this.messageItem = item;
    this.renderMessage();
    if (item && this.app.speech.on) this.app.speech.say([item]);
  }

  renderMessage() {
    const item = this.messageItem;
    const parts = item ? [t(item.key, item.params)] : [];
    if (item?.call) {
      const help = this.app.helpLine();
      parts.push(t(help.key, help.params));
    }
    this.app.slot("pickup-message").textContent = parts.join(" ");
    this.app.slot("pickup-message").classList.toggle("message-info", Boolean(item?.info));
  }

  onKey(event) {
    if (this.app.screen !== "pickup" || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "Enter") {
      const text = this.scan.trim();
      this.scan = "";
      if (text) this.collect(() => api.collect(text));
    } else if (event.key.length === 1 && this.scan.length < 1024) {
      this.scan += event.key;
    }
  }

  submitCode(value) {
    if (value.length < CODE_MIN) return this.say({ key: "pickup.error.length" });
    return this.collect(() => api.collect(value));
  }

  /** A card on the reader: the daemon read it; the page only asks whether a tap waits. */
  async pollCard() {
    if (this.app.screen !== "pickup" || this.busy || this.polling) return;
    this.polling = true;
    try {
      const tap = await api.badgeTap();
      if (tap.tap_waiting && this.app.screen === "pickup" && !this.busy) await this.collect(() => api.collectCard(), true);
    } catch {
      // the reader or the station is not answering: the keypad still works
    } finally {
      this.polling = false;
    }
  }

  async collect(attempt, byCard = false) {
    if (this.busy) return;
    this.busy = true;
    this.say({ key: "pickup.opening", info: true });
    try {
      const step = await attempt();
      this.keypad.clear();
      this.opened(step);
    } catch (error) {
      this.keypad.clear();
      this.refused(error, byCard);
    } finally {
      this.busy = false;
    }
  }

  refused(error, byCard) {
    if (error.status === 0 || error.status >= 500 && error.error !== "unavailable") {
      return this.say({ key: "pickup.error.station" });
    }
    let key = PROBLEM[error.error] || "pickup.error.wrong";
    if (byCard && error.error === "wrong_code") key = "pickup.error.card";
    if (byCard && error.error === "no_badge") return this.say(null); // the tap was used meanwhile
    const minutes = Math.max(1, Math.ceil((error.retryAfter || 60) / 60));
    this.say({ key, params: { minutes }, call: CALL.has(error.error) });
  }

  opened(step) {
    this.step = step;
    this.closed = false;
    this.say(null);
    if (step.outcome === "opened") {
      this.app.show("pickup-door");
      this.watchDoor();
      return;
    }
    const fault = step.outcome === "door_fault";
    this.app.problem({
      title: { key: fault ? "pickup.error.door_fault.title" : "pickup.error.not_opened.title", params: { compartment: step.compartment } },
      money: { key: fault ? "pickup.error.door_fault.kept" : "pickup.error.not_opened.kept" },
      next: { key: fault ? "pickup.error.door_fault.next" : "pickup.error.not_opened.next" },
      retry: fault ? null : { label: "pickup.error.again", run: () => this.action("pickup") },
    });
  }

  // ---- the door ------------------------------------------------------------------------------
  onDoor(event) {
    if (!this.step || event.compartment !== this.step.compartment) return;
    if (event.state === "closed") this.doorClosed();
  }

  /** The door may shut before the stream says so (a quick hand): ask the status once in a while. */
  async watchDoor() {
    while (this.app.screen === "pickup-door" && !this.closed) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (this.app.screen !== "pickup-door" || this.closed) return;
      try {
        const status = await api.status();
        if (!(status.open_doors || []).includes(this.step.compartment)) this.doorClosed();
      } catch {
        // keep waiting for the door event
      }
    }
  }

  doorClosed() {
    if (this.closed || this.app.screen !== "pickup-door") return;
    this.closed = true;
    this.app.show("pickup-done");
  }

  renderDoor() {
    if (!this.step) return;
    this.app.slot("pickup-door-title").textContent = t("door.open", { compartment: this.step.compartment });
    const take = this.app.slot("pickup-step-take");
    const close = this.app.slot("pickup-step-close");
    take.classList.add("now");
    close.classList.remove("now");
    this.clearTimers();
    this.timers.push(setTimeout(() => {
      take.classList.remove("now");
      close.classList.add("now");
    }, CLOSE_STEP_AFTER_MS));
  }

  doorScript() {
    return [{ key: "door.open", params: { compartment: this.step?.compartment ?? 0 } }, { key: "pickup.take" }, { key: "door.close" }];
  }

  renderDone() {
    this.clearTimers();
    this.timers.push(setTimeout(() => this.app.resetSession("start"), this.app.boot.timing.done_s * 1000));
  }

  /** Show a screen of this flow with given data, without an order (screenshots, checks). */
  preview(screen, data = {}) {
    this.clear();
    if (data.message) this.messageItem = data.message;
    this.step = data.step || null;
    this.app.show(screen);
  }
}
