/* The Huiliao SDK: the seed's `chatuser` and `chatroom` with the same names, promise-based
 * over the REST API, plus `chatroom.attach(code, handlers)` for the live room.
 *
 *   const { create, wxAdapter } = require("./huiliao/index.js");
 *   const { chatuser, chatroom } = create({ baseUrl: "https://huiliao.example.com", adapter: wxAdapter(wx) });
 *   await chatuser.login();
 *   const room = await chatroom.createRoom({ name: "PyCon China" });
 *
 * Every failure is a HuiliaoError {status, code, detail}: the server's own code, or
 * status 0 and "network_error".
 */
"use strict";

const { HuiliaoError, fromResponse } = require("./errors");
const { Session } = require("./session");
const { wxAdapter } = require("./transport");

/** @typedef {{cursor?: string, limit?: number}} Page */

const TOKEN_KEY = "huiliao.token";
const MAX_SOCKETS = 5; // WeChat allows five open sockets per mini-program

/**
 * @param {{baseUrl: string, adapter: import("./transport").Adapter, lang?: string}} options  lang: "zh-hans" or "en", the words of system notices
 */
function create({ baseUrl, adapter, lang }) {
  const base = baseUrl.replace(/\/+$/, "");
  const api = base + "/api/v1";
  const wsBase = base.replace(/^http/, "ws");
  let token = adapter.getStorage(TOKEN_KEY);
  let relogin = null; // how to get a fresh token after a 401: the last way used
  const sessions = new Map(); // room code -> Session

  function setToken(value) {
    token = value;
    adapter.setStorage(TOKEN_KEY, value);
  }

  /**
   * @param {"GET" | "POST" | "PUT" | "PATCH" | "DELETE"} method
   * @param {string} path
   * @param {object | null} [data]
   * @param {{retry?: boolean, auth?: boolean}} [options]
   * @returns {Promise<any>}
   */
  async function call(method, path, data, { retry = true, auth = true } = {}) {
    /** @type {Record<string, string>} */
    const header = { "Content-Type": "application/json" };
    if (auth && token) header.Authorization = "Token " + token;
    const res = await adapter.request({ method, url: api + path, data, header });
    if (res.status === 401 && auth && retry && relogin) {
      await relogin();
      return call(method, path, data, { retry: false, auth });
    }
    if (res.status >= 400) throw fromResponse(res.status, res.data);
    // 204 No Content: null, the same on every transport (wx.request gives "").
    return res.status === 204 ? null : res.data;
  }

  /** @param {Record<string, string | number | undefined | null>} params */
  function query(params) {
    const parts = Object.keys(params)
      .filter((key) => params[key] !== undefined && params[key] !== null)
      .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(String(params[key])));
    return parts.length ? "?" + parts.join("&") : "";
  }

  function room(code) {
    return "/rooms/" + encodeURIComponent(String(code).toUpperCase());
  }

  /** @param {string} code @param {string} memberId @param {string} action */
  function member(code, memberId, action) {
    return room(code) + "/members/" + encodeURIComponent(memberId) + "/" + action;
  }

  const chatuser = {
    /**
     * wx.login → POST /auth/wechat; the token is kept in storage and renewed on a 401.
     * @param {{nickname?: string, avatarUrl?: string}} [profile]
     */
    async login({ nickname, avatarUrl } = {}) {
      relogin = () => chatuser.login({ nickname, avatarUrl });
      const code = await adapter.login();
      const body = { code };
      if (nickname) body.nickname = nickname;
      if (avatarUrl) body.avatar_url = avatarUrl;
      const result = await call("POST", "/auth/wechat", body, { auth: false });
      setToken(result.token);
      return result.user;
    },
    /* Outside WeChat (a browser, a test): a guest account under a nickname. */
    async loginAsGuest(nickname) {
      relogin = () => chatuser.loginAsGuest(nickname);
      const result = await call("POST", "/auth/guest", { nickname }, { auth: false });
      setToken(result.token);
      return result.user;
    },
    async logout() {
      for (const session of sessions.values()) session.close();
      try {
        await call("POST", "/auth/logout", null, { retry: false });
      } finally {
        relogin = null;
        setToken(null);
      }
    },
    getUserInfo: () => call("GET", "/me"),
    setUserInfo: ({ nickname, avatarUrl }) =>
      call("PATCH", "/me", { nickname, avatar_url: avatarUrl }),
    get loggedIn() {
      return Boolean(token);
    },
  };

  const chatroom = {
    /** @param {{name: string, expiresAt?: string, geofence?: {latitude: number, longitude: number, radius_m: number}}} room */
    createRoom: ({ name, expiresAt, geofence }) =>
      call("POST", "/rooms", { name, expires_at: expiresAt, geofence }),
    /** @param {Page} [page] */
    listChatRoom: ({ cursor, limit } = {}) => call("GET", "/rooms" + query({ role: "owner", cursor, limit })),
    /** @param {Page} [page] */
    listAllChatRoom: ({ cursor, limit } = {}) =>
      call("GET", "/rooms" + query({ role: "member", cursor, limit })),
    /** @param {{latitude: number, longitude: number}} where */
    listNearby: ({ latitude, longitude }) => call("GET", "/rooms/nearby" + query({ latitude, longitude })),
    getRoomInfo: (code) => call("GET", room(code)),
    destroyChatRoom: (code) => call("DELETE", room(code)),
    getBBS: (code) => call("GET", room(code) + "/announcement"),
    setBBS: (code, text) => call("PUT", room(code) + "/announcement", { text }),
    /**
     * @param {string} code
     * @param {{displayName?: string, avatar?: string, latitude?: number, longitude?: number}} [entry]
     */
    enterChatRoom: (code, { displayName, avatar, latitude, longitude } = {}) =>
      call("POST", room(code) + "/enter", { display_name: displayName, avatar, latitude, longitude }),
    leaveChatRoom: async (code) => {
      const session = sessions.get(String(code).toUpperCase());
      if (session) session.close();
      return call("POST", room(code) + "/leave");
    },
    getUserCount: async (code) => (await call("GET", room(code) + "/members" + query({ limit: 1 }))).count,
    /** @param {string} code @param {Page} [page] */
    getUserList: (code, { cursor, limit } = {}) => call("GET", room(code) + "/members" + query({ cursor, limit })),
    getHistoryCount: async (code) => (await call("GET", room(code) + "/messages/info")).count,
    getHistoryInfo: (code) => call("GET", room(code) + "/messages/info"),
    /**
     * @param {string} code
     * @param {{after?: number, before?: number, limit?: number}} [range]
     */
    getHistoryList: (code, { after, before, limit } = {}) =>
      call("GET", room(code) + "/messages" + query({ after, before, limit })),
    appendHistory: (code, body, clientId) =>
      call("POST", room(code) + "/messages", { body, client_id: clientId || require("./session").newClientId() }),
    getQRCode: (code) => call("GET", room(code) + "/qrcode"),

    /* Running the room from the room (docs/moderation.md): owner and moderators. */
    /**
     * @param {string} code
     * @param {{name?: string, expiresAt?: string, slowModeSeconds?: number, posting?: "everyone"|"moderators"}} changes
     */
    updateRoom: (code, { name, expiresAt, slowModeSeconds, posting }) =>
      call("PATCH", room(code), { name, expires_at: expiresAt, slow_mode_seconds: slowModeSeconds, posting }),
    closeRoom: (code) => call("POST", room(code) + "/close"),
    reopenRoom: (code) => call("POST", room(code) + "/reopen"),
    /** @param {string} code @param {string} memberId @param {number} minutes */
    muteMember: (code, memberId, minutes) => call("POST", member(code, memberId, "mute"), { minutes }),
    unmuteMember: (code, memberId) => call("POST", member(code, memberId, "unmute")),
    banMember: (code, memberId) => call("POST", member(code, memberId, "ban")),
    unbanMember: (code, memberId) => call("POST", member(code, memberId, "unban")),
    /** @param {string} code @param {string} memberId @param {"moderator"|"member"} role */
    setRole: (code, memberId, role) => call("POST", member(code, memberId, "role"), { role }),
    /** @param {string} code @param {number} seq */
    hideMessage: (code, seq) => call("POST", room(code) + "/messages/" + seq + "/hide"),
    /** @param {string} code @param {number} seq */
    unhideMessage: (code, seq) => call("POST", room(code) + "/messages/" + seq + "/unhide"),
    /** @param {string} code @param {{after?: number}} [page] */
    getReports: (code, { after } = {}) => call("GET", room(code) + "/reports" + query({ after })),
    /** @param {string} code @param {Page} [page] */
    getModerationLog: (code, { cursor, limit } = {}) =>
      call("GET", room(code) + "/moderation-log" + query({ cursor, limit })),
    /* Q&A (docs/qa.md). */
    /**
     * @param {string} code
     * @param {{sort?: "top"|"new", status?: "open"|"answered"|"hidden", cursor?: string, limit?: number}} [query]
     */
    listQuestions: (code, { sort, status, cursor, limit } = {}) =>
      call("GET", room(code) + "/questions" + query({ sort, status, cursor, limit })),
    /** @param {string} code @param {string} body @param {{anonymous?: boolean, clientId?: string}} [options] */
    askQuestion: (code, body, { anonymous, clientId } = {}) =>
      call("POST", room(code) + "/questions", {
        body,
        anonymous: Boolean(anonymous),
        client_id: clientId || require("./session").newClientId(),
      }),
    /** @param {string} code @param {string} questionId */
    voteQuestion: (code, questionId) => call("POST", room(code) + "/questions/" + questionId + "/vote"),
    /** @param {string} code @param {string} questionId */
    unvoteQuestion: (code, questionId) => call("DELETE", room(code) + "/questions/" + questionId + "/vote"),
    /** @param {string} code @param {string} questionId */
    markAnswered: (code, questionId) => call("POST", room(code) + "/questions/" + questionId + "/answered"),
    /** @param {string} code @param {string} questionId */
    hideQuestion: (code, questionId) => call("POST", room(code) + "/questions/" + questionId + "/hide"),
    /** @param {string} code @param {number} seq */
    promoteMessage: (code, seq) => call("POST", room(code) + "/messages/" + seq + "/promote"),
    /* Any member. */
    /**
     * @param {string} code @param {number} seq
     * @param {"spam"|"abuse"|"illegal"|"privacy"|"other"} reason @param {string} [text]
     */
    reportMessage: (code, seq, reason, text) =>
      call("POST", room(code) + "/messages/" + seq + "/report", { reason, text }),
    /** @param {string} code @param {number} seq */
    recallMessage: (code, seq) => call("DELETE", room(code) + "/messages/" + seq),

    /* The live room. At most one session per room (attaching again returns it), and never
     * more than WeChat's five sockets. */
    /**
     * @param {string} code
     * @param {import("./session").Handlers} [handlers]
     * @param {{afterSeq?: number}} [options]
     */
    attach(code, handlers = {}, { afterSeq } = {}) {
      const key = String(code).toUpperCase();
      if (sessions.has(key)) return sessions.get(key);
      if (sessions.size >= MAX_SOCKETS) {
        throw new HuiliaoError(0, "too_many_sockets", "WeChat allows five open rooms at once.");
      }
      if (!token) throw new HuiliaoError(401, "not_authenticated", "Log in first.");
      const session = new Session({
        code: key,
        url: wsBase + "/ws/rooms/" + encodeURIComponent(key) + "/",
        header: { Authorization: "Token " + token },
        adapter,
        handlers,
        lang,
        onEnd: (ended) => {
          if (sessions.get(key) === ended) sessions.delete(key);
        },
      });
      sessions.set(key, session);
      return session.start(afterSeq);
    },
  };

  return { chatuser, chatroom };
}

module.exports = { create, wxAdapter, HuiliaoError };
