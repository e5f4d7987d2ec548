// The room channel (docs/protocol.md) as a self-healing stream of in-order events.
//
// - sends hello{last_seq} first, so a reconnect resumes exactly after the last applied event;
// - checks that shared events arrive with contiguous seq: a duplicate is dropped, a gap closes
//   the socket and resumes from the last good seq;
// - reconnects with exponential backoff and jitter (immediately when the page comes back
//   online or into view);
// - keeps the ServerClock fed from every message's ts, and pings so it has fresh samples.

import { ServerClock } from "/static/countdown.js";

const PING_MS = 15_000;
const SILENCE_MS = 40_000;
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
const FINAL_CODES = {
  4401: "Your session has expired — log in again to rejoin.",
  4403: "The host removed you from this room.",
  4404: "This room does not exist.",
};

export class RoomSocket {
  // handlers: snapshot(msg), event(msg), personal(msg), status(state, detail)
  //   state: "connecting" | "live" | "reconnecting" | "closed"
  constructor(roomId, handlers) {
    this.roomId = roomId;
    this.h = handlers;
    this.clock = new ServerClock();
    this.lastSeq = null;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.stopped = false;
    this.outbox = [];            // sent once the socket is open (bids keep their idempotency key)
    this.gaps = 0;
    window.addEventListener("online", () => this.wake());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.wake(); });
  }

  get open() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer); this.retryTimer = null;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/rooms/${this.roomId}`);
    this.ws = ws;
    this.h.status?.(this.attempt ? "reconnecting" : "connecting");
    ws.onopen = () => {
      const hello = { type: "hello" };
      if (this.lastSeq !== null) hello.last_seq = this.lastSeq;
      ws.send(JSON.stringify(hello));
      this.heardAt = performance.now();
      this.pingTimer = setInterval(() => this.keepAlive(), PING_MS);
    };
    ws.onmessage = (e) => { if (this.ws === ws) this.receive(e.data); };
    ws.onclose = (e) => { if (this.ws === ws) this.closed(e.code); };
    ws.onerror = () => {};   // onclose follows and handles it
  }

  // A socket can die without a close event (a phone that slept, a NAT that forgot us): when
  // even our pings go unanswered, start over from the last good seq.
  keepAlive() {
    if (performance.now() - this.heardAt > SILENCE_MS) { this.resume(); return; }
    this.send({ type: "ping" });
  }

  receive(raw) {
    this.heardAt = performance.now();
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    if (!msg || typeof msg.type !== "string") return;
    this.clock.sample(msg.ts);
    if (msg.personal) {
      if (msg.type === "welcome") this.welcomed();
      this.h.personal?.(msg);
      return;
    }
    if (!Number.isInteger(msg.seq)) return;
    if (msg.type === "snapshot") {          // supersedes everything before it, whatever its seq
      this.lastSeq = msg.seq;
      this.h.snapshot?.(msg);
      return;
    }
    if (this.lastSeq === null) return;      // nothing to apply an event to yet
    if (msg.seq <= this.lastSeq) return;    // already applied
    if (msg.seq !== this.lastSeq + 1) {     // a gap: resume from the last event we applied
      this.gaps += 1;
      this.resume();
      return;
    }
    this.lastSeq = msg.seq;
    this.h.event?.(msg);
  }

  welcomed() {
    this.attempt = 0;
    this.h.status?.("live");
    const pending = this.outbox.splice(0);
    for (const m of pending) this.send(m);
  }

  // Drop this socket and open a fresh one at once, resuming from lastSeq.
  // A second gap within a few seconds backs off like a failed connection, so a server that
  // keeps skipping numbers is not hammered.
  resume() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.pingTimer);
    try { ws?.close(4000, "resume"); } catch { /* already closing */ }
    const now = performance.now();
    const again = now - (this.lastGapAt ?? -Infinity) < 5000;
    this.lastGapAt = now;
    if (again) this.closed(4000);
    else this.connect();
  }

  closed(code) {
    this.ws = null;
    clearInterval(this.pingTimer);
    if (FINAL_CODES[code]) {
      this.stopped = true;
      this.h.status?.("closed", { code, message: FINAL_CODES[code] });
      return;
    }
    this.attempt += 1;
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (this.attempt - 1));
    const jittered = delay / 2 + Math.random() * delay / 2;
    this.h.status?.("reconnecting", { inMs: jittered });
    this.retryTimer = setTimeout(() => this.connect(), jittered);
  }

  wake() {
    if (this.stopped || this.ws) return;
    this.connect();
  }

  // Sends now if the socket is open; otherwise `queue: true` keeps it for the next connection.
  send(msg, { queue = false } = {}) {
    if (this.open) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    if (queue) this.outbox.push(msg);
    return false;
  }

  // For messages that must not go out twice as different bids: drop a queued one by key.
  unqueue(key) {
    this.outbox = this.outbox.filter((m) => m.idempotency_key !== key);
  }
}
