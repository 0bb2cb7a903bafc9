/* Home: join by code, scan, rooms nearby, my rooms (owned / entered). */
"use strict";

const { strings } = require("../../utils/i18n.js");
const { roomCodeFrom, roomCodeFromOptions } = require("../../utils/codes.js");

Component({
  data: {
    t: strings(),
    code: "",
    nearby: /** @type {any[]} */ ([]),
    nearbyAsked: false,
    owned: /** @type {any[]} */ ([]),
    entered: /** @type {any[]} */ ([]),
  },
  methods: {
    /** @param {Record<string, string | undefined>} options */
    onLoad(options) {
      const code = roomCodeFromOptions(options);
      if (code) wx.navigateTo({ url: "/pages/room/room?code=" + code });
    },
    async onShow() {
      const app = getApp();
      await app.ready;
      const [owned, entered] = await Promise.all([
        app.huiliao.chatroom.listChatRoom(),
        app.huiliao.chatroom.listAllChatRoom(),
      ]);
      this.setData({ owned: owned.results, entered: entered.results });
    },
    /** @param {any} event */
    onCodeInput(event) {
      this.setData({ code: event.detail.value });
    },
    onJoin() {
      const code = roomCodeFrom(this.data.code);
      if (!code) {
        wx.showToast({ title: this.data.t.codePlaceholder, icon: "none" });
        return;
      }
      wx.navigateTo({ url: "/pages/room/room?code=" + code });
    },
    onScan() {
      wx.scanCode({
        success: (res) => {
          const code = roomCodeFrom(res.path) || roomCodeFrom(res.result);
          if (code) wx.navigateTo({ url: "/pages/room/room?code=" + code });
        },
      });
    },
    onNearby() {
      wx.getLocation({
        type: "gcj02",
        success: async (where) => {
          const app = getApp();
          const found = await app.huiliao.chatroom.listNearby({
            latitude: where.latitude,
            longitude: where.longitude,
          });
          this.setData({ nearby: found.results, nearbyAsked: true });
        },
      });
    },
    /** @param {any} event */
    onOpenRoom(event) {
      wx.navigateTo({ url: "/pages/room/room?code=" + event.currentTarget.dataset.code });
    },
    onCreate() {
      wx.navigateTo({ url: "/pages/create/create" });
    },
  },
});
