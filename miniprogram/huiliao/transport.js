/* The one place that touches the platform. The SDK's core asks an adapter for three
 * things — an HTTP request, a socket, and key-value storage — so the same core runs
 * inside WeChat (`wxAdapter`) and in Node for the tests (a shim with the same shape). */
"use strict";

const { networkError } = require("./errors");

/**
 * @typedef {object} SocketTask
 * @property {(fn: (event: object) => void) => void} onOpen
 * @property {(fn: (event: {data: string | ArrayBuffer}) => void) => void} onMessage
 * @property {(fn: (event: {code?: number, reason?: string}) => void) => void} onClose
 * @property {(fn: (event: object) => void) => void} onError
 * @property {(options: {data: string}) => void} send
 * @property {(options: {code?: number}) => void} close
 */

/**
 * @typedef {object} Adapter
 * @property {(options: {method: string, url: string, data?: object | null, header: Record<string, string>}) => Promise<{status: number, data: any, header?: object}>} request
 * @property {(options: {url: string, header: Record<string, string>}) => SocketTask} connectSocket
 * @property {(key: string) => any} getStorage
 * @property {(key: string, value: any) => void} setStorage
 * @property {() => Promise<string>} login
 */

/**
 * The adapter over WeChat's own API.
 * @param {WechatMiniprogram.Wx} wxApi
 * @returns {Adapter}
 */
function wxAdapter(wxApi) {
  return {
    request({ method, url, data, header }) {
      return new Promise((resolve, reject) => {
        wxApi.request({
          method: /** @type {any} */ (method),
          url,
          data: data || undefined,
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
