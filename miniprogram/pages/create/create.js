/* Create a room: name, expiry, and a geofence from wx.getLocation or wx.chooseLocation. */
"use strict";

const { strings } = require("../../utils/i18n.js");

const EXPIRY_HOURS = [4, 24, 72, 168];

Component({
  data: {
    t: strings(),
    name: "",
    expiryHours: EXPIRY_HOURS,
    expiryIndex: 1,
    fenced: false,
    latitude: /** @type {number | null} */ (null),
    longitude: /** @type {number | null} */ (null),
    radius: 300,
    busy: false,
  },
  methods: {
    /** @param {any} event */
    onName(event) {
      this.setData({ name: event.detail.value });
    },
    /** @param {any} event */
    onExpiry(event) {
      this.setData({ expiryIndex: Number(event.detail.value) });
    },
    /** @param {any} event */
    onFence(event) {
      this.setData({ fenced: event.detail.value });
    },
    /** @param {any} event */
    onRadius(event) {
      this.setData({ radius: Number(event.detail.value) });
    },
    onUseLocation() {
      wx.getLocation({
        type: "gcj02",
        success: (where) => this.setData({ latitude: where.latitude, longitude: where.longitude }),
      });
    },
    onPickLocation() {
      wx.chooseLocation({
        success: (where) => this.setData({ latitude: where.latitude, longitude: where.longitude }),
      });
    },
    async onSubmit() {
      const { name, fenced, latitude, longitude, radius } = this.data;
      if (!name.trim() || this.data.busy) return;
      const hours = EXPIRY_HOURS[this.data.expiryIndex];
      const expiresAt = new Date(Date.now() + hours * 3600 * 1000).toISOString();
      const geofence =
        fenced && latitude !== null && longitude !== null
          ? { latitude, longitude, radius_m: radius }
          : undefined;
      this.setData({ busy: true });
      try {
        const room = await getApp().huiliao.chatroom.createRoom({ name, expiresAt, geofence });
        wx.redirectTo({ url: "/pages/room/room?code=" + room.code });
      } catch (error) {
        wx.showToast({ title: String(/** @type {any} */ (error).detail || error), icon: "none" });
      } finally {
        this.setData({ busy: false });
      }
    },
  },
});
