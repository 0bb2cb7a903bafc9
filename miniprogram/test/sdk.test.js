/* The SDK against a real Daphne: log in through the fake WeChat, create, enter, chat
 * between two SDK clients, scroll back; kill the server mid-chat and see every message
 * exactly once; close codes and HuiliaoError codes. */
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");

const { create, wxAdapter, HuiliaoError } = require("../huiliao/index.js");
const { createWx } = require("./wx-shim.js");
const { startServer } = require("./server.js");

let server;

test.before(async () => {
  server = await startServer("sdk");
});

test.after(async () => {
  await server.stop();
});

// Every session a test attached, closed when it ends however it ends: an open one keeps
// reconnecting, and the test run would never exit.
const attached = [];
test.afterEach(() => {
  for (const session of attached.splice(0)) session.close();
});

function client() {
  return create({ baseUrl: server.baseUrl, adapter: wxAdapter(createWx()) });
}

/* A session whose messages are collected; `waitFor(n)` resolves once n have arrived;
 * `opened` once its hello has come (what is posted from then on reaches it live). */
function attachCollecting(sdk, code) {
  const messages = [];
  const closes = [];
  let waiters = [];
  let helloCame;
  const opened = new Promise((resolve) => (helloCame = resolve));
  const session = sdk.chatroom.attach(code, {
    onOpen: () => helloCame(),
    onMessage: (message) => {
      messages.push(message);
      waiters = waiters.filter((w) => !(w.test() && (w.resolve(), true)));
    },
    onClose: (error) => closes.push(error),
  });
  attached.push(session);
  function waitFor(predicate, ms = 15000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out; got " + JSON.stringify(messages.map((m) => m.body)))), ms);
      const waiter = { test: () => predicate(messages), resolve: () => (clearTimeout(timer), resolve(messages)) };
      if (waiter.test()) waiter.resolve();
      else waiters.push(waiter);
    });
  }
  return { session, messages, closes, waitFor, opened };
}

test("log in with WeChat, create, enter, chat between two clients, scroll back", { timeout: 60000 }, async () => {
  const organiser = client();
  const me = await organiser.chatuser.login({ nickname: "Organiser" });
  assert.equal(me.kind, "wechat");
  // The account as /me shows it: nothing more (no platform identifiers).
  assert.deepEqual(Object.keys(me).sort(), ["avatar_url", "date_joined", "id", "is_staff", "kind", "nickname"]);
  const room = await organiser.chatroom.createRoom({ name: "SDK hall" });
  assert.equal(room.my_role, "owner");

  const guest = client();
  await guest.chatuser.loginAsGuest("Ann");
  const entered = await guest.chatroom.enterChatRoom(room.code, { displayName: "Ann" });
  assert.equal(entered.is_member, true);
  assert.equal(await organiser.chatroom.getUserCount(room.code), 2);

  const a = attachCollecting(organiser, room.code);
  const b = attachCollecting(guest, room.code);
  assert.equal(organiser.chatroom.attach(room.code), a.session, "one session per room");
  await b.opened;
  const stored = await a.session.send("Welcome to the hall");
  assert.equal(stored.sender.role, "owner");
  await b.waitFor((ms) => ms.some((m) => m.body === "Welcome to the hall"));
  const reply = await b.session.send("Thanks!");
  await a.waitFor((ms) => ms.some((m) => m.seq === reply.seq));

  for (let i = 0; i < 5; i++) await guest.chatroom.appendHistory(room.code, "older " + i);
  const info = await guest.chatroom.getHistoryInfo(room.code);
  const page = await guest.chatroom.getHistoryList(room.code, { before: info.last_seq, limit: 2 });
  assert.deepEqual(page.results.map((m) => m.body), ["older 2", "older 3"]);
  assert.equal(page.has_more, true);
  a.session.close();
  b.session.close();
});

test("the server dies mid-chat: every message arrives once, none is stored twice", { timeout: 60000 }, async () => {
  const organiser = client();
  await organiser.chatuser.loginAsGuest("Speaker");
  const room = await organiser.chatroom.createRoom({ name: "Resume hall" });
  const listener = client();
  await listener.chatuser.loginAsGuest("Listener");
  await listener.chatroom.enterChatRoom(room.code, { displayName: "Listener" });

  const speaker = attachCollecting(organiser, room.code);
  const ear = attachCollecting(listener, room.code);
  await ear.opened;
  await speaker.session.send("before");
  await ear.waitFor((ms) => ms.some((m) => m.body === "before"));

  await server.kill();
  // Sent while the server is down: kept, and sent again after the reconnect.
  const during = [1, 2, 3].map((n) => speaker.session.send("during " + n));
  await new Promise((r) => setTimeout(r, 300));
  await server.start();
  const stored = await Promise.all(during);
  const after = await speaker.session.send("after");

  await ear.waitFor((ms) => ms.some((m) => m.seq === after.seq), 30000);
  const bodies = ear.messages.map((m) => m.body);
  assert.deepEqual(bodies.filter((b) => b.startsWith("during")).sort(), ["during 1", "during 2", "during 3"]);
  const seqs = ear.messages.map((m) => m.seq);
  assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), "each seq once, in order");
  const history = await listener.chatroom.getHistoryList(room.code, { limit: 100 });
  const texts = history.results.filter((m) => m.kind === "text").map((m) => m.body);
  assert.deepEqual(texts, ["before", ...stored.map((m) => m.body), "after"], "stored once each");
  speaker.session.close();
  ear.session.close();
});

test("attached after an empty history (afterSeq 0): a message posted before the hello still comes", { timeout: 60000 }, async () => {
  const organiser = client();
  await organiser.chatuser.loginAsGuest("Speaker");
  const room = await organiser.chatroom.createRoom({ name: "Empty hall" });
  const listener = client();
  await listener.chatuser.loginAsGuest("Listener");
  await listener.chatroom.enterChatRoom(room.code, { displayName: "Listener" });
  const shown = await listener.chatroom.getHistoryList(room.code, { limit: 30 });
  assert.deepEqual(shown.results.filter((m) => m.kind === "text"), []);
  // Posted after the page read its (empty) history, before its socket is open.
  const early = await organiser.chatroom.appendHistory(room.code, "early bird");
  const messages = [];
  const session = listener.chatroom.attach(room.code, { onMessage: (m) => messages.push(m) }, { afterSeq: 0 });
  attached.push(session);
  const deadline = Date.now() + 15000;
  while (!messages.some((m) => m.seq === early.seq) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(messages.some((m) => m.seq === early.seq && m.body === "early bird"), "got " + JSON.stringify(messages.map((m) => m.body)));
});

test("a session started live resumes from its hello after a drop, though it has seen no message", { timeout: 60000 }, async () => {
  const organiser = client();
  await organiser.chatuser.loginAsGuest("Speaker");
  const room = await organiser.chatroom.createRoom({ name: "Quiet hall" });
  await organiser.chatroom.appendHistory(room.code, "old news");
  const listener = client();
  await listener.chatuser.loginAsGuest("Listener");
  await listener.chatroom.enterChatRoom(room.code, { displayName: "Listener" });
  const ear = attachCollecting(listener, room.code);
  await ear.opened;
  await server.kill();
  await new Promise((r) => setTimeout(r, 300));
  await server.start();
  // Posted while the listener's session is still reconnecting.
  const meanwhile = await organiser.chatroom.appendHistory(room.code, "while you were away");
  await ear.waitFor((ms) => ms.some((m) => m.seq === meanwhile.seq), 30000);
  assert.deepEqual(ear.messages.map((m) => m.body), ["while you were away"], "not the old news again");
});

test("close codes end the session; REST errors are HuiliaoError with the server's code", { timeout: 60000 }, async () => {
  const sdk = client();
  await sdk.chatuser.loginAsGuest("Stranger");
  const owner = client();
  await owner.chatuser.loginAsGuest("Owner");
  const room = await owner.chatroom.createRoom({ name: "Members only" });

  const outsider = attachCollecting(sdk, room.code);
  await new Promise((resolve) => {
    const check = setInterval(() => outsider.closes.length && (clearInterval(check), resolve()), 20);
  });
  assert.equal(outsider.closes[0].code, "forbidden");
  assert.equal(outsider.closes[0].status, 4403);

  const unknown = attachCollecting(sdk, "ZZZZZZZZ");
  await new Promise((resolve) => {
    const check = setInterval(() => unknown.closes.length && (clearInterval(check), resolve()), 20);
  });
  assert.equal(unknown.closes[0].code, "unknown_room");

  await assert.rejects(sdk.chatroom.getHistoryList(room.code), (error) => {
    assert.ok(error instanceof HuiliaoError);
    assert.deepEqual([error.status, error.code], [403, "not_member"]);
    return true;
  });
  await assert.rejects(sdk.chatroom.enterChatRoom(room.code, { displayName: "Owner" }), (error) => {
    assert.deepEqual([error.status, error.code], [409, "display_name_taken"]);
    return true;
  });
  const offline = create({ baseUrl: "http://127.0.0.1:9", adapter: wxAdapter(createWx()) });
  await assert.rejects(offline.chatroom.getRoomInfo(room.code), (error) => {
    assert.deepEqual([error.status, error.code], [0, "network_error"]);
    return true;
  });
});

test("a 401 logs in again once and repeats the call", { timeout: 60000 }, async () => {
  const sdk = client();
  await sdk.chatuser.login({ nickname: "Returning" });
  const owner = client();
  await owner.chatuser.loginAsGuest("Host");
  const room = await owner.chatroom.createRoom({ name: "Token expiry" });
  // The token is revoked elsewhere (logout on another device):
  const stale = client();
  await stale.chatuser.login({ nickname: "Returning" });
  await stale.chatuser.logout();
  const info = await sdk.chatroom.getRoomInfo(room.code);
  assert.equal(info.code, room.code);
});

test("moderation from the SDK: settings, mute, hide, report, recall, close and reopen", { timeout: 60000 }, async () => {
  const owner = client();
  await owner.chatuser.loginAsGuest("Olga");
  const room = await owner.chatroom.createRoom({ name: "Moderated hall" });
  const ann = client();
  await ann.chatuser.loginAsGuest("Ann");
  const entered = await ann.chatroom.enterChatRoom(room.code, { displayName: "Ann" });
  const events = [];
  const watcher = owner.chatroom.attach(room.code, { onEvent: (frame) => events.push(frame) });
  const annLive = attachCollecting(ann, room.code);
  try {

  const updated = await owner.chatroom.updateRoom(room.code, { slowModeSeconds: 30 });
  assert.equal(updated.slow_mode_seconds, 30);
  const first = await annLive.session.send("first question");
  await assert.rejects(ann.chatroom.appendHistory(room.code, "second"), (error) => {
    assert.deepEqual([error.status, error.code], [429, "slow_mode"]);
    return true;
  });
  await owner.chatroom.updateRoom(room.code, { slowModeSeconds: 0 });

  const standing = await owner.chatroom.muteMember(room.code, entered.my_member_id, 5);
  assert.equal(standing.member_id, entered.my_member_id);
  assert.ok(standing.muted_until);
  await assert.rejects(ann.chatroom.appendHistory(room.code, "muted?"), (error) => error.code === "muted");
  await owner.chatroom.unmuteMember(room.code, entered.my_member_id);

  const hidden = await owner.chatroom.hideMessage(room.code, first.seq);
  assert.equal(hidden.hidden, true);
  await owner.chatroom.unhideMessage(room.code, first.seq);
  const olga = await owner.chatroom.appendHistory(room.code, "from the organiser");
  const reported = await ann.chatroom.reportMessage(room.code, olga.seq, "other", "testing");
  assert.equal(reported.reason, "other");
  const queue = await owner.chatroom.getReports(room.code);
  assert.deepEqual(queue.results.map((item) => item.message.seq), [olga.seq]);
  const mine = await ann.chatroom.appendHistory(room.code, "typo");
  assert.equal(await ann.chatroom.recallMessage(room.code, mine.seq), null);
  const log = await owner.chatroom.getModerationLog(room.code);
  assert.deepEqual(
    log.results.map((entry) => entry.action),
    ["message_restored", "message_hidden", "member_unmuted", "member_muted", "room_updated", "room_updated"]
  );

  const deadline = Date.now() + 10000;
  const wanted = ["room_updated", "member_updated", "message_hidden", "message_restored", "message_recalled"];
  while (!wanted.every((type) => events.some((frame) => frame.type === type)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(wanted.filter((type) => !events.some((frame) => frame.type === type)), []);

  const closed = await owner.chatroom.closeRoom(room.code);
  assert.equal(closed.status, "closed");
  const reopened = await owner.chatroom.reopenRoom(room.code);
  assert.equal(reopened.status, "open");
  } finally {
    // A failed assertion must not leave sockets open (the runner would wait on them).
    watcher.close();
    annLive.session.close();
  }
});

test("Q&A from the SDK: ask, vote, list by top, answered; frames reach onEvent", { timeout: 60000 }, async () => {
  const owner = client();
  await owner.chatuser.loginAsGuest("Host");
  const room = await owner.chatroom.createRoom({ name: "Q&A hall" });
  const ann = client();
  await ann.chatuser.loginAsGuest("Ann");
  await ann.chatroom.enterChatRoom(room.code, { displayName: "Ann" });
  const events = [];
  const watcher = owner.chatroom.attach(room.code, { onEvent: (frame) => events.push(frame) });
  try {
    const first = await ann.chatroom.askQuestion(room.code, "Slides?");
    const second = await ann.chatroom.askQuestion(room.code, "Recording?", { anonymous: true });
    assert.equal(second.author.display_name, "Ann", "the asker sees their own anonymous question");
    const voted = await owner.chatroom.voteQuestion(room.code, second.id);
    assert.deepEqual([voted.votes, voted.my_vote], [1, true]);
    const top = await ann.chatroom.listQuestions(room.code, { sort: "top" });
    assert.deepEqual(top.results.map((q) => q.id), [second.id, first.id]);
    const answered = await owner.chatroom.markAnswered(room.code, first.id);
    assert.equal(answered.status, "answered");
    const unvoted = await owner.chatroom.unvoteQuestion(room.code, second.id);
    assert.equal(unvoted.votes, 0);
    const deadline = Date.now() + 10000;
    while (!events.some((f) => f.type === "question_votes") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(events.some((f) => f.type === "question" && f.question.id === first.id));
    assert.ok(events.some((f) => f.type === "question_votes" && f.id === second.id));
  } finally {
    watcher.close();
  }
});
