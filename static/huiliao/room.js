/* The room page: joining (guest nickname, location for geofenced rooms) and the chat.
 *
 * The server's database is the truth and messages are named by their per-room seq:
 * - the newest page comes from REST (?limit=30), older pages on scroll-up (?before=SEQ);
 * - the websocket streams every later message in seq order; after a drop we reconnect with
 *   backoff + jitter and resume with ?after_seq=<last seq seen on the stream>, so every
 *   message shows exactly once (a Map keyed by seq drops any repeat);
 * - sending is a REST POST with a client_id made once per message: a retry after a failure
 *   re-sends the same client_id, which the server stores at most once.
 */
(function () {
  "use strict";
  var H = window.Huiliao;
  var PAGE = 30;
  var PING_MS = 25000;
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 15000;

  var data, t, me;

  document.addEventListener("DOMContentLoaded", function () {
    data = H.pageData();
    t = data.strings;
    me = data.me;
    if (document.getElementById("join-form")) setUpJoin();
    if (document.getElementById("chat")) new Chat().start();
  });

  function errorText(err) {
    if (err.code === "outside_geofence") return t.outside;
    if (err.code === "location_required") return t.location_denied;
    if (err.code === "banned" || err.code === "not_member") return t.removed;
    if (err.code === "display_name_taken") return t.name_taken;
    return t[err.code] || err.detail || t.error;
  }

  /* ---- Joining ------------------------------------------------------------------- */

  function setUpJoin() {
    var form = document.getElementById("join-form");
    var input = document.getElementById("join-name");
    var button = document.getElementById("join-button");
    var status = document.getElementById("join-status");
    var error = document.getElementById("join-error");

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = input.value.trim();
      if (!name) {
        input.focus();
        return;
      }
      error.hidden = true;
      button.disabled = true;
      var login = me
        ? Promise.resolve()
        : H.api("POST", data.urls.guest, { nickname: name }).then(function (body) {
            me = { nickname: body.user.nickname };
          });
      login
        .then(function () {
          if (!data.needs_location) return {};
          status.textContent = t.locating;
          return H.locate();
        })
        .then(function (where) {
          status.textContent = "";
          var body = { display_name: name };
          if (where.latitude !== undefined) {
            body.latitude = where.latitude;
            body.longitude = where.longitude;
          }
          return H.api("POST", data.urls.enter, body);
        })
        .then(function () {
          // The server renders the room for members: reload into it.
          window.location.reload();
        })
        .catch(function (err) {
          status.textContent = "";
          error.textContent = errorText(err);
          error.hidden = false;
          button.disabled = false;
          if (err.code === "room_closed") window.location.reload();
        });
    });
  }

  /* ---- The chat ------------------------------------------------------------------ */

  function Chat() {
    this.list = document.getElementById("messages");
    this.byseq = new Map(); // seq -> node
    this.pending = new Map(); // client_id -> {body, node}
    this.firstSeq = null;
    this.streamSeq = 0; // the highest seq received in order (REST pages and the socket)
    this.hasOlder = false;
    this.loadingOlder = false;
    this.readOnly = data.status !== "open";
    this.socket = null;
    this.attempts = 0;
    this.everConnected = false;
    this.stopped = false;
    this.pingTimer = null;
    this.reconnectTimer = null;
  }

  Chat.prototype.start = function () {
    var self = this;
    this.setMembers(data.member_count);
    this.showAnnouncement(data.announcement, false);
    this.setUpComposer();
    this.setUpMenu();
    this.setUpShare();
    if (this.readOnly) this.makeReadOnly();
    else document.getElementById("composer").hidden = false;

    this.newBelow = document.getElementById("new-below");
    this.newBelow.addEventListener("click", function () { self.scrollToBottom(); });
    this.list.addEventListener("scroll", function () {
      if (self.list.scrollTop < 150) self.loadOlder();
      if (self.nearBottom()) self.newBelow.hidden = true;
    });
    window.addEventListener("online", function () { self.reconnectNow(); });

    H.api("GET", data.urls.messages + "?limit=" + PAGE)
      .then(function (page) {
        page.results.forEach(function (m) { self.addMessage(m, true); });
        self.hasOlder = page.has_more;
        if (!page.has_more) self.markBeginning();
        self.scrollToBottom();
        self.fillScreen();
        if (!self.readOnly) self.connect();
      })
      .catch(function (err) { self.fatal(err); });
  };

  Chat.prototype.fatal = function (err) {
    if (err.status === 403) this.removed();
    else if (err.status === 401) window.location.reload();
    else this.setConnection(errorText(err));
  };

  /* -- rendering -- */

  Chat.prototype.isMine = function (m) {
    return !!(me && me.member_id && m.sender && m.sender.member_id === me.member_id);
  };

  Chat.prototype.timeText = function (iso) {
    if (!iso) return "";
    var d = new Date(iso);
    var lang = document.documentElement.lang || undefined;
    var time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    if (d.toDateString() === new Date().toDateString()) return time;
    return d.toLocaleDateString(lang, { month: "short", day: "numeric" }) + " " + time;
  };

  Chat.prototype.render = function (m) {
    var item;
    if (m.kind === "system") {
      item = H.el("li", "msg msg-system");
      item.appendChild(H.el("span", "msg-system-text", m.body));
    } else {
      var mine = this.isMine(m);
      item = H.el("li", "msg " + (mine ? "msg-mine" : "msg-theirs"));
      if (!mine && m.sender) {
        // The sender's preset for this room (never their account photo); decorative, the
        // name beside it says who it is.
        if (m.sender.avatar_url) {
          var face = H.el("img", "msg-avatar");
          face.setAttribute("src", m.sender.avatar_url);
          face.setAttribute("alt", "");
          face.setAttribute("width", "32");
          face.setAttribute("height", "32");
          item.appendChild(face);
          item.classList.add("has-avatar");
        }
        var who = H.el("span", "msg-name", m.sender.display_name);
        // The organiser's badge comes from their role, which no display name can copy.
        var badge = t["role_" + m.sender.role];
        if (badge) who.appendChild(H.el("span", "msg-badge msg-badge-" + m.sender.role, badge));
        item.appendChild(who);
      }
      var bubble = H.el("div", "msg-bubble");
      if (m.hidden) {
        bubble.classList.add("msg-hidden");
        bubble.textContent = t.hidden;
      } else {
        bubble.textContent = m.body;
      }
      item.appendChild(bubble);
      var meta = H.el("span", "msg-meta", this.timeText(m.created_at));
      item.appendChild(meta);
      item.dataset.state = "sent";
    }
    item.dataset.seq = String(m.seq);
    if (m.client_id) item.dataset.clientId = m.client_id;
    // Grouped by sender, name and picture: a change starts a new group that shows them.
    if (m.sender) {
      item.dataset.sender = [
        m.sender.member_id, m.sender.avatar || "", m.sender.display_name, m.sender.role
      ].join(" ");
    }
    return item;
  };

  /* Consecutive messages from one sender show the name once, like any chat app. */
  Chat.prototype.regroup = function (node) {
    [node, node.nextElementSibling].forEach(function (item) {
      if (!item || !item.dataset.sender) return;
      var prev = item.previousElementSibling;
      var same = !!(prev && prev.dataset.sender === item.dataset.sender);
      item.classList.toggle("msg-cont", same);
    });
  };

  /* Insert in seq order, above any message still being sent. */
  Chat.prototype.insert = function (node, seq) {
    var children = this.list.children;
    var before = null;
    for (var i = children.length - 1; i >= 0; i--) {
      var child = children[i];
      var s = child.dataset.seq ? Number(child.dataset.seq) : Infinity;
      if (s < seq) break;
      if (child.classList.contains("beginning")) break;
      before = child;
    }
    this.list.insertBefore(node, before);
    this.regroup(node);
  };

  Chat.prototype.nearBottom = function () {
    var l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 120;
  };

  Chat.prototype.scrollToBottom = function () {
    this.list.scrollTop = this.list.scrollHeight;
    if (this.newBelow) this.newBelow.hidden = true;
  };

  /* The one way a message enters the page: a REST page, the socket, or a POST reply.
   * `inOrder` says it came from an ordered source, so the resume point may move. */
  Chat.prototype.addMessage = function (m, inOrder) {
    if (inOrder && m.seq > this.streamSeq) this.streamSeq = m.seq;
    if (this.firstSeq === null || m.seq < this.firstSeq) this.firstSeq = m.seq;
    var existing = this.byseq.get(m.seq);
    if (existing) return;
    var stick = this.nearBottom();
    var node = this.render(m);
    var pending = m.client_id && this.isMine(m) ? this.pending.get(m.client_id) : null;
    if (pending) {
      this.pending.delete(m.client_id);
      pending.node.remove();
      stick = true;
    }
    this.byseq.set(m.seq, node);
    this.insert(node, m.seq);
    if (stick) this.scrollToBottom();
    // Reading further up: say that something new arrived below instead of jumping.
    else if (inOrder && this.everConnected) this.newBelow.hidden = false;
  };

  Chat.prototype.replaceMessage = function (m) {
    var old = this.byseq.get(m.seq);
    if (!old) return;
    var node = this.render(m);
    old.replaceWith(node);
    this.byseq.set(m.seq, node);
  };

  Chat.prototype.hideMessage = function (seq) {
    var node = this.byseq.get(seq);
    if (!node) return;
    var bubble = node.querySelector(".msg-bubble");
    if (bubble) {
      bubble.classList.add("msg-hidden");
      bubble.textContent = t.hidden;
    }
  };

  Chat.prototype.markBeginning = function () {
    if (this.list.querySelector(".beginning")) return;
    var node = H.el("li", "beginning", t.beginning);
    this.list.insertBefore(node, this.list.firstChild);
  };

  Chat.prototype.loadOlder = function () {
    var self = this;
    if (!this.hasOlder || this.loadingOlder || this.firstSeq === null) return;
    this.loadingOlder = true;
    var spinner = H.el("li", "loading-older", t.load_older);
    this.list.insertBefore(spinner, this.list.firstChild);
    H.api("GET", data.urls.messages + "?before=" + this.firstSeq + "&limit=" + PAGE)
      .then(function (page) {
        var height = self.list.scrollHeight;
        var top = self.list.scrollTop;
        spinner.remove();
        page.results.forEach(function (m) {
          if (self.byseq.has(m.seq)) return;
          var node = self.render(m);
          self.byseq.set(m.seq, node);
          self.insert(node, m.seq);
          if (m.seq < self.firstSeq) self.firstSeq = m.seq;
        });
        self.hasOlder = page.has_more;
        if (!page.has_more) self.markBeginning();
        // Keep the message the reader was looking at in place.
        self.list.scrollTop = top + (self.list.scrollHeight - height);
      })
      .catch(function () { spinner.remove(); })
      .finally(function () {
        self.loadingOlder = false;
        self.fillScreen();
      });
  };

  /* On a tall screen the first page may not scroll at all: keep loading until it does. */
  Chat.prototype.fillScreen = function () {
    if (this.hasOlder && this.list.scrollHeight <= this.list.clientHeight + 10) this.loadOlder();
  };

  Chat.prototype.setMembers = function (count) {
    if (typeof count !== "number") return;
    document.getElementById("member-count").textContent =
      count === 1 ? t.members_one : H.fmt(t.members_many, { count: count });
  };

  Chat.prototype.showAnnouncement = function (a, live) {
    var box = document.getElementById("announcement");
    var text = a && a.text ? a.text : "";
    box.hidden = !text;
    document.getElementById("announcement-text").textContent = text;
    if (!text) return;
    // Like the original client: highlight an announcement newer than the last one seen.
    var key = "huiliao.seen-announcement." + data.code;
    var seen = null;
    try { seen = window.localStorage.getItem(key); } catch (e) { /* private mode */ }
    var fresh = live || (a.updated_at && a.updated_at !== seen && seen !== null);
    box.classList.toggle("announcement-new", !!fresh);
    box.querySelector(".announcement-label").dataset.fresh = fresh ? t.announcement_new : "";
    var markSeen = function () {
      box.classList.remove("announcement-new");
      try { window.localStorage.setItem(key, a.updated_at || ""); } catch (e) { /* ignore */ }
    };
    if (!fresh) markSeen();
    box.onclick = markSeen;
  };

  Chat.prototype.setConnection = function (text) {
    var bar = document.getElementById("connection");
    bar.hidden = !text;
    bar.textContent = text || "";
  };

  Chat.prototype.makeReadOnly = function () {
    if (!this.readOnly) {
      // Ended while open here: expired or closed by the organiser, the frame does not say.
      document.getElementById("closed-notice").textContent = t.closed;
    }
    this.readOnly = true;
    this.stopped = true;
    document.getElementById("composer").hidden = true;
    document.getElementById("closed-notice").hidden = false;
    var rename = document.getElementById("rename-form");
    if (rename) rename.hidden = true;
    this.setConnection("");
    if (this.socket) this.socket.close(1000);
    var self = this;
    this.pending.forEach(function (p) { self.setPendingState(p, "failed", t.closed); });
  };

  Chat.prototype.removed = function () {
    this.stopped = true;
    this.readOnly = true;
    document.getElementById("composer").hidden = true;
    var notice = document.getElementById("closed-notice");
    notice.textContent = t.removed;
    notice.hidden = false;
    this.setConnection("");
  };

  /* -- the socket -- */

  Chat.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + data.urls.socket + "?after_seq=" + this.streamSeq;
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      self.onFrame(frame);
    };
    socket.onclose = function (event) {
      if (self.socket !== socket) return;
      self.socket = null;
      clearInterval(self.pingTimer);
      self.onClose(event.code);
    };
  };

  Chat.prototype.onFrame = function (frame) {
    switch (frame.type) {
      case "hello":
        if (me) me.member_id = frame.my_member_id;
        this.attempts = 0;
        this.everConnected = true;
        this.setConnection("");
        this.setMembers(frame.members);
        this.startPing();
        this.retryFailed();
        break;
      case "message":
        this.addMessage(frame.message, true);
        break;
      case "message_restored":
        this.replaceMessage(frame.message);
        break;
      case "message_hidden":
        this.hideMessage(frame.seq);
        break;
      case "announcement":
        this.showAnnouncement(frame.announcement, true);
        break;
      case "members":
        this.setMembers(frame.count);
        break;
      case "resume_truncated":
        this.fillGap(frame.first_seq);
        break;
      case "room_closed":
        this.makeReadOnly();
        break;
      case "error":
        this.toast(t[frame.code] || frame.detail || t.error);
        break;
      default:
        break;
    }
  };

  Chat.prototype.onClose = function (code) {
    if (code === 4410) return this.makeReadOnly();
    if (code === 4403) return this.removed();
    if (code === 4401) return window.location.reload();
    if (code === 4404) return this.setConnection(t.error);
    if (this.stopped) return;
    this.scheduleReconnect(code === 4408);
  };

  Chat.prototype.scheduleReconnect = function (soon) {
    var self = this;
    this.setConnection(t.reconnecting);
    clearTimeout(this.reconnectTimer);
    // Exponential backoff with jitter, so a restarted server is not hit by every client
    // in the same instant.
    var cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, this.attempts));
    var delay = soon ? 100 : cap / 2 + Math.random() * (cap / 2);
    this.attempts += 1;
    this.reconnectTimer = setTimeout(function () { self.connect(); }, delay);
  };

  Chat.prototype.reconnectNow = function () {
    if (this.socket || this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.attempts = 0;
    this.connect();
  };

  Chat.prototype.startPing = function () {
    var self = this;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(function () {
      if (self.socket && self.socket.readyState === WebSocket.OPEN) {
        self.socket.send(JSON.stringify({ type: "ping" }));
      }
    }, PING_MS);
  };

  /* The server could not replay everything since our seq: fetch the gap over REST. */
  Chat.prototype.fillGap = function (firstSeq) {
    var self = this;
    var from = this.streamSeq;
    function step(after) {
      if (after >= firstSeq - 1) return Promise.resolve();
      return H.api("GET", data.urls.messages + "?after=" + after + "&limit=100").then(function (page) {
        page.results.forEach(function (m) { if (m.seq < firstSeq) self.addMessage(m, false); });
        var last = page.results.length ? page.results[page.results.length - 1].seq : firstSeq;
        if (page.has_more && last < firstSeq - 1) return step(last);
      });
    }
    step(from).catch(function () { /* the next resume fills it */ });
  };

  /* -- sending -- */

  Chat.prototype.setUpComposer = function () {
    var self = this;
    var form = document.getElementById("composer");
    var input = document.getElementById("composer-input");
    function grow() {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 140) + "px";
    }
    input.addEventListener("input", grow);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = input.value.trim();
      if (!body || self.readOnly) return;
      input.value = "";
      grow();
      self.send(body);
      input.focus();
    });
  };

  Chat.prototype.send = function (body) {
    var entry = { body: body, clientId: H.uuid(), node: null, state: "pending" };
    var node = H.el("li", "msg msg-mine");
    node.appendChild(H.el("div", "msg-bubble", body));
    node.appendChild(H.el("span", "msg-meta"));
    node.dataset.clientId = entry.clientId;
    entry.node = node;
    this.pending.set(entry.clientId, entry);
    var self = this;
    node.addEventListener("click", function () {
      if (entry.state === "failed" && !self.readOnly) self.post(entry);
    });
    this.list.appendChild(node);
    this.scrollToBottom();
    this.post(entry);
  };

  Chat.prototype.setPendingState = function (entry, state, text) {
    entry.state = state;
    entry.node.dataset.state = state;
    entry.node.querySelector(".msg-meta").textContent = text;
  };

  Chat.prototype.post = function (entry) {
    var self = this;
    this.setPendingState(entry, "pending", t.sending);
    H.api("POST", data.urls.messages, { body: entry.body, client_id: entry.clientId })
      .then(function (reply) {
        var m = reply && reply.message ? reply.message : reply;
        if (m && typeof m.seq === "number") self.addMessage(m, false);
      })
      .catch(function (err) {
        if (!self.pending.has(entry.clientId)) return;
        if (err.code === "room_closed") self.makeReadOnly();
        self.setPendingState(entry, "failed", err.status === 0 || err.status >= 500 ? t.failed : errorText(err) + " " + t.failed);
      });
  };

  /* After a reconnect, re-send what failed meanwhile, with the same client_ids. */
  Chat.prototype.retryFailed = function () {
    var self = this;
    this.pending.forEach(function (entry) {
      if (entry.state === "failed") self.post(entry);
    });
  };

  Chat.prototype.toast = function (text) {
    var box = H.el("div", "toast", text);
    box.setAttribute("role", "alert");
    document.body.appendChild(box);
    setTimeout(function () { box.remove(); }, 4000);
  };

  /* -- the menu: display name, leave; the organiser's QR -- */

  Chat.prototype.setUpMenu = function () {
    var dialog = document.getElementById("menu-dialog");
    var input = document.getElementById("rename-input");
    var error = document.getElementById("rename-error");
    var form = document.getElementById("rename-form");
    var self = this;
    var choices = form.querySelectorAll("input[name=avatar]");
    document.getElementById("menu-button").addEventListener("click", function () {
      input.value = me.display_name || "";
      choices.forEach(function (choice) { choice.checked = choice.value === me.avatar; });
      error.hidden = true;
      dialog.showModal();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = input.value.trim();
      if (!name) return;
      // Entering again is how a member changes their display name and picture.
      var body = { display_name: name };
      var picked = form.querySelector("input[name=avatar]:checked");
      if (picked) body.avatar = picked.value;
      H.api("POST", data.urls.enter, body)
        .then(function (room) {
          me.display_name = room.my_display_name || name;
          me.avatar = room.my_avatar;
          dialog.close();
        })
        .catch(function (err) {
          error.textContent = errorText(err);
          error.hidden = false;
        });
    });
    document.getElementById("leave-button").addEventListener("click", function () {
      if (!window.confirm(t.confirm_leave)) return;
      self.stopped = true;
      H.api("POST", data.urls.leave)
        .then(function () { window.location.href = "/"; })
        .catch(function (err) {
          self.stopped = false;
          error.textContent = errorText(err);
          error.hidden = false;
        });
    });
  };

  Chat.prototype.setUpShare = function () {
    var button = document.getElementById("share-button");
    if (!button) return;
    var dialog = document.getElementById("share-dialog");
    var img = document.getElementById("qr-image");
    var status = document.getElementById("qr-status");
    var loaded = false;
    button.addEventListener("click", function () {
      dialog.showModal();
      if (loaded) return;
      H.api("GET", data.urls.qrcode)
        .then(function (body) {
          img.src = body.url;
          img.hidden = false;
          loaded = true;
          status.textContent = "";
        })
        .catch(function (err) { status.textContent = errorText(err); });
    });
  };
})();
