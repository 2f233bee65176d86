// Texts come from the message catalogues (station/ui/locale/*.po), never from code.
// Placeholders are filled by kind: money in cents -> "3,49 €", dates "24.12.2026".

let boot = null;
let current = "de";

const LOCALES = { de: "de-DE", en: "en-IE" };

export function initI18n(data) {
  boot = data;
  current = data.default_language;
}

export function language() {
  return current;
}

export function setLanguage(lang) {
  current = lang;
  document.documentElement.lang = lang;
  applyTexts(document);
}

export function money(cents) {
  return new Intl.NumberFormat(LOCALES[current], { style: "currency", currency: "EUR" }).format(cents / 100);
}

export function date(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(LOCALES[current], { day: "2-digit", month: "2-digit", year: "numeric" })
    .format(new Date(y, m - 1, d));
}

function formatParam(name, value) {
  const kind = boot.kinds[name];
  if (kind === "money") return money(value);
  if (kind === "date") return date(value);
  return String(value);
}

/** Whether the ui catalogue has a text for this key (for keys made from codes the daemon sends). */
export function hasText(key) {
  return key in boot.catalogues[boot.default_language].ui;
}

/** One text of the ui catalogue with its placeholders filled. */
export function t(key, params = {}) {
  const template = boot.catalogues[current].ui[key] ?? boot.catalogues[boot.default_language].ui[key];
  if (template === undefined) {
    console.error("no text for", key);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? formatParam(name, params[name]) : whole));
}

/** What the terminal said (German from the API), in the screen's language; unknown parts stay German. */
export function terminalText(message) {
  const catalogue = boot.catalogues[current].terminal;
  if (message in catalogue) return catalogue[message];
  return message.split(" – ").map((part) => catalogue[part] ?? part).join(" – ");
}

/** Re-render every element whose text is a plain catalogue key (data-t) or label (data-t-label). */
export function applyTexts(root) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  document.title = `${t("app.title")} – ${boot.station.name}`;
}
