/* Huiliao: helpers shared by every page. Plain JavaScript, no build step.
 * Pages get their data from the <script type="application/json" id="page-data"> element
 * (json_script): it is data, not code, so the Content Security Policy allows no inline
 * script at all. Text always goes into the DOM through textContent, never innerHTML. */
(function () {
  "use strict";

  function pageData() {
    var el = document.getElementById("page-data");
    return el ? JSON.parse(el.textContent) : {};
  }

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.indexOf(name + "=") === 0) return decodeURIComponent(part.slice(name.length + 1));
    }
    return "";
  }

  function csrfToken() {
    // Logging in rotates the token, so read the cookie on every request.
    var fromCookie = cookie("csrftoken");
    if (fromCookie) return fromCookie;
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function ApiError(status, body, retryAfter) {
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "offline" : "error");
    this.detail = (body && body.detail) || "";
    this.retryAfter = retryAfter || 0; // seconds, from a 429's Retry-After
  }

  /* fetch + JSON + our error shape {"detail","code"}. Rejects with ApiError; status 0 is
   * "the server could not be reached". */
  function api(method, url, body) {
    var headers = { Accept: "application/json" };
    if (method !== "GET" && method !== "HEAD") {
      headers["X-CSRFToken"] = csrfToken();
    }
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(
      function (response) {
        if (response.status === 204) return null;
        return response
          .json()
          .catch(function () { return null; })
          .then(function (data) {
            if (!response.ok) {
              var wait = parseInt(response.headers.get("Retry-After") || "0", 10);
              throw new ApiError(response.status, data, wait);
            }
            return data;
          });
      },
      function () { throw new ApiError(0, null); }
    );
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* "%(name)s" placeholders, as Django's gettext strings use them. */
  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) {
      return values && key in values ? String(values[key]) : "";
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function locate() {
    return new Promise(function (resolve, reject) {
      if (!navigator.geolocation) {
        reject({ code: "location_unavailable" });
        return;
      }
      navigator.geolocation.getCurrentPosition(
        function (pos) { resolve({ latitude: pos.coords.latitude, longitude: pos.coords.longitude }); },
        function (err) { reject({ code: err.code === 1 ? "location_denied" : "location_unavailable" }); },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // The language switcher: submit on change (the button is there without JavaScript).
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll("dialog [data-close]").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("dialog").close(); });
    });
  });

  window.Huiliao = {
    pageData: pageData, api: api, uuid: uuid, fmt: fmt, el: el, locate: locate, csrfToken: csrfToken,
  };
})();
