// Speech output from clips made offline (scripts/make-speech) and served by the station.
// A script is a list of items: {key, params} (a catalogue text) or {terminal: "German prompt"}.
// Speaking starts only on request, a new script or stop() interrupts the current one, and a
// secret keypad never passes its digits here (it says "Ziffer eingegeben" instead).

import { language } from "./i18n.js";

export class Speech {
  constructor(boot) {
    this.boot = boot;
    this.on = false; // the shopper asked for speech (the "Vorlesen" button)
    this.queue = [];
    this.audio = new Audio();
    this.audio.addEventListener("ended", () => this.playNext());
    this.audio.addEventListener("error", () => this.playNext());
    this.lastClips = []; // what the last script was made of (tests read it)
    this.lastItems = [];
  }

  url(clip) {
    return `${this.boot.speech_base}/${language()}/${clip}.wav`;
  }

  numberClips(n) {
    const max = this.boot.speech[language()].max_number;
    if (Number.isInteger(n) && n >= 0 && n <= max) return [`num.${n}`];
    return String(n).split("").filter((c) => /\d/.test(c)).map((d) => `num.${d}`);
  }

  spellClips(text) {
    const clips = [];
    for (const ch of String(text).toLowerCase()) {
      if (/\d/.test(ch)) clips.push(`num.${ch}`);
      else if (/[a-z]/.test(ch)) clips.push(`char.${ch}`);
      else if (ch === "+") clips.push("speech.plus");
      else if (ch === "-") clips.push("speech.dash");
    }
    return clips;
  }

  paramClips(kind, value) {
    if (kind === "number") return this.numberClips(Number(value));
    if (kind === "money") {
      const euros = Math.floor(value / 100);
      const cents = value % 100;
      return [...this.numberClips(euros), "speech.euro", ...(cents ? this.numberClips(cents) : [])];
    }
    if (kind === "spell") return this.spellClips(value);
    if (kind === "date") {
      const [, month, day] = String(value).split("-").map(Number);
      return [`day.${day}`, `month.${month}`];
    }
    return []; // not spoken (e.g. a product name)
  }

  /** The clip names a script is spoken as. */
  clipsFor(items) {
    const manifest = this.boot.speech[language()];
    const clips = [];
    for (const item of items) {
      if (item.terminal !== undefined) {
        const whole = manifest.terminal[item.terminal];
        const parts = whole ? [item.terminal] : item.terminal.split(" – ");
        for (const part of parts) if (manifest.terminal[part]) clips.push(manifest.terminal[part]);
        continue;
      }
      const parts = manifest.keys[item.key];
      if (!parts) {
        console.error("not speakable:", item.key);
        continue;
      }
      for (const part of parts) {
        if (part.clip) clips.push(part.clip);
        else clips.push(...this.paramClips(part.kind, (item.params || {})[part.param]));
      }
    }
    return clips;
  }

  /** Speak a script now, interrupting whatever is being said. */
  say(items) {
    this.stop();
    this.lastItems = items;
    this.lastClips = this.clipsFor(items);
    this.queue = this.lastClips.map((clip) => this.url(clip));
    this.playNext();
  }

  playNext() {
    const next = this.queue.shift();
    if (next === undefined) return;
    this.audio.src = next;
    this.audio.play().catch(() => this.playNext());
  }

  stop() {
    this.queue = [];
    this.audio.pause();
    this.audio.removeAttribute("src");
  }
}
