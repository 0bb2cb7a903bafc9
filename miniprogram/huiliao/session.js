/* chatroom.attach(code, handlers): one room's live session over the socket.
 *
 * - Connects with the token header (the mini-program sends no Origin and needs none).
 * - Resumes by seq after any close but 4401 (log in again), 4403 (not a member), 4404
 *   (no such room) and 4410 (room closed), with exponential backoff and jitter.
 * - Pings every 25 s (the server closes a socket silent for 75 s).
 * - Keeps every sent message until its own frame comes back, and sends it again with the
 *   same client_id after a reconnect: the server stores it once, however often it comes.
 * - Hands each message to `onMessage` once, in seq order — but for my own message held for
 *   review, which may come a second time with my text to replace its placeholder.
 * - Every other frame (announcement, members, message_hidden, message_restored,
 *   message_recalled, room_updated, member_updated, room_closed) goes to `onEvent`.
 */
"use strict";

const { HuiliaoError } = require("./errors");

const PING_MS = 25000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const FINAL_CLOSES = { 4401: "no_credentials", 4403: "forbidden", 4404: "unknown_room", 4410: "room_closed" };

function newClientId() {
  let id = "";
  for (let i = 0; i < 4; i++) id += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
  return id;
}

/**
 * @typedef {object} Handlers
 * @property {(hello: object) => void} [onOpen]
 * @property {(message: any) => void} [onMessage]
 * @property {(frame: any) => void} [onEvent]
 * @property {(gap: {from: number, to: number}) => void} [onGap]
 * @property {(retry: {attempt: number, delay: number, code: number}) => void} [onReconnecting]
 * @property {(error: HuiliaoError) => void} [onError]
 * @property {(error: HuiliaoError | null) => void} [onClose]
 */

class Session {
  /**
   * @param {{code: string, url: string, header: Record<string, string>,
   *   adapter: import("./transport").Adapter, handlers?: Handlers,
   *   onEnd?: (session: Session) => void, random?: () => number, lang?: string}} options
   */
  constructor({ code, url, header, adapter, handlers, onEnd, random, lang }) {
    this.code = code;
    this.lang = lang || null;
    this.url = url;
    this.header = header;
    this.adapter = adapter;
    this.handlers = handlers || {};
    this.onEnd = onEnd;
    this.random = random || Math.random;
    this.lastSeq = 0;
    // Whether lastSeq is where this session's stream stands (given to start(), or learnt
    // from the first hello): from then on every connect resumes from it, 0 included, so
    // nothing posted before a hello or during a drop is missed.
    this.placeKnown = false;
    this.myMemberId = null;
    /** @type {Map<string, {body: string, resolve: (message: any) => void, reject: (error: any) => void}>} */
    this.pending = new Map(); // client_id -> {body, resolve, reject}
    /** @type {import("./transport").SocketTask | null} */
    this.socket = null;
    this.open = false;
    this.attempts = 0;
    this.stopped = false;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.pingTimer = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
  }

  start(afterSeq) {
    if (typeof afterSeq === "number") {
      this.lastSeq = afterSeq;
      this.placeKnown = true;
    }
    this._connect();
    return this;
  }

  /* Send a message; resolves with the stored message once the room has it. */
  send(body, clientId) {
    const id = clientId || newClientId();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { body, resolve, reject });
      if (this.open) this._sendFrame({ type: "send", body, client_id: id });
    });
  }

  close() {
    this._end(null);
  }

  _connect() {
    // Notices ("Ann joined") come worded in this language; resume from the last seq seen.
    const params = [];
    if (this.placeKnown) params.push("after_seq=" + this.lastSeq);
    if (this.lang) params.push("lang=" + encodeURIComponent(this.lang));
    const query = params.length ? "?" + params.join("&") : "";
    const socket = this.adapter.connectSocket({ url: this.url + query, header: this.header });
    this.socket = socket;
    let ended = false;
    // A socket ends once, however it says so: WeChat (and Node) report a connection that
    // never opened with an error and no close event, a dropped one with both.
    const endedWith = (code) => {
      if (ended || socket !== this.socket) return;
      ended = true;
      this._onClose(code);
    };
    socket.onOpen(() => {});
    socket.onMessage((event) => {
      if (socket !== this.socket) return;
      if (typeof event.data !== "string") return; // the protocol is text frames only
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      this._onFrame(frame);
    });
    socket.onClose((event) => endedWith(event && typeof event.code === "number" ? event.code : 1006));
    socket.onError(() => {
      // An error on an open socket is followed by its close (which carries the code);
      // one that never opened gets none: retry from here.
      if (!this.open) endedWith(1006);
    });
  }

  _onFrame(frame) {
    const on = this.handlers;
    switch (frame.type) {
      case "hello":
        this.open = true;
        this.attempts = 0;
        this.myMemberId = frame.my_member_id;
        if (!this.placeKnown) {
          // Started live: the stream begins after the room's last seq at this hello.
          this.lastSeq = frame.last_seq;
          this.placeKnown = true;
        }
        this._startPing();
        // Anything not yet acknowledged goes again, under its own client_id.
        for (const [id, item] of this.pending) this._sendFrame({ type: "send", body: item.body, client_id: id });
        if (on.onOpen) on.onOpen(frame);
        break;
      case "message": {
        const message = frame.message;
        const mine = message.sender && message.sender.member_id === this.myMemberId;
        if (message.seq <= this.lastSeq) {
          // Seen already (a replay overlapping), except my own held message: the room gets
          // its placeholder, and my socket also my own text, in either order. The one with
          // my text comes to onMessage again, to replace the placeholder.
          if (mine && message.review === "pending" && message.body && on.onMessage) on.onMessage(message);
          return;
        }
        this.lastSeq = message.seq;
        const waiting = mine && message.client_id ? this.pending.get(message.client_id) : undefined;
        if (waiting) {
          waiting.resolve(message);
          this.pending.delete(message.client_id);
        }
        if (on.onMessage) on.onMessage(message);
        break;
      }
      case "resume_truncated":
        // Older messages than first_seq must be paged over REST (getHistoryList).
        if (on.onGap) on.onGap({ from: this.lastSeq + 1, to: frame.first_seq - 1 });
        this.lastSeq = Math.max(this.lastSeq, frame.first_seq - 1);
        break;
      case "error":
        if (on.onError) on.onError(new HuiliaoError(0, frame.code, frame.detail));
        break;
      case "pong":
        break;
      default:
        if (on.onEvent) on.onEvent(frame);
    }
  }

  _onClose(code) {
    this.open = false;
    this._stopPing();
    if (this.stopped) return;
    if (FINAL_CLOSES[code]) {
      this._end(new HuiliaoError(code, FINAL_CLOSES[code], "The server closed the room's socket (" + code + ")."));
      return;
    }
    this.attempts += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.attempts - 1));
    const delay = Math.round(ceiling / 2 + (this.random() * ceiling) / 2); // jitter: half to all
    if (this.handlers.onReconnecting) this.handlers.onReconnecting({ attempt: this.attempts, delay, code });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this._connect();
    }, delay);
  }

  _end(error) {
    if (this.stopped) return;
    this.stopped = true;
    this.open = false;
    this._stopPing();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.socket) {
      try {
        this.socket.close({ code: 1000 });
      } catch (e) {
        /* already closed */
      }
    }
    const reason = error || new HuiliaoError(0, "closed", "The session was closed.");
    for (const item of this.pending.values()) item.reject(reason);
    this.pending.clear();
    if (this.onEnd) this.onEnd(this);
    if (this.handlers.onClose) this.handlers.onClose(error);
  }

  /** @param {object} frame */
  _sendFrame(frame) {
    if (!this.socket) return;
    try {
      this.socket.send({ data: JSON.stringify(frame) });
    } catch (e) {
      /* the socket is going; the frame goes again after the reconnect */
    }
  }

  _startPing() {
    this._stopPing();
    this.pingTimer = setInterval(() => this._sendFrame({ type: "ping" }), PING_MS);
  }

  _stopPing() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}

module.exports = { Session, newClientId, FINAL_CLOSES };
