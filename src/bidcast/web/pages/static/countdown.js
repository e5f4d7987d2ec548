// The server's clock as seen from this page, and countdowns that run on it.
//
// Every server message carries `ts` (server epoch ms, stamped when it was sent). A sample
// `ts - Date.now()` at receipt is the true offset minus the network delay, so the largest recent
// sample is the best estimate; stale stamps (events replayed after a reconnect, a snapshot cached
// for up to a second) only ever make a sample smaller, so they never pull the estimate off.
// The window of samples expires on the monotonic clock, so a phone whose wall clock is changed
// recovers within WINDOW_MS.

const WINDOW_MS = 30_000;
const MAX_SAMPLES = 32;

export class ServerClock {
  constructor() {
    this.samples = [];        // [monotonic ms, offset ms]
    this.offset = null;       // smoothed: what now() uses
  }

  sample(ts) {
    if (typeof ts !== "number" || !Number.isFinite(ts)) return;
    const mono = performance.now();
    this.samples.push([mono, ts - Date.now()]);
    while (this.samples.length > MAX_SAMPLES || (this.samples.length > 1 && mono - this.samples[0][0] > WINDOW_MS)) {
      this.samples.shift();
    }
    let best = -Infinity;
    for (const [, off] of this.samples) if (off > best) best = off;
    // A reading can only understate the offset (a message is stamped before it travels), so a
    // larger one is simply better: take it at once. Ease down only when old readings expire,
    // and take big corrections (first sample, a changed phone clock) at once.
    if (this.offset === null || best > this.offset || this.offset - best > 1000) this.offset = best;
    else this.offset += (best - this.offset) * 0.3;
  }

  get synced() { return this.offset !== null; }

  now() { return Date.now() + (this.offset ?? 0); }
}

export function formatRemaining(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const ss = String(s).padStart(2, "0");
  if (h) return `${h}:${String(m).padStart(2, "0")}:${ss}`;
  return `${m}:${ss}`;
}

// One ticker for every countdown on the page: each tick touches the DOM only when text changes.
export class Countdown {
  constructor(node, clock, { urgentMs = 10_000, onZero } = {}) {
    this.node = node; this.clock = clock; this.urgentMs = urgentMs; this.onZero = onZero;
    this.closesAt = null; this.closedText = null; this.last = "";
    this.timer = null;
  }

  // closesAt: server epoch ms (null: nothing running). closedText: show this instead of a clock.
  set(closesAt, closedText = null) {
    this.closesAt = closesAt ?? null;
    this.closedText = closedText;
    this.zeroFired = false;
    this.tick();
    if (this.closesAt !== null && this.closedText === null) {
      if (!this.timer) this.timer = setInterval(() => this.tick(), 200);
    } else if (this.timer) {
      clearInterval(this.timer); this.timer = null;
    }
  }

  remaining() {
    return this.closesAt === null ? null : this.closesAt - this.clock.now();
  }

  tick() {
    let text, urgent = false, over = false;
    if (this.closedText !== null) text = this.closedText;
    else if (this.closesAt === null) text = "–:––";
    else {
      const left = this.remaining();
      text = formatRemaining(left);
      urgent = left <= this.urgentMs;
      over = left <= 0;
      if (over && !this.zeroFired) { this.zeroFired = true; this.onZero?.(); }
    }
    if (text !== this.last) { this.node.textContent = text; this.last = text; }
    this.node.classList.toggle("urgent", urgent && !over);
    this.node.classList.toggle("over", over);
  }
}
