// Warning tone made in the browser (WebAudio): two short beeps within 300-3000 Hz (Tiresias).

let context = null;
export const played = []; // {frequency, at} of every beep (tests read it)

export function beep(frequency = 880, seconds = 0.25, delay = 0) {
  if (frequency < 300 || frequency > 3000) throw new RangeError("beeps stay within 300-3000 Hz");
  context ??= new AudioContext();
  const start = context.currentTime + delay;
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  oscillator.type = "sine";
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + seconds);
  oscillator.connect(gain).connect(context.destination);
  oscillator.start(start);
  oscillator.stop(start + seconds + 0.02);
  played.push({ frequency, at: performance.now() });
}

export function warningTone() {
  beep(880, 0.25, 0);
  beep(660, 0.35, 0.35);
}
