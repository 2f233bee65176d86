// The kiosk application: screens, the frame (banners, tools), modes, idle time-out, live status.
// Each screen is a <section data-screen> of the page; one is shown at a time. Screens register
// {script(), enter(), leave()} here; `script()` says what "Vorlesen" reads (catalogue keys only).

import { IdleTimer } from "./idle.js";
import { applyTexts, initI18n, language, setLanguage, t } from "./i18n.js";
import { PurchaseFlow } from "./purchase.js";
import { Returns } from "./returns.js";
import { Shop } from "./shop.js";
import { Staff, STAFF_SCREENS } from "./staff.js";
import { Speech } from "./speech.js";
import { played as tonesPlayed, warningTone } from "./tone.js";

// Where "Zurück" leads from each screen (none: no back button there).
const BACK = {
  buy: "start", number: "buy", item: "buy", age: "item", voucher: "start", "staff-login": "start",
  "staff-open": "staff-home", "staff-remove": "staff-restock", "staff-load": "staff-restock",
  "staff-amount": "staff-load", "staff-cold": "staff-home", "staff-report": "staff-home",
};
// Screens where the idle timer does not run: nothing half-done there, or a device is in charge
// (the terminal; the return machine, whose own time-outs settle a return nobody finishes).
const NO_IDLE = new Set(["start", "idle", "pay", "return"]);
const PRESSED_MS = 180; // the pressed look stays at least this long
const LOST_AFTER_MS = 3000; // no status for this long after the stream broke: "Verbindung unterbrochen"

export class App {
  constructor(boot) {
    this.boot = boot;
    initI18n(boot);
    this.speech = new Speech(boot);
    this.tones = tonesPlayed;
    this.screen = null;
    this.overlay = null;
    this.status = boot.status;
    this.connected = true;
    this.screens = {};
    this.windowTimer = null;
    this.idle = new IdleTimer({
      idleS: boot.timing.idle_s,
      warnS: boot.timing.warn_s,
      onWarn: (left) => this.warnTimeout(left),
      onTick: (left) => this.tickTimeout(left),
      onReset: () => this.resetSession("start"),
    });
    // A volunteer's session has its own, longer idle time (the daemon's [staff] session_idle_s).
    this.staffIdle = new IdleTimer({
      idleS: boot.timing.staff_idle_s,
      warnS: Math.min(boot.timing.warn_s, boot.timing.staff_idle_s / 2),
      onWarn: (left) => this.warnTimeout(left),
      onTick: (left) => this.tickTimeout(left),
      onReset: () => this.staff.timedOut(),
    });
    this.credit = null; // a voucher or return credit to pay with: {code, amount_cents}
    this.shop = new Shop(this);
    this.purchase = new PurchaseFlow(this);
    this.returns = new Returns(this);
    this.staff = new Staff(this);
    this.register("problem", { enter: () => this.renderProblem(), script: () => this.problemScript() });
    this.register("start", {
      script: () => ["start.title", "start.prompt", "start.buy", "start.buy_hint", "start.settings"].map((key) => ({ key })),
    });
    this.register("help", { enter: () => this.renderHelp(), script: () => this.helpScript() });
    this.register("timeout", {
      enter: () => {
        this.slot("timeout-explain").textContent = t("timeout.explain", { seconds: this.timeoutLeft });
      },
      script: () => [
        { key: "timeout.title" },
        { key: "timeout.explain", params: { seconds: this.timeoutLeft } },
        { key: "timeout.more" },
      ],
    });
  }

  renderHelp() {
    const { phone, who } = this.boot.help;
    this.slot("help-call").textContent = phone ? t("help.call", { phone }) : t("error.call_none");
    this.slot("help-who").textContent = who || t("help.who");
    this.slot("help-station").textContent = t("help.station", { station: this.boot.station.id });
  }

  helpScript() {
    const { phone, who } = this.boot.help;
    return [
      { key: "help.title" },
      phone ? { key: "help.call", params: { phone } } : { key: "error.call_none" },
      ...(who ? [] : [{ key: "help.who" }]), // a configured name is not in the catalogue: not spoken
      { key: "help.station", params: { station: this.boot.station.id } },
      { key: "help.money" },
    ];
  }

  // ---- helpers -------------------------------------------------------------------------------
  section(name) {
    return document.querySelector(`[data-screen="${name}"]`) || document.querySelector(`[data-overlay="${name}"]`);
  }

  slot(name, screen) {
    const root = screen ? this.section(screen) : document;
    return root.querySelector(`[data-slot="${name}"]`);
  }

  register(name, screen) {
    this.screens[name] = screen;
  }

  /** An error screen outside the purchase: what happened, what happened to the money or goods, what next.
   *  {title, money?, next?, retry?: {label, run}} with catalogue items ({key, params}). */
  problem(spec) {
    this.problemSpec = spec;
    this.show("problem");
  }

  renderProblem() {
    const spec = this.problemSpec || { title: { key: "error.generic.title" } };
    const say = (item) => t(item.key, item.params);
    this.slot("problem-title").textContent = say(spec.title);
    const money = this.slot("problem-money");
    money.hidden = !spec.money;
    money.querySelector("span").textContent = spec.money ? say(spec.money) : "";
    const next = this.slot("problem-next");
    next.hidden = !spec.next;
    next.textContent = spec.next ? say(spec.next) : "";
    const help = this.helpLine();
    this.section("problem").querySelector('[data-slot="call"]').textContent = t(help.key, help.params);
    const retry = this.slot("problem-retry");
    retry.hidden = !spec.retry;
    if (spec.retry) retry.querySelector("span").textContent = t(spec.retry.label);
  }

  problemScript() {
    const spec = this.problemSpec || { title: { key: "error.generic.title" } };
    return [spec.title, spec.money, spec.next, this.helpLine(), spec.retry && { key: spec.retry.label }, { key: "chrome.home" }].filter(Boolean);
  }

  helpLine() {
    const phone = this.boot.help.phone;
    return phone ? { key: "error.call", params: { phone } } : { key: "error.call_none" };
  }

  // ---- start-up ------------------------------------------------------------------------------
  start() {
    document.addEventListener("click", (event) => {
      const target = event.target.closest("[data-action]");
      if (target && !target.disabled) this.action(target.dataset.action, target, event);
    });
    document.addEventListener("pointerdown", (event) => this.touched(event), { capture: true });
    document.addEventListener("keydown", () => this.touched(null), { capture: true });
    applyTexts(document);
    this.renderFrame();
    this.connect();
    this.shop.refresh(); // so the grid and the shop window have the offers before anyone asks
    this.show("start");
  }

  /** Live status and door changes (server-sent events); the banner says when the station is gone. */
  connect() {
    const source = new EventSource("/api/events/ui");
    source.addEventListener("status", (event) => {
      clearTimeout(this.lostTimer);
      this.lostTimer = null;
      this.status = JSON.parse(event.data);
      this.connected = true;
      this.renderFrame();
      this.shop.onStatus(this.status);
      this.purchase.onStatus(this.status);
    });
    source.addEventListener("door", (event) => this.purchase.onDoor(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      // The stream also ends now and then by design and the browser reconnects at once:
      // say the station is gone only when it stays gone.
      if (this.lostTimer) return;
      this.lostTimer = setTimeout(() => {
        this.connected = false;
        this.renderFrame();
      }, LOST_AFTER_MS);
    });
    this.events = source;
  }

  renderFrame() {
    const banners = {
      simulated: this.status.simulated,
      offline: this.status.offline,
      card_down: !this.status.card_payment,
      no_station: !this.connected,
    };
    for (const [name, visible] of Object.entries(banners)) {
      document.querySelector(`[data-banner="${name}"]`).hidden = !visible;
    }
  }

  bannerScript() {
    const items = [];
    if (this.status.simulated) items.push({ key: "chrome.simulated" });
    if (this.status.offline) items.push({ key: "chrome.offline" });
    if (!this.status.card_payment) items.push({ key: "chrome.card_down" });
    if (!this.connected) items.push({ key: "chrome.no_station" });
    return items;
  }

  // ---- screens -------------------------------------------------------------------------------
  show(name) {
    const previous = this.screen;
    if (previous && previous !== name) this.screens[previous]?.leave?.();
    for (const el of document.querySelectorAll("[data-screen]")) el.hidden = el.dataset.screen !== name;
    this.screen = name;
    this.screens[name]?.enter?.();
    document.querySelector('[data-action="back"]').hidden = !(name in BACK);
    document.querySelector('[data-action="staff-logout"]').hidden = !this.staff.session;
    this.speech.stop();
    if (this.speech.on) this.speakScreen();
    clearTimeout(this.windowTimer);
    if (STAFF_SCREENS.has(name) && this.staff.session) {
      this.idle.stop();
      this.staffIdle.poke();
    } else {
      this.staffIdle.stop();
      if (NO_IDLE.has(name)) this.idle.stop();
      else this.idle.poke();
    }
    if (name === "start") this.restartWindowTimer();
  }

  /** What the current view says when read aloud (an open overlay first). */
  script() {
    if (this.overlay) return this.screens[this.overlay].script();
    const own = this.screens[this.screen]?.script?.() || [];
    return this.screen === "start" || this.screen === "idle" ? [...this.bannerScript(), ...own] : own;
  }

  speakScreen() {
    this.speech.say(this.script());
  }

  action(name, target, event) {
    const actions = {
      back: () => this.show(BACK[this.screen] || "start"),
      "problem-retry": () => this.problemSpec?.retry?.run(),
      home: () => this.resetSession("start"),
      finish: () => this.resetSession("start"),
      help: () => this.openOverlay("help"),
      "close-help": () => this.closeOverlay(),
      "more-time": () => this.moreTime(),
      speak: () => this.toggleSpeech(),
      "large-text": () => this.toggleMode("text", "large", target),
      contrast: () => this.toggleMode("theme", "contrast", target),
      language: () => this.toggleLanguage(),
    };
    const handler = actions[name] || (() => this.shop.action(name, target, event) || this.purchase.action(name, target)
      || this.returns.action(name, target) || this.staff.action(name, target));
    handler();
  }

  touched(event) {
    if (event && event.target instanceof Element) {
      const pressable = event.target.closest("button, .tile");
      if (pressable) {
        // Visible at once, and long enough to be seen even after a quick tap. A second tap on the
        // same button cancels the first one's release, which would otherwise end the new pressed look.
        clearTimeout(pressable.releaseTimer);
        pressable.classList.add("is-pressed");
        const pressedAt = performance.now();
        const releaseAfter = (ms) => {
          clearTimeout(pressable.releaseTimer);
          pressable.releaseTimer = setTimeout(() => pressable.classList.remove("is-pressed"), ms);
        };
        const release = () => releaseAfter(Math.max(0, PRESSED_MS - (performance.now() - pressedAt)));
        pressable.addEventListener("pointerup", release, { once: true });
        pressable.addEventListener("pointercancel", release, { once: true });
        releaseAfter(1500); // should the release never come
      }
    }
    if (this.screen === "idle") this.show("start"); // the shop window wakes on touch
    else if (this.screen === "start") this.restartWindowTimer();
    else if (this.staffIdle.active) this.staffIdle.poke();
    else if (this.idle.active) this.idle.poke();
  }

  /** On the start screen, no touch for a while brings back the shop window. */
  restartWindowTimer() {
    clearTimeout(this.windowTimer);
    this.windowTimer = setTimeout(() => this.resetSession("idle"), this.boot.timing.window_s * 1000);
  }

  // ---- overlays: help, time-out warning ------------------------------------------------------
  openOverlay(name) {
    this.overlay = name;
    const el = this.section(name);
    this.screens[name].enter?.();
    el.hidden = false;
    el.querySelector("button")?.focus({ preventScroll: true });
    this.speech.stop();
    if (this.speech.on || name === "timeout") this.speakScreen();
  }

  closeOverlay() {
    if (!this.overlay) return;
    this.section(this.overlay).hidden = true;
    this.overlay = null;
    this.speech.stop();
  }

  warnTimeout(left) {
    this.timeoutLeft = left;
    if (this.overlay) this.closeOverlay();
    this.openOverlay("timeout"); // on screen, and spoken even if speech is off: more than one channel
    warningTone();
  }

  tickTimeout(left) {
    this.timeoutLeft = left;
    this.screens.timeout.enter();
  }

  moreTime() {
    this.closeOverlay();
    if (this.staffIdle.warning) this.staffIdle.extend();
    else this.idle.extend();
  }

  // ---- modes: speech, large text, contrast, language; all reset for the next person ----------
  toggleSpeech() {
    this.speech.on = !this.speech.on;
    this.renderSpeechButton();
    if (this.speech.on) this.speakScreen();
    else this.speech.stop();
  }

  renderSpeechButton() {
    const button = document.querySelector('[data-action="speak"]');
    button.setAttribute("aria-pressed", String(this.speech.on));
    this.slot("speak-label").textContent = t(this.speech.on ? "chrome.speak_stop" : "chrome.speak");
  }

  toggleMode(attribute, value, button) {
    const root = document.documentElement;
    const on = root.dataset[attribute] !== value;
    root.dataset[attribute] = on ? value : "normal";
    button.setAttribute("aria-pressed", String(on));
    this.shop.layoutChanged();
  }

  toggleLanguage() {
    const next = language() === "de" ? "en" : "de";
    this.setLanguage(next);
  }

  setLanguage(lang) {
    setLanguage(lang);
    // The button names the other language, in that language.
    document.querySelector('[data-action="language"]').lang = lang === "de" ? "en" : "de";
    this.renderSpeechButton();
    this.screens[this.screen]?.enter?.();
    if (this.overlay) this.screens[this.overlay].enter?.();
    if (this.speech.on) this.speakScreen();
  }

  /** The next person gets a clean screen: nothing entered, default language and display, no speech. */
  resetSession(screen) {
    this.closeOverlay();
    this.idle.stop();
    this.staffIdle.stop();
    this.speech.stop();
    this.speech.on = false;
    const root = document.documentElement;
    root.dataset.text = "normal";
    root.dataset.theme = "normal";
    for (const button of document.querySelectorAll('[data-action="large-text"], [data-action="contrast"]')) {
      button.setAttribute("aria-pressed", "false");
    }
    if (language() !== this.boot.default_language) this.setLanguage(this.boot.default_language);
    this.renderSpeechButton();
    this.shop.clear();
    this.purchase.clear();
    this.returns.clear();
    this.staff.clear();
    this.credit = null;
    this.problemSpec = null;
    this.show(screen);
  }
}
