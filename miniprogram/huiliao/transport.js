/* The one place that touches the platform. The SDK's core asks an adapter for three
 * things — an HTTP request, a socket, and key-value storage — so the same core runs
 * inside WeChat (`wxAdapter`) and in Node for the tests (a shim with the same shape). */
"use strict";

const { networkError } = require("./errors");

function wxAdapter(wxApi) {
  return {
    request({ method, url, data, header }) {
      return new Promise((resolve, reject) => {
        wxApi.request({
          method,
          url,
          data,
          header,
          dataType: "json",
          success: (res) => resolve({ status: res.statusCode, data: res.data, header: res.header }),
          fail: (err) => reject(networkError(err && err.errMsg)),
        });
      });
    },
    connectSocket({ url, header }) {
      // A SocketTask: onOpen, onMessage, onClose, onError, send, close.
      return wxApi.connectSocket({ url, header, tcpNoDelay: true });
    },
    getStorage(key) {
      try {
        return wxApi.getStorageSync(key) || null;
      } catch (e) {
        return null;
      }
    },
    setStorage(key, value) {
      try {
        if (value === null) wxApi.removeStorageSync(key);
        else wxApi.setStorageSync(key, value);
      } catch (e) {
        /* storage full or unavailable: the token lives on in memory */
      }
    },
    login() {
      return new Promise((resolve, reject) => {
        wxApi.login({
          success: (res) => resolve(res.code),
          fail: (err) => reject(networkError(err && err.errMsg)),
        });
      });
    },
  };
}

module.exports = { wxAdapter };
