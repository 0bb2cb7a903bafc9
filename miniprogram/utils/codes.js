/* How a scan or a link names a room: the mini-program code's `scene` (the room code), the
 * URL QR code's `q` (the join URL, …/r/<CODE>/), or a code typed by hand. */
"use strict";

const CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/;

/** @param {string | undefined} text @returns {string | null} */
function roomCodeFrom(text) {
  if (!text) return null;
  let value = text;
  try {
    value = decodeURIComponent(text);
  } catch (e) {
    /* not encoded */
  }
  // A join URL (…/r/<CODE>/), a scanned mini-program code's path (…?scene=<CODE>), or a code.
  const fromUrl = /\/r\/([A-Za-z0-9]{8})\/?/.exec(value) || /[?&]scene=([A-Za-z0-9]{8})\b/.exec(value);
  // As read off a screen: "k7m2-qx9p", "K7M2 QX9P".
  const candidate = (fromUrl ? fromUrl[1] : value).replace(/[\s-]+/g, "").toUpperCase();
  return CODE.test(candidate) ? candidate : null;
}

/** @param {Record<string, string | undefined>} options a page's onLoad options */
function roomCodeFromOptions(options) {
  return roomCodeFrom(options.code) || roomCodeFrom(options.scene) || roomCodeFrom(options.q);
}

module.exports = { roomCodeFrom, roomCodeFromOptions };
