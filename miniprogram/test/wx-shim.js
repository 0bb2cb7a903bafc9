/* A `wx` for Node with the shape the SDK's wxAdapter uses: wx.request over fetch,
 * wx.connectSocket over the WebSocket built into Node (run with --experimental-websocket),
 * storage in memory, wx.login answering a code the fake WeChat accepts. Real HTTP and real
 * sockets against a real server: only the WeChat client itself is stood in for. */
"use strict";

function createWx({ loginCode = "code-from-wx-login" } = {}) {
  const storage = new Map();
  const sockets = [];
  return {
    sockets,
    request({ method, url, data, header, success, fail }) {
      const init = { method, headers: header };
      if (data !== undefined && data !== null && method !== "GET") init.body = JSON.stringify(data);
      fetch(url, init)
        .then(async (res) => {
          const text = await res.text();
          let body = text;
          try {
            body = text ? JSON.parse(text) : "";
          } catch (e) {
            /* not JSON: wx hands over the text */
          }
          success({ statusCode: res.status, data: body, header: Object.fromEntries(res.headers) });
        })
        .catch((err) => fail({ errMsg: "request:fail " + err.message }));
    },
    connectSocket({ url, header }) {
      const ws = new WebSocket(url, { headers: header });
      const task = {
        ws,
        onOpen: (fn) => ws.addEventListener("open", () => fn({})),
        onMessage: (fn) => ws.addEventListener("message", (event) => fn({ data: event.data })),
        onClose: (fn) => ws.addEventListener("close", (event) => fn({ code: event.code, reason: event.reason })),
        onError: (fn) => ws.addEventListener("error", () => fn({ errMsg: "socket error" })),
        send: ({ data }) => ws.send(data),
        close: ({ code } = {}) => {
          try {
            ws.close(code || 1000);
          } catch (e) {
            ws.close();
          }
        },
      };
      sockets.push(task);
      return task;
    },
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ""),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
    login: ({ success }) => setTimeout(() => success({ code: loginCode }), 0),
  };
}

module.exports = { createWx };
