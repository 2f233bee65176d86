// Idle time-out: no touch for (idle - warn) seconds -> a warning by screen, tone and speech with
// "Mehr Zeit"; no touch for warn seconds more -> reset (back to start, everything entered cleared).

export class IdleTimer {
  /**
   * @param {{idleS: number, warnS: number, onWarn: (secondsLeft: number) => void,
   *          onTick: (secondsLeft: number) => void, onReset: () => void}} options
   */
  constructor(options) {
    this.options = options;
    this.warnTimer = null;
    this.resetTimer = null;
    this.tickTimer = null;
    this.active = false;
    this.warning = false;
  }

  /** Start (or restart) counting; call on every touch while a screen with input is shown. */
  poke() {
    if (this.warning) return; // only "Mehr Zeit" ends a warning: a stray touch must not hide it unread
    this.active = true;
    this.clearTimers();
    const { idleS, warnS } = this.options;
    this.warnTimer = setTimeout(() => this.warn(), Math.max(0, idleS - warnS) * 1000);
  }

  warn() {
    this.warning = true;
    const ends = performance.now() + this.options.warnS * 1000;
    const left = () => Math.max(0, Math.ceil((ends - performance.now()) / 1000));
    this.options.onWarn(left());
    this.tickTimer = setInterval(() => this.options.onTick(left()), 1000);
    this.resetTimer = setTimeout(() => {
      this.stop();
      this.options.onReset();
    }, this.options.warnS * 1000);
  }

  /** "Mehr Zeit": end the warning, count again from the start. */
  extend() {
    this.warning = false;
    this.poke();
  }

  /** Stop counting (start screen, shop window, a payment running at the terminal). */
  stop() {
    this.active = false;
    this.warning = false;
    this.clearTimers();
  }

  clearTimers() {
    clearTimeout(this.warnTimer);
    clearTimeout(this.resetTimer);
    clearInterval(this.tickTimer);
  }
}
