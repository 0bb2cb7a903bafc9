/* A room: chat with scroll-back, the announcement, members, rename and preset avatar,
 * leave. Opened by code, by the mini-program code's scene, or by the URL QR code's q. */
"use strict";

const { strings } = require("../../utils/i18n.js");
const { roomCodeFromOptions } = require("../../utils/codes.js");

const PAGE = 30;

/** The messages and the id to scroll to. @param {any[]} messages */
function withScrollTarget(messages) {
  const last = messages[messages.length - 1];
  return { messages, lastId: last ? "m" + last.seq : "" };
}

/** Most votes first, then oldest: the server's "top" order. @param {any[]} questions */
function sortTop(questions) {
  return [...questions].sort((a, b) => b.votes - a.votes || (a.created_at < b.created_at ? -1 : 1));
}
// The live session of each open room page (not page data: data must be plain JSON).
/** @type {WeakMap<object, any>} */
const sessions = new WeakMap();

Component({
  data: {
    t: strings(),
    code: "",
    room: /** @type {any} */ (null),
    messages: /** @type {any[]} */ ([]),
    lastId: "", // the newest message's element id: the list scrolls to it
    draft: "",
    readOnly: false,
    reconnecting: false,
    hasOlder: false,
    myMemberId: "",
    tab: "chat",
    questions: /** @type {any[]} */ ([]),
    question: "",
    liveQa: false,
  },
  methods: {
    /** @param {Record<string, string | undefined>} options */
    async onLoad(options) {
      const code = roomCodeFromOptions(options);
      if (!code) {
        wx.navigateBack();
        return;
      }
      this.setData({ code });
      const app = getApp();
      await app.ready;
      const huiliao = app.huiliao;
      let room = await huiliao.chatroom.getRoomInfo(code);
      if (!room.is_member && room.status === "open") {
        room = await this.enter(room);
      }
      const page = await huiliao.chatroom.getHistoryList(code, { limit: PAGE });
      this.setData({
        room,
        myMemberId: room.my_member_id,
        readOnly: room.status !== "open",
        ...withScrollTarget(page.results),
        hasOlder: page.has_more,
      });
      wx.setNavigationBarTitle({ title: room.name });
      if (room.status === "open") this.attach(page.results);
      else this.loadQuestions();
    },
    onUnload() {
      const session = sessions.get(this);
      if (session) session.close();
    },

    /** @param {any} room */
    async enter(room) {
      const huiliao = getApp().huiliao;
      if (!room.geofence) return huiliao.chatroom.enterChatRoom(room.code);
      const where = await new Promise((resolve, reject) =>
        wx.getLocation({ type: "gcj02", success: resolve, fail: reject }),
      );
      return huiliao.chatroom.enterChatRoom(room.code, {
        latitude: /** @type {any} */ (where).latitude,
        longitude: /** @type {any} */ (where).longitude,
      });
    },

    /** @param {any[]} shown */
    attach(shown) {
      const last = shown.length ? shown[shown.length - 1].seq : 0;
      const session = getApp().huiliao.chatroom.attach(
        this.data.code,
        {
          onOpen: () => {
            this.setData({ reconnecting: false });
            // Question frames are not replayed after a reconnect: read the list again.
            this.loadQuestions();
          },
          // A message, or my own held one again with my text (it replaces the placeholder).
          onMessage: (message) => {
            const others = this.data.messages.filter((m) => m.seq !== message.seq);
            this.setData(withScrollTarget([...others, message].sort((a, b) => a.seq - b.seq)));
          },
          onReconnecting: () => this.setData({ reconnecting: true }),
          onEvent: (frame) => this.onEvent(frame),
          onClose: (error) => {
            if (error && error.code === "room_closed") this.setData({ readOnly: true });
          },
        },
        { afterSeq: last },
      );
      sessions.set(this, session);
    },

    /** @param {any} frame */
    onEvent(frame) {
      if (frame.type === "announcement") {
        this.setData({ "room.announcement": frame.announcement });
      } else if (frame.type === "room_updated") {
        this.setData({
          "room.name": frame.room.name,
          "room.slow_mode_seconds": frame.room.slow_mode_seconds,
          "room.posting": frame.room.posting,
        });
      } else if (frame.type === "members") {
        this.setData({ "room.member_count": frame.count });
      } else if (frame.type === "message_hidden" || frame.type === "message_recalled") {
        const change = frame.type === "message_hidden" ? { hidden: true } : { recalled: true };
        const messages = this.data.messages.map((m) =>
          m.seq === frame.seq ? { ...m, ...change, body: "" } : m,
        );
        this.setData({ messages });
      } else if (frame.type === "question") {
        this.questionChanged(frame.question);
      } else if (frame.type === "question_votes") {
        const questions = this.data.questions.map((q) =>
          q.id === frame.id ? { ...q, votes: frame.votes } : q,
        );
        this.setData({ questions: sortTop(questions) });
      }
    },

    /* -- Q&A -- */

    /** @param {any} event */
    onTab(event) {
      this.setData({ tab: event.currentTarget.dataset.tab });
    },
    async loadQuestions() {
      const page = await getApp().huiliao.chatroom.listQuestions(this.data.code, { sort: "top" });
      this.setData({ questions: page.results, liveQa: page.results.length > 0 });
    },
    /** @param {any} question */
    questionChanged(question) {
      const others = this.data.questions.filter((q) => q.id !== question.id);
      const known = this.data.questions.find((q) => q.id === question.id);
      const merged = known ? { ...question, my_vote: known.my_vote } : question;
      const questions = question.status === "open" ? sortTop([...others, merged]) : others;
      this.setData({ questions, liveQa: questions.length > 0 });
    },
    /** @param {any} event */
    onQuestionDraft(event) {
      this.setData({ question: event.detail.value });
    },
    async onAsk() {
      const body = this.data.question.trim();
      if (!body) return;
      try {
        const question = await getApp().huiliao.chatroom.askQuestion(this.data.code, body);
        this.setData({ question: "" });
        this.questionChanged(question);
      } catch (error) {
        wx.showToast({ title: String(/** @type {any} */ (error).detail || error), icon: "none" });
      }
    },
    /** @param {any} event */
    async onVote(event) {
      const id = event.currentTarget.dataset.id;
      const known = this.data.questions.find((q) => q.id === id);
      const chatroom = getApp().huiliao.chatroom;
      try {
        const question = known && known.my_vote
          ? await chatroom.unvoteQuestion(this.data.code, id)
          : await chatroom.voteQuestion(this.data.code, id);
        this.questionChanged(question);
      } catch (error) {
        wx.showToast({ title: String(/** @type {any} */ (error).detail || error), icon: "none" });
      }
    },

    /* -- running the room (owner and moderators): slow mode, broadcast, close -- */

    onManage() {
      const room = this.data.room;
      if (!room || !room.can_moderate || this.data.readOnly) return;
      const t = this.data.t;
      const chatroom = getApp().huiliao.chatroom;
      const code = this.data.code;
      /** @type {Array<[string, () => Promise<any> | void]>} */
      const actions = [
        room.slow_mode_seconds
          ? [t.slowOff, () => chatroom.updateRoom(code, { slowModeSeconds: 0 })]
          : [t.slowOn, () => chatroom.updateRoom(code, { slowModeSeconds: 30 })],
        room.posting === "moderators"
          ? [t.broadcastOff, () => chatroom.updateRoom(code, { posting: "everyone" })]
          : [t.broadcastOn, () => chatroom.updateRoom(code, { posting: "moderators" })],
      ];
      if (room.can_manage) actions.push([t.closeRoom, () => this.confirmClose()]);
      wx.showActionSheet({
        itemList: actions.map(([label]) => label),
        success: async (res) => {
          try {
            const updated = await actions[res.tapIndex][1]();
            if (updated && updated.code) this.setData({ room: updated });
          } catch (error) {
            wx.showToast({ title: String(/** @type {any} */ (error).detail || error), icon: "none" });
          }
        },
      });
    },
    /** Closing ends everyone's chat: ask first, naming the room. */
    confirmClose() {
      const t = this.data.t;
      const room = this.data.room;
      wx.showModal({
        title: t.closeRoom,
        content: t.confirmClose.replace("%(name)s", room.name),
        success: async (res) => {
          if (!res.confirm) return;
          const closed = await getApp().huiliao.chatroom.closeRoom(this.data.code);
          this.setData({ room: closed, readOnly: true });
        },
      });
    },

    /* -- a message's actions: report, recall (mine), hide and mute (managers) -- */

    /** @param {any} event */
    onMessageTap(event) {
      const seq = Number(event.currentTarget.dataset.seq);
      const message = this.data.messages.find((m) => m.seq === seq);
      if (!message || message.kind !== "text" || message.recalled) return;
      const t = this.data.t;
      const mine = message.sender && message.sender.member_id === this.data.myMemberId;
      const manages = this.data.room && this.data.room.can_moderate;
      /** @type {Array<[string, () => Promise<any>]>} */
      const actions = [];
      const chatroom = getApp().huiliao.chatroom;
      const code = this.data.code;
      if (mine) actions.push([t.recall, () => chatroom.recallMessage(code, seq)]);
      else actions.push([t.report, () => chatroom.reportMessage(code, seq, "other")]);
      if (manages) actions.push([t.hide, () => chatroom.hideMessage(code, seq)]);
      const sender = message.sender;
      if (manages && sender && !mine && sender.role === "member") {
        actions.push([t.mute, () => chatroom.muteMember(code, sender.member_id, 10)]);
      }
      wx.showActionSheet({
        itemList: actions.map(([label]) => label),
        success: async (res) => {
          try {
            await actions[res.tapIndex][1]();
            wx.showToast({ title: t.done, icon: "none" });
          } catch (error) {
            wx.showToast({ title: String(/** @type {any} */ (error).detail || error), icon: "none" });
          }
        },
      });
    },

    /** @param {any} event */
    onDraft(event) {
      this.setData({ draft: event.detail.value });
    },
    async onSend() {
      const body = this.data.draft.trim();
      const session = sessions.get(this);
      if (!body || !session) return;
      this.setData({ draft: "" });
      try {
        await session.send(body);
      } catch (error) {
        wx.showToast({ title: String(/** @type {any} */ (error).detail || error), icon: "none" });
      }
    },
    async onOlder() {
      const first = this.data.messages[0];
      if (!first) return;
      const page = await getApp().huiliao.chatroom.getHistoryList(this.data.code, {
        before: first.seq,
        limit: PAGE,
      });
      this.setData({ messages: [...page.results, ...this.data.messages], hasOlder: page.has_more });
    },
    onRename() {
      wx.showModal({
        title: this.data.t.rename,
        editable: true,
        placeholderText: this.data.room ? this.data.room.my_display_name : "",
        success: async (res) => {
          if (!res.confirm || !res.content) return;
          try {
            const room = await getApp().huiliao.chatroom.enterChatRoom(this.data.code, {
              displayName: res.content,
            });
            this.setData({ room });
          } catch (error) {
            const taken = /** @type {any} */ (error).code === "display_name_taken";
            wx.showToast({ title: taken ? this.data.t.nameTaken : String(error), icon: "none" });
          }
        },
      });
    },
    async onLeave() {
      await getApp().huiliao.chatroom.leaveChatRoom(this.data.code);
      wx.navigateBack();
    },
  },
});
