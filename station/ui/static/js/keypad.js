// On-screen keypad for numbers, pick-up codes and PINs: no physical keyboard is needed.
// In secret mode (PINs) the display shows dots and speech says "Ziffer eingegeben", never a digit.

import { t } from "./i18n.js";

let counter = 0;

export class Keypad {
  /**
   * @param {HTMLElement} host where the keypad is drawn
   * @param {{label: string, maxLength: number, secret?: boolean, okKey?: string,
   *          onSubmit?: (value: string) => void, onChange?: (value: string) => void,
   *          speak?: (items: object[]) => void}} options
   */
  constructor(host, options) {
    this.host = host;
    this.options = { secret: false, okKey: "keypad.ok", ...options };
    this.value = "";
    this.id = `keypad-${++counter}`;
    this.render();
  }

  render() {
    const { label, okKey } = this.options;
    this.host.innerHTML = "";
    const pad = document.createElement("div");
    pad.className = "keypad";
    pad.innerHTML = `
      <div class="keypad-output">
        <span class="keypad-label" id="${this.id}-label"></span>
        <output class="keypad-value" id="${this.id}-value" aria-labelledby="${this.id}-label" aria-live="polite"></output>
      </div>
      <div class="keypad-keys" role="group" aria-labelledby="${this.id}-label">
        ${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => `<button type="button" data-digit="${d}">${d}</button>`).join("")}
        <button type="button" class="small" data-key="backspace"></button>
        <button type="button" data-digit="0">0</button>
        <button type="button" class="primary small" data-key="ok"></button>
      </div>`;
    pad.querySelector(".keypad-label").dataset.t = label;
    pad.querySelector('[data-key="backspace"]').dataset.t = "keypad.backspace";
    pad.querySelector('[data-key="ok"]').dataset.t = okKey;
    pad.addEventListener("click", (event) => this.onClick(event));
    this.host.append(pad);
    this.pad = pad;
    this.refresh();
  }

  onClick(event) {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.digit !== undefined) this.press(button.dataset.digit);
    else if (button.dataset.key === "backspace") this.backspace();
    else if (button.dataset.key === "ok" && this.value && this.options.onSubmit) this.options.onSubmit(this.value);
  }

  press(digit) {
    if (this.value.length >= this.options.maxLength) return;
    this.value += digit;
    this.changed();
    if (!this.options.speak) return;
    if (this.options.secret) this.options.speak([{ key: "keypad.digit_entered" }]);
    else this.options.speak([{ key: "keypad.digits", params: { count: this.value.length, length: this.options.maxLength } }]);
  }

  backspace() {
    this.value = this.value.slice(0, -1);
    this.changed();
  }

  clear() {
    this.value = "";
    this.changed();
  }

  changed() {
    this.refresh();
    if (this.options.onChange) this.options.onChange(this.value);
  }

  /** Draw the texts (also after a language switch) and the value. */
  refresh() {
    for (const el of this.pad.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
    const shown = this.options.secret ? "•".repeat(this.value.length) : this.value;
    const output = this.pad.querySelector("output");
    output.textContent = shown || "–";
    output.setAttribute("aria-label", this.value ? t("keypad.digits", { count: this.value.length, length: this.options.maxLength }) : t("keypad.empty"));
  }

  /** What to say about the keypad when its screen is read aloud: never the digits of a secret. */
  script() {
    if (!this.value) return [{ key: "keypad.empty" }];
    return [{ key: "keypad.digits", params: { count: this.value.length, length: this.options.maxLength } }];
  }
}
