// Volunteers: log-in by number and PIN (on-screen keypad) or badge, the task list with what to do
// for each, cold-chain corrective action, log-out; the session ends by itself after the daemon's
// idle time ([staff] session_idle_s). Restocking is in restock.js, the end-of-day report in report.js.
// The session is the HttpOnly cookie the log-in sets: the page never sees the token.

import { api } from "./api.js";
import { hasText, t } from "./i18n.js";
import { Keypad } from "./keypad.js";
import { EndOfDay } from "./report.js";
import { Restock } from "./restock.js";

// Screens of a logged-in volunteer: they run on the session's idle timer, not the shoppers'.
export const STAFF_SCREENS = new Set([
  "staff-home", "staff-open", "staff-restock", "staff-remove", "staff-load", "staff-amount", "staff-cold", "staff-report",
]);
const BADGE_POLL_MS = 1000;
const SEVERITY = { critical: ["warn", "staff.severity.critical"], warning: ["clock", "staff.severity.warning"], info: ["check", "staff.severity.info"] };
// Log-in refusals (the API's error codes) -> what the keypad screen says.
const LOGIN_PROBLEM = {
  wrong_credentials: "staff.login.wrong",
  throttled: "staff.login.throttled",
  locked: "staff.login.locked",
  unknown_badge: "staff.login.unknown_badge",
  badge_required: "staff.login.badge_required",
  session_expired: "staff.login.disabled",
};
const COLD_REASONS = { measured: "staff.cold.reason_measured", short: "staff.cold.reason_short", probe: "staff.cold.reason_probe" };
const CELSIUS_STEP = 0.5;

function icon(name) {
  return `<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-${name}"/></svg>`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Staff {
  constructor(app) {
    this.app = app;
    this.session = null;
    const speak = (items) => app.speech.on && app.speech.say(items);
    const quiet = () => {
      app.slot("staff-login-message").textContent = "";
    };
    this.number = new Keypad(app.slot("staff-number"), {
      label: "staff.login.number", okKey: "staff.login.next", maxLength: 6, onSubmit: (v) => this.askPin(Number(v)), onChange: quiet, speak,
    });
    this.pin = new Keypad(app.slot("staff-pin"), {
      label: "staff.login.pin", okKey: "staff.login.ok", maxLength: 12, secret: true, onSubmit: (v) => this.loginPin(v), onChange: quiet, speak,
    });
    this.restock = new Restock(app, this);
    this.report = new EndOfDay(app, this);
    this.clear();
    app.register("staff-login", { enter: () => this.enterLogin(), leave: () => clearInterval(this.badgeTimer), script: () => this.loginScript() });
    app.register("staff-home", { enter: () => this.renderHome(), script: () => this.homeScript() });
    app.register("staff-cold", { enter: () => this.renderCold(), script: () => this.coldScript() });
  }

  action(name, target) {
    const actions = {
      "staff-login": () => this.app.show("staff-login"),
      "staff-logout": () => this.logout(),
      "staff-tasks-next": () => this.nextTasks(),
      "staff-task-cold": () => this.openCold(Number(target.dataset.compartment)),
      "staff-task-open": () => this.restock.open(Number(target.dataset.compartment)),
      "staff-resume": () => this.restock.resume(Number(target.dataset.restock)),
      "celsius-down": () => this.stepCelsius(-CELSIUS_STEP),
      "celsius-up": () => this.stepCelsius(CELSIUS_STEP),
      "cold-reason": () => this.pickReason(target.dataset.reason),
      "cold-discard": () => this.corrective("discarded"),
      "cold-keep": () => this.corrective("kept"),
    };
    if (!actions[name]) return this.restock.action(name, target) || this.report.action(name);
    actions[name]();
    return true;
  }

  /** Forget everything of the last volunteer (and end their session at the daemon). */
  clear() {
    if (this.session) api.logout().catch(() => {}); // already gone at the daemon: nothing to do
    this.session = null;
    clearInterval(this.badgeTimer);
    this.accountId = null;
    this.badgePin = false;
    this.number.clear();
    this.pin.clear();
    this.tasks = [];
    this.unfinished = []; // restocking left open (a lost session, a reload): finish them first
    this.taskOffset = 0;
    this.note = null;
    this.cold = null;
    this.report.clear();
    this.restock.clear();
  }

  // ---- log-in ----------------------------------------------------------------------------------
  enterLogin() {
    const pinStep = this.accountId !== null || this.badgePin;
    this.app.slot("staff-number").hidden = pinStep;
    this.app.slot("staff-pin").hidden = !pinStep;
    this.number.refresh();
    this.pin.refresh();
    clearInterval(this.badgeTimer);
    this.badgeTimer = setInterval(() => this.pollBadge(), BADGE_POLL_MS);
  }

  loginScript() {
    const pad = this.accountId !== null || this.badgePin ? this.pin : this.number;
    const label = pad === this.pin ? "staff.login.pin" : "staff.login.number";
    return [{ key: "staff.login.title" }, { key: "staff.login.badge" }, { key: label }, ...pad.script()];
  }

  askPin(accountId) {
    this.accountId = accountId;
    this.enterLogin();
    if (this.app.speech.on) this.app.speakScreen();
  }

  loginMessage(key, params) {
    this.app.slot("staff-login-message").textContent = t(key, params);
    if (this.app.speech.on) this.app.speech.say([{ key, params }]);
  }

  /** A badge on the reader logs in (the daemon reads it; the page only asks whether a tap waits). */
  async pollBadge() {
    if (this.app.screen !== "staff-login" || this.polling) return;
    this.polling = true;
    try {
      const tap = await api.badgeTap();
      if (tap.tap_waiting && this.app.screen === "staff-login") await this.login(() => api.loginBadge());
    } catch {
      // the reader or the station is not answering: the keypad still works
    } finally {
      this.polling = false;
    }
  }

  async loginPin(pin) {
    if (this.badgePin) await this.login(() => api.loginBadge(pin));
    else await this.login(() => api.loginPin(this.accountId, pin));
  }

  async login(attempt) {
    try {
      this.loggedIn(await attempt());
    } catch (error) {
      this.pin.clear();
      if (error.error === "pin_required") {
        this.badgePin = true; // the badge stays read for the PIN
        this.enterLogin();
        return this.loginMessage("staff.login.pin_required");
      }
      if (error.status === 0 || error.status >= 500) return this.loginMessage("staff.login.station");
      if (error.error === "invalid" || error.status === 422) {
        this.accountId = null;
        this.enterLogin();
        return this.loginMessage("staff.login.wrong");
      }
      const key = LOGIN_PROBLEM[error.error] || "staff.login.wrong";
      this.loginMessage(key, { minutes: Math.max(1, Math.ceil((error.retryAfter || 60) / 60)) });
    }
  }

  loggedIn(session) {
    clearInterval(this.badgeTimer);
    this.number.clear();
    this.pin.clear();
    this.accountId = null;
    this.badgePin = false;
    this.session = { id: session.person.id, name: session.person.name, idle_s: session.idle_timeout_s };
    this.home();
  }

  async logout() {
    this.app.resetSession("start"); // clear() ends the session at the daemon
  }

  /** No touch for the session's idle time: the volunteer is logged out, the next person gets the start screen. */
  timedOut() {
    this.app.resetSession("start");
  }

  /** A staff request failed: a lost session needs a new log-in, a lost station says so; others are the caller's. */
  failed(error, retry) {
    if (error.status === 401) {
      this.session = null;
      this.app.problem({
        title: { key: "staff.error.expired.title" }, next: { key: "staff.error.expired.next" },
        retry: { label: "staff.login.again", run: () => this.app.show("staff-login") },
      });
      return true;
    }
    if (error.status === 0 || error.status >= 500) {
      this.app.problem({ title: { key: "staff.error.station.title" }, next: { key: "staff.error.station.next" }, retry: retry && { label: "staff.error.retry", run: retry } });
      return true;
    }
    return false;
  }

  // ---- tasks -----------------------------------------------------------------------------------
  /** The volunteer's home: what needs doing now; `note` says what was just done. */
  async home(note = null) {
    this.note = note;
    try {
      const [tasks, restocks] = await Promise.all([api.tasks(), api.openRestocks()]);
      this.tasks = tasks;
      this.unfinished = restocks.filter((r) => r.state === "opened" && r.account_id === this.session?.id);
    } catch (error) {
      if (this.failed(error, () => this.home(note))) return;
      this.tasks = [];
    }
    this.taskOffset = 0;
    if (this.app.screen === "staff-home") this.renderHome();
    else this.app.show("staff-home");
  }

  renderHome() {
    this.app.slot("staff-who").textContent = this.session ? t("staff.who", { name: this.session.name }) : "";
    const note = this.app.slot("staff-note");
    note.hidden = !this.note;
    if (this.note) note.querySelector("span").textContent = t(this.note.key, this.note.params);
    const list = this.app.slot("staff-tasks");
    list.innerHTML = "";
    if (this.taskOffset === 0) for (const restock of this.unfinished) list.append(this.unfinishedItem(restock));
    const rest = this.tasks.slice(this.taskOffset);
    for (const task of rest) list.append(this.taskItem(task));
    if (!this.tasks.length) list.append(el("li", "task task-none", t("staff.tasks.none")));
    // Show only what fits (nothing scrolls); the next page shows the rest.
    const bottom = list.getBoundingClientRect().bottom;
    let shown = rest.length;
    for (const item of [...list.children].reverse()) {
      if (item.getBoundingClientRect().bottom <= bottom + 1 || list.children.length === 1 || !item.dataset.code) break;
      item.remove();
      shown -= 1;
    }
    this.tasksShown = shown;
    const more = this.tasks.length - this.taskOffset - shown;
    const hint = this.app.slot("staff-tasks-more");
    hint.hidden = more <= 0 && this.taskOffset === 0;
    hint.textContent = t("staff.tasks.more", { count: Math.max(0, more), tasks: this.tasks.length });
    this.app.section("staff-home").querySelector('[data-action="staff-tasks-next"]').hidden = hint.hidden;
  }

  /** A restocking this volunteer left open: its door may still be open, so it comes first. */
  unfinishedItem(restock) {
    const li = el("li", "task task-unfinished");
    const head = el("p", "task-head");
    head.innerHTML = icon("door");
    head.append(t("staff.resume.title", { compartment: restock.compartment }));
    const button = el("button", "secondary", t("staff.resume.act"));
    button.type = "button";
    button.dataset.action = "staff-resume";
    button.dataset.restock = String(restock.id);
    li.append(head, el("p", "task-todo", t("staff.resume.todo")), button);
    return li;
  }

  taskItem(task) {
    const li = el("li", "task");
    li.dataset.code = task.code;
    const [iconName, severityKey] = SEVERITY[task.severity] || SEVERITY.info;
    const head = el("p", "task-head");
    head.innerHTML = icon(iconName);
    head.append(`${t(severityKey)}: ${t(hasText(`task.${task.code}`) ? `task.${task.code}` : "task.other")} – ${task.where}`);
    li.append(head, el("p", "task-what", task.what), el("p", "task-todo", task.todo));
    const action = this.taskAction(task);
    if (action) {
      const button = el("button", "secondary", t(action.label));
      button.type = "button";
      button.dataset.action = action.name;
      button.dataset.compartment = String(task.compartment);
      li.append(button);
    }
    return li;
  }

  /** What the volunteer can do about a task from here (the rest is done at the fridge or by phone). */
  taskAction(task) {
    if (task.compartment === null || task.compartment === undefined) return null;
    if (task.code === "coldchain.corrective_action") return { name: "staff-task-cold", label: "staff.task.act_cold" };
    if (task.code.startsWith("goods.") || task.code === "compartment.needs_check") return { name: "staff-task-open", label: "staff.task.act_open" };
    return null;
  }

  nextTasks() {
    this.taskOffset += this.tasksShown || 1;
    if (this.taskOffset >= this.tasks.length) this.taskOffset = 0;
    this.renderHome();
  }

  homeScript() {
    const items = [{ key: "staff.tasks.title" }];
    if (this.note) items.push(this.note);
    for (const r of this.unfinished) items.push({ key: "staff.resume.title", params: { compartment: r.compartment } });
    const shown = this.tasks.slice(this.taskOffset, this.taskOffset + (this.tasksShown || 0));
    for (const task of shown) items.push({ key: hasText(`task.${task.code}`) ? `task.${task.code}` : "task.other" });
    if (!this.tasks.length) items.push({ key: "staff.tasks.none" });
    return [...items, { key: "staff.restock.open" }, { key: "staff.report.open" }, { key: "staff.logout" }];
  }

  // ---- cold chain: a corrective action for a blocked compartment --------------------------------
  openCold(compartment) {
    this.cold = { compartment, celsius: 4.0, reason: null };
    this.app.show("staff-cold");
  }

  renderCold() {
    if (!this.cold) return;
    this.app.slot("cold-title").textContent = t("staff.cold.title", { compartment: this.cold.compartment });
    const degrees = new Intl.NumberFormat(document.documentElement.lang, { minimumFractionDigits: 1 }).format(this.cold.celsius);
    this.app.slot("cold-celsius").textContent = t("staff.cold.celsius", { degrees });
    for (const button of this.app.section("staff-cold").querySelectorAll('[data-action="cold-reason"]')) {
      button.setAttribute("aria-pressed", String(button.dataset.reason === this.cold.reason));
    }
  }

  stepCelsius(step) {
    this.cold.celsius = Math.max(-30, Math.min(30, this.cold.celsius + step));
    this.renderCold();
  }

  pickReason(reason) {
    this.cold.reason = reason;
    this.app.slot("cold-message").textContent = "";
    this.renderCold();
  }

  async corrective(action) {
    const message = this.app.slot("cold-message");
    const body = { compartment: this.cold.compartment, action };
    if (action === "kept") {
      if (!this.cold.reason) {
        message.textContent = t("staff.cold.need_reason");
        return;
      }
      Object.assign(body, { reason: t(COLD_REASONS[this.cold.reason]), measured_c: this.cold.celsius });
    }
    try {
      await api.correctiveAction(body);
      const done = action === "kept" ? "staff.cold.done_kept" : "staff.cold.done_discarded";
      this.home({ key: done, params: { compartment: this.cold.compartment } });
    } catch (error) {
      if (this.failed(error)) return;
      message.textContent = t(error.status === 409 ? "staff.cold.not_blocked" : "staff.cold.refused");
    }
  }

  coldScript() {
    return [{ key: "staff.cold.title", params: { compartment: this.cold?.compartment || 0 } }, { key: "staff.cold.explain" },
      { key: "staff.cold.measured" }, { key: "staff.cold.discard" }, { key: "staff.cold.keep" }];
  }

  /** Show a screen with sample data, without a session at the daemon (screenshots, checks). */
  preview(screen, data = {}) {
    this.session = null;
    this.clear();
    this.session = { id: 1, name: "Vera", idle_s: 3600 };
    const { restock, report, ...own } = data;
    Object.assign(this, own);
    if (restock) Object.assign(this.restock, restock);
    if (report) Object.assign(this.report, { data: report });
    this.app.show(screen);
  }
}
