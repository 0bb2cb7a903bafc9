(function () {
  "use strict";
  var H = window.Huiliao;

  document.addEventListener("DOMContentLoaded", function () {
    var data = H.pageData();
    var t = data.strings;
    var button = document.getElementById("nearby-button");
    var status = document.getElementById("nearby-status");
    var list = document.getElementById("nearby-list");
    var loginBox = document.getElementById("nearby-login");
    var nickname = document.getElementById("nearby-nickname");
    var loggedIn = data.logged_in;

    function show(rooms) {
      list.replaceChildren();
      if (!rooms.length) {
        status.textContent = t.nearby_none;
        return;
      }
      status.textContent = "";
      rooms.forEach(function (room) {
        var item = H.el("li", "room-item");
        var link = H.el("a", "room-link");
        link.href = "/r/" + encodeURIComponent(room.code) + "/";
        link.appendChild(H.el("span", "room-item-name", room.name));
        var meta = [];
        if (typeof room.distance_m === "number") {
          meta.push(H.fmt(t.nearby_distance, { distance: Math.round(room.distance_m) }));
        }
        if (typeof room.member_count === "number") {
          meta.push(room.member_count === 1 ? t.members_one : H.fmt(t.members_many, { count: room.member_count }));
        }
        link.appendChild(H.el("span", "room-item-meta", meta.join(" · ")));
        link.appendChild(H.el("span", "room-item-join", t.nearby_join));
        item.appendChild(link);
        list.appendChild(item);
      });
    }

    function ensureLogin() {
      if (loggedIn) return Promise.resolve();
      var name = nickname.value.trim();
      if (!name) {
        loginBox.hidden = false;
        nickname.focus();
        return Promise.reject({ code: "need_nickname" });
      }
      return H.api("POST", data.guest_url, { nickname: name }).then(function () {
        loggedIn = true;
        loginBox.hidden = true;
      });
    }

    button.addEventListener("click", function () {
      status.textContent = t.locating;
      button.disabled = true;
      H.locate()
        .then(function (where) {
          return H.api("GET", data.nearby_url + "?latitude=" + where.latitude + "&longitude=" + where.longitude)
            .catch(function (err) {
              // Finding rooms needs a (guest) account: ask for a nickname once, then retry.
              if (err.status !== 401 && err.status !== 403) throw err;
              loggedIn = false;
              return ensureLogin().then(function () {
                return H.api("GET", data.nearby_url + "?latitude=" + where.latitude + "&longitude=" + where.longitude);
              });
            });
        })
        .then(function (body) {
          show(Array.isArray(body) ? body : body.results || []);
        })
        .catch(function (err) {
          if (err.code === "need_nickname") status.textContent = "";
          else status.textContent = t[err.code] || err.detail || t.error;
        })
        .finally(function () { button.disabled = false; });
    });
  });
})();
