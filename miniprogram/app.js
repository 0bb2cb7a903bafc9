/* The app: one SDK client for every page, logged in through wx.login on launch. */
"use strict";

const { create, wxAdapter } = require("./huiliao/index.js");
const config = require("./config.js");
const { serverLanguage } = require("./utils/i18n.js");

App({
  huiliao: create({ baseUrl: config.baseUrl, adapter: wxAdapter(wx), lang: serverLanguage() }),

  /** @type {Promise<any> | null} */
  ready: null,

  onLaunch() {
    this.ready = this.huiliao.chatuser.login().catch((error) => {
      wx.showToast({ title: String(error.detail || error), icon: "none" });
      throw error;
    });
  },
});
