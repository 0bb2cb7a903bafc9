/* The mini-program's pages, rendered by WeChat's component test tool (miniprogram-simulate,
 * on jsdom) and driven against a real Daphne: the home page joins by code, the room page
 * enters, chats both ways, asks and votes on a question, and reads a room's actions. */
"use strict";

const path = require("node:path");
const test = require("node:test");
const assert = require("node:assert/strict");

const { JSDOM } = require("jsdom");

// The DOM the component tool renders into (it expects a browser's globals).
const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
for (const key of ["window", "document", "navigator", "HTMLElement", "Node", "Event", "CustomEvent"]) {
  if (!(key in global) || key === "window" || key === "document") {
    Object.defineProperty(global, key, { value: key === "window" ? dom.window : dom.window[key], configurable: true, writable: true });
  }
}
const simulate = require("miniprogram-simulate");

const { create, wxAdapter } = require("../huiliao/index.js");
const { createWx } = require("./wx-shim.js");
const { startServer } = require("./server.js");

const PAGES = path.resolve(__dirname, "../pages");
let server;
let ui; // what the pages asked WeChat's UI to do

test.before(async () => {
  server = await startServer("pages");
  ui = { toasts: [], navigations: [], sheets: [], modals: [], tap: 0 };
  const wx = createWx();
  Object.assign(wx, {
    getAppBaseInfo: () => ({ language: "en" }),
    setNavigationBarTitle: () => {},
    showToast: ({ title }) => ui.toasts.push(title),
    navigateTo: ({ url }) => ui.navigations.push(url),
    redirectTo: ({ url }) => ui.navigations.push(url),
    navigateBack: () => ui.navigations.push("back"),
    // The action `ui.tap` (the first by default), as if tapped.
    showActionSheet: ({ itemList, success }) => {
      ui.sheets.push(itemList);
      success({ tapIndex: ui.tap });
    },
    // Confirmed, as if tapped.
    showModal: ({ title, content, success }) => {
      ui.modals.push({ title, content });
      success({ confirm: true });
    },
  });
  global.wx = wx;
  const huiliao = create({ baseUrl: server.baseUrl, adapter: wxAdapter(wx), lang: "en" });
  const app = { huiliao, ready: huiliao.chatuser.login({ nickname: "Page user" }) };
  global.getApp = () => app;
});

test.after(async () => {
  await server.stop();
});

function render(page) {
  // A tag name and the project root per page: without them, the tool's template compiler
  // mixes two pages up.
  const id = simulate.load(path.join(PAGES, page, page), page + "-page", { rootPath: path.dirname(PAGES) });
  const component = simulate.render(id);
  component.attach(document.createElement("parent-wrapper"));
  return component;
}

async function until(check, what, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail("timed out waiting for " + what);
}

function text(component) {
  return component.dom.textContent.replace(/\s+/g, " ");
}

test("home: joining by code opens the room page", { timeout: 30000 }, async () => {
  const home = render("home");
  await home.instance.onShow();
  home.instance.onCodeInput({ detail: { value: "k7m2-qx9p" } });
  home.instance.onJoin();
  assert.deepEqual(ui.navigations.slice(-1), ["/pages/room/room?code=K7M2QX9P"]);
  home.instance.onCodeInput({ detail: { value: "nope" } });
  home.instance.onJoin();
  assert.equal(ui.toasts.length > 0, true);
});

test("room: enter, chat both ways, ask and vote, and a message's actions", { timeout: 60000 }, async () => {
  const organiser = create({ baseUrl: server.baseUrl, adapter: wxAdapter(createWx()) });
  await organiser.chatuser.loginAsGuest("Olga");
  const room = await organiser.chatroom.createRoom({ name: "Page hall" });
  await organiser.chatroom.setBBS(room.code, "Coffee at 10:30");

  const page = render("room");
  await page.instance.onLoad({ code: room.code });
  await until(() => text(page).includes("Coffee at 10:30"), "the announcement");
  assert.equal(page.instance.data.room.is_member, true);

  // The organiser speaks; the page hears it live.
  await organiser.chatroom.appendHistory(room.code, "Welcome to the hall");
  await until(() => text(page).includes("Welcome to the hall"), "the organiser's message");
  assert.match(text(page), /Olga\s*Organiser/);

  // The page speaks; the organiser reads it.
  page.instance.onDraft({ detail: { value: "Hello from the mini-program" } });
  await page.instance.onSend();
  await until(() => text(page).includes("Hello from the mini-program"), "my own message");
  const history = await organiser.chatroom.getHistoryList(room.code, { limit: 10 });
  assert.ok(history.results.some((m) => m.body === "Hello from the mini-program"));

  // Questions: ask one, vote for it, see the count.
  page.instance.onTab({ currentTarget: { dataset: { tab: "questions" } } });
  page.instance.onQuestionDraft({ detail: { value: "Will the slides be shared?" } });
  await page.instance.onAsk();
  await until(() => text(page).includes("Will the slides be shared?"), "the question");
  const asked = page.instance.data.questions[0];
  await page.instance.onVote({ currentTarget: { dataset: { id: asked.id } } });
  await until(() => text(page).includes("▲ 1"), "the vote");
  assert.ok(text(page).includes("Live Q&A"));

  // A message's actions: the organiser's may be reported (the first action, tapped).
  page.instance.onTab({ currentTarget: { dataset: { tab: "chat" } } });
  const welcome = page.instance.data.messages.find((m) => m.body === "Welcome to the hall");
  page.instance.onMessageTap({ currentTarget: { dataset: { seq: welcome.seq } } });
  assert.deepEqual(ui.sheets.slice(-1), [["Report"]]);
  await until(() => ui.toasts.includes("Done"), "the report's answer");
  const queue = await organiser.chatroom.getReports(room.code);
  assert.deepEqual(queue.results.map((item) => item.message.seq), [welcome.seq]);

  // The organiser closes the room: the page turns read-only, the composer goes.
  assert.ok(page.dom.querySelector("input[bindconfirm], wx-input"), "a composer while open");
  await organiser.chatroom.closeRoom(room.code);
  await until(() => page.instance.data.readOnly, "read-only after close");
  assert.ok(text(page).includes(page.instance.data.t.closed));
  assert.equal(page.dom.querySelectorAll("wx-input").length, 0, "no composer once closed");
  page.instance.onUnload();
});

test("room, for its organiser: slow mode from the menu, and close asks first", { timeout: 60000 }, async () => {
  const app = getApp();
  await app.ready;
  const room = await app.huiliao.chatroom.createRoom({ name: "My hall" });
  const page = render("room");
  await page.instance.onLoad({ code: room.code });
  await until(() => text(page).includes("Run the room"), "the organiser's menu");

  ui.tap = 0;
  page.instance.onManage();
  assert.deepEqual(ui.sheets.slice(-1), [
    ["Slow mode: one message every 30 s", "Broadcast: only organisers post", "Close the room"],
  ]);
  await until(() => page.instance.data.room.slow_mode_seconds === 30, "slow mode on");

  ui.tap = 2;
  page.instance.onManage();
  await until(() => page.instance.data.readOnly, "closed");
  assert.deepEqual(ui.modals.slice(-1), [
    { title: "Close the room", content: "Close “My hall”? Everyone's chat turns read-only at once." },
  ]);
  const detail = await app.huiliao.chatroom.getRoomInfo(room.code);
  assert.equal(detail.status, "closed");
  ui.tap = 0;
  page.instance.onUnload();
});
