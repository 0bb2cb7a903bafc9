/* How the pages find the room a scan or a link names. */
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");

const { roomCodeFrom, roomCodeFromOptions } = require("../utils/codes.js");
const { stringsFor, STRINGS } = require("../utils/i18n.js");

test("a mini-program code's scene, a URL QR code's q, or a typed code", () => {
  assert.equal(roomCodeFromOptions({ scene: "K7M2QX9P" }), "K7M2QX9P");
  assert.equal(
    roomCodeFromOptions({ q: encodeURIComponent("https://huiliao.example.com/r/K7M2QX9P/") }),
    "K7M2QX9P",
  );
  assert.equal(roomCodeFromOptions({ code: " k7m2 qx9p " }), "K7M2QX9P");
  assert.equal(roomCodeFrom("pages/room/room?scene=K7M2QX9P"), "K7M2QX9P"); // a scanned path
  assert.equal(roomCodeFrom("https://elsewhere.example.com/r/K7M2QX9/"), null);
  assert.equal(roomCodeFrom("K7M2QX9O"), null, "O is not in the alphabet");
  assert.equal(roomCodeFromOptions({}), null);
});

test("both languages name every string", () => {
  assert.deepEqual(Object.keys(STRINGS.en).sort(), Object.keys(STRINGS["zh-hans"]).sort());
  assert.equal(stringsFor("zh_CN").join, "加入");
  assert.equal(stringsFor("en").join, "Join");
});
