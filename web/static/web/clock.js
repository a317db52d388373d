// The server's clock as seen from this device (docs/PROTOCOL.md, "Conventions").
//
// Each message with `serverTime` gives one sample of offset = serverTime - localTime at
// receipt. Network delay only ever makes a sample too small (the server's time was read
// before the message travelled), so the largest recent sample is the best estimate; a
// window keeps a changed local clock from being remembered for ever. Countdowns are then
// drawn against `deadline - offset`, so two devices whose clocks disagree show the same
// second.

const WINDOW = 8;

export class ServerClock {
  constructor() {
    this.samples = [];
    this.offsetMs = 0;
  }

  sample(serverTimeIso, receivedAtMs = Date.now()) {
    const server = Date.parse(serverTimeIso);
    if (Number.isNaN(server)) return;
    this.samples.push(server - receivedAtMs);
    if (this.samples.length > WINDOW) this.samples.shift();
    this.offsetMs = Math.max(...this.samples);
  }

  get known() {
    return this.samples.length > 0;
  }

  now() {
    return Date.now() + this.offsetMs;
  }

  // Milliseconds from the server's now until `iso` (negative once it has passed).
  msUntil(iso) {
    return Date.parse(iso) - this.now();
  }

  // Whole seconds left until `iso`, rounded up like timer_update's remainingSeconds.
  secondsUntil(iso) {
    return Math.max(0, Math.ceil(this.msUntil(iso) / 1000));
  }
}
