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
  var QUEUE_POLL_MS = 20000;
  var BODY_MAX = 2000;
  var COUNT_FROM = 1800;

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
    if (err.code === "muted" && me && me.muted_until) {
      return H.fmt(t.muted_until, { time: new Date(me.muted_until).toLocaleTimeString() });
    }
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
    this.messages = new Map(); // seq -> the message as last heard (for re-rendering)
    this.slowMode = data.slow_mode_seconds || 0;
    this.posting = data.posting || "everyone";
    this.cooldownUntil = 0; // slow mode: when I may post again
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
    // Frames about the room's state, counted: a room read that was on its way when one
    // came may hold the older state, and must not undo it (refreshRoom).
    this.stateFrames = { room_updated: 0, announcement: 0, member_updated: 0 };
  }

  Chat.prototype.start = function () {
    var self = this;
    this.setMembers(data.member_count);
    this.showAnnouncement(data.announcement, false);
    this.setUpComposer();
    this.setUpMenu();
    this.setUpShare();
    this.setUpModeration();
    this.setUpQuestions();
    this.setUpContacts();
    this.setUpSearch();
    if (this.readOnly) this.makeReadOnly();
    else this.updateComposer();

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
      var note = "";
      if (m.recalled) {
        bubble.classList.add("msg-hidden");
        bubble.textContent = mine ? t.recalled_mine : t.recalled;
      } else if (m.hidden && m.review === "pending" && mine && m.body) {
        // Held for review: its sender still sees what they wrote, and why nobody else does.
        bubble.classList.add("msg-held");
        bubble.textContent = m.body;
        note = t.held;
      } else if (m.hidden && m.body) {
        // A moderator's view of what they (or the room) hid: the text, marked.
        bubble.classList.add("msg-held");
        bubble.textContent = m.body;
        note = m.review === "pending" ? t.held_other : t.hidden;
      } else if (m.hidden) {
        bubble.classList.add("msg-hidden");
        bubble.textContent = m.review === "pending" ? t.held_other : t.hidden;
      } else {
        linkify(bubble, m.body);
      }
      if (m.reply_to) item.appendChild(this.quote(m.reply_to));
      if (me && me.member_id && (m.mentions || []).indexOf(me.member_id) >= 0) {
        item.classList.add("msg-mention");
      }
      item.appendChild(bubble);
      var meta = H.el("span", "msg-meta", this.timeText(m.created_at) + (note ? " · " + note : ""));
      item.appendChild(meta);
      item.classList.add("msg-actionable");
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

  /* URLs become links (http and https only); everything else stays text. */
  var URL_PATTERN = /\bhttps?:\/\/[^\s<>"'）」】]+/gi;

  function linkify(node, text) {
    var last = 0;
    text.replace(URL_PATTERN, function (url, at) {
      // A sentence's closing punctuation is not part of the link.
      var trimmed = url.replace(/[.,;:!?)\]'"。，；：！？]+$/, "");
      if (at > last) node.appendChild(document.createTextNode(text.slice(last, at)));
      var link = document.createElement("a");
      link.href = trimmed;
      link.textContent = trimmed;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      node.appendChild(link);
      last = at + trimmed.length;
      return url;
    });
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  /* The quoted message above a reply: tap to go to it. */
  Chat.prototype.quote = function (seq) {
    var self = this;
    var quote = H.el("span", "msg-quote");
    var original = this.messages.get(seq);
    function fill(m) {
      var text = m.recalled ? t.recalled : m.hidden ? t.hidden : m.body;
      quote.textContent = (m.sender ? m.sender.display_name + ": " : "") + text;
    }
    if (original) fill(original);
    else {
      quote.textContent = t.original_gone;
      H.api("GET", data.urls.messages + "/" + seq).then(fill).catch(function () {});
    }
    quote.addEventListener("click", function (event) {
      event.stopPropagation();
      self.goTo(seq);
    });
    return quote;
  };

  Chat.prototype.goTo = function (seq) {
    var node = this.byseq.get(seq);
    if (!node) return;
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.classList.remove("msg-flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("msg-flash");
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
    if (existing) {
      // The room's placeholder of my held message, then my own view of it (or the other
      // way round): keep whichever shows my text.
      var known = this.messages.get(m.seq);
      if (m.body && known && !known.body) this.replaceMessage(m);
      return;
    }
    this.messages.set(m.seq, m);
    if (inOrder && this.everConnected && me && (m.mentions || []).indexOf(me.member_id) >= 0) {
      this.mentioned();
    }
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
    this.messages.set(m.seq, m);
    var node = this.render(m);
    old.replaceWith(node);
    this.byseq.set(m.seq, node);
    this.regroup(node);
  };

  /* A change to a message we show: hidden (a moderator keeps seeing its text), recalled. */
  Chat.prototype.changeMessage = function (seq, change) {
    var m = this.messages.get(seq);
    if (!m) return;
    var next = Object.assign({}, m, change);
    if (next.recalled || (next.hidden && !(me && me.can_moderate))) next.body = "";
    this.replaceMessage(next);
  };

  Chat.prototype.hideMessage = function (seq) {
    this.changeMessage(seq, { hidden: true });
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
          self.messages.set(m.seq, m);
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

  Chat.prototype.setMembers = function (count, online) {
    if (typeof count !== "number") return;
    var text = count === 1 ? t.members_one : H.fmt(t.members_many, { count: count });
    if (typeof online === "number") this.online = online;
    if (typeof this.online === "number") text += " · " + H.fmt(t.online_count, { count: this.online });
    document.getElementById("member-count").textContent = text;
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
    // Read: one line, so a long schedule does not take a fifth of a phone's screen; a tap
    // opens it (and a new one arrives open).
    box.classList.toggle("announcement-collapsed", !fresh);
    if (!fresh) markSeen();
    box.onclick = function () {
      if (box.classList.contains("announcement-new")) {
        markSeen();
        box.classList.add("announcement-collapsed");
      } else {
        box.classList.toggle("announcement-collapsed");
      }
    };
  };

  Chat.prototype.setConnection = function (text) {
    var bar = document.getElementById("connection");
    bar.hidden = !text;
    bar.textContent = text || "";
  };

  Chat.prototype.makeReadOnly = function () {
    if (!this.readOnly) {
      // Ended while open here: expired or closed by the organiser, the frame does not say.
      document.getElementById("closed-text").textContent = t.closed;
    }
    this.readOnly = true;
    this.stopped = true;
    document.getElementById("composer").hidden = true;
    document.getElementById("readonly-bar").hidden = true;
    document.getElementById("closed-notice").hidden = false;
    var reopen = document.getElementById("reopen-button");
    // Reopening undoes a close, never an expiry.
    if (reopen) reopen.hidden = this.expired();
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
    document.getElementById("readonly-bar").hidden = true;
    var notice = document.getElementById("closed-notice");
    document.getElementById("closed-text").textContent = t.removed;
    var reopen = document.getElementById("reopen-button");
    if (reopen) reopen.hidden = true;
    notice.hidden = false;
    this.setConnection("");
  };

  /* -- the socket -- */

  Chat.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    // Notices ("Ann joined") come worded in the page's language.
    var lang = encodeURIComponent(document.documentElement.lang || "en");
    var url = scheme + window.location.host + data.urls.socket + "?after_seq=" + this.streamSeq + "&lang=" + lang;
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
    if (Object.prototype.hasOwnProperty.call(this.stateFrames, frame.type)) this.stateFrames[frame.type] += 1;
    switch (frame.type) {
      case "hello":
        if (me) me.member_id = frame.my_member_id;
        this.attempts = 0;
        this.everConnected = true;
        this.setConnection("");
        this.setMembers(frame.members, frame.online);
        this.startPing();
        this.retryFailed();
        this.refreshRoom();
        break;
      case "message":
        this.addMessage(frame.message, true);
        if (frame.message.review === "pending") this.refreshQueueCount();
        break;
      case "message_restored":
        this.replaceMessage(frame.message);
        break;
      case "message_hidden":
        this.hideMessage(frame.seq);
        this.refreshQueueCount();
        break;
      case "message_recalled":
        this.changeMessage(frame.seq, { recalled: true });
        break;
      case "room_updated":
        this.roomUpdated(frame.room);
        break;
      case "question":
        this.questionChanged(frame.question);
        break;
      case "question_votes":
        this.questionVotes(frame.id, frame.votes);
        break;
      case "contact_request":
        this.toast(H.fmt(t.contact_request, { name: frame.request.member.display_name }));
        this.refreshContacts();
        break;
      case "contact_shared":
        this.toast(H.fmt(t.contact_shared, { name: frame.request.member.display_name }));
        this.refreshContacts();
        break;
      case "member_updated":
        this.memberUpdated(frame);
        break;
      case "announcement":
        this.showAnnouncement(frame.announcement, true);
        break;
      case "members":
        this.setMembers(frame.count, frame.online);
        break;
      case "resume_truncated":
        this.fillGap(frame.first_seq);
        break;
      case "room_closed":
        this.makeReadOnly();
        break;
      case "error":
        this.toast(errorText(frame));
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
    input.addEventListener("input", function () {
      self.countCharacters();
      self.suggestMentions();
    });
    document.getElementById("reply-cancel").addEventListener("click", function () {
      self.cancelReply();
    });
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
      // Never cut a long text silently: it stays in the box until it fits.
      if (body.length > BODY_MAX) return;
      input.value = "";
      grow();
      self.send(body);
      input.focus();
    });
  };

  Chat.prototype.send = function (body) {
    var entry = {
      body: body,
      clientId: H.uuid(),
      node: null,
      state: "pending",
      replyTo: this.replyTo ? this.replyTo.seq : null,
      mentions: this.mentionsIn(body),
    };
    this.cancelReply();
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
    var self = this;
    entry.state = state;
    entry.node.dataset.state = state;
    var meta = entry.node.querySelector(".msg-meta");
    meta.textContent = text;
    if (state === "failed") {
      // A message that will not go (too long, refused, a closed room) can be thrown away.
      meta.appendChild(button(t.delete, "ghost small msg-delete", function (event) {
        event.stopPropagation();
        self.pending.delete(entry.clientId);
        entry.node.remove();
      }));
    }
  };

  Chat.prototype.post = function (entry) {
    var self = this;
    this.setPendingState(entry, "pending", t.sending);
    H.api("POST", data.urls.messages, {
      body: entry.body,
      client_id: entry.clientId,
      reply_to: entry.replyTo,
      mentions: entry.mentions,
    })
      .then(function (reply) {
        var m = reply && reply.message ? reply.message : reply;
        if (m && typeof m.seq === "number") self.addMessage(m, false);
        self.startCooldown(self.slowMode);
      })
      .catch(function (err) {
        if (!self.pending.has(entry.clientId)) return;
        if (err.code === "room_closed") self.makeReadOnly();
        if (err.code === "slow_mode") self.startCooldown(err.retryAfter || self.slowMode);
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
    var card = document.getElementById("card-input");
    var cardLoaded = "";
    // Read once: reading it on every opening could overwrite what is being typed.
    if (me && me.is_member) {
      H.api("GET", data.urls.me_in_room)
        .then(function (mine) {
          cardLoaded = mine.contact_card;
          if (!card.value) card.value = cardLoaded;
        })
        .catch(function () { /* the field starts empty; saving sets it */ });
    }
    document.getElementById("menu-button").addEventListener("click", function () {
      card.value = cardLoaded;
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
          if (card.value.trim() === cardLoaded.trim()) return null;
          return H.api("PATCH", data.urls.me_in_room, { contact_card: card.value });
        })
        .then(function (mine) {
          if (mine) cardLoaded = mine.contact_card;
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

  /* -- composing: replies, @mentions, the length -- */

  Chat.prototype.startReply = function (m) {
    this.replyTo = m;
    var text = H.fmt(t.replying_to, {
      name: m.sender ? m.sender.display_name : "",
      text: m.body.slice(0, 80),
    });
    document.getElementById("reply-text").textContent = text;
    document.getElementById("reply-bar").hidden = false;
    document.getElementById("composer-input").focus();
  };

  Chat.prototype.cancelReply = function () {
    this.replyTo = null;
    document.getElementById("reply-bar").hidden = true;
  };

  Chat.prototype.countCharacters = function () {
    var input = document.getElementById("composer-input");
    var counter = document.getElementById("composer-count");
    var length = input.value.trim().length;
    var over = length > BODY_MAX;
    counter.hidden = length < COUNT_FROM;
    counter.classList.toggle("over", over);
    counter.textContent = H.fmt(over ? t.too_long : t.count, { count: length, max: BODY_MAX });
    if (Date.now() >= this.cooldownUntil) document.getElementById("composer-send").disabled = over;
  };

  /* "@al" before the caret offers the members whose names start so; picking one writes
   * "@Alice " and remembers her member_id (what the server stores). */
  Chat.prototype.suggestMentions = function () {
    var self = this;
    var input = document.getElementById("composer-input");
    var list = document.getElementById("mention-list");
    var before = input.value.slice(0, input.selectionStart);
    var match = /(^|\s)@([^\s@]{0,32})$/.exec(before);
    if (!match) {
      list.hidden = true;
      return;
    }
    var typed = match[2].toLowerCase();
    this.loadMembers().then(function (members) {
      var found = members.filter(function (member) {
        return member.member_id !== (me && me.member_id) &&
          member.display_name.toLowerCase().indexOf(typed) === 0;
      }).slice(0, 8);
      list.replaceChildren();
      found.forEach(function (member) {
        var option = H.el("li", null, member.display_name);
        option.setAttribute("role", "option");
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          var start = before.length - typed.length - 1;
          var rest = input.value.slice(input.selectionStart);
          input.value = input.value.slice(0, start) + "@" + member.display_name + " " + rest;
          self.mentionIds.set(member.display_name, member.member_id);
          list.hidden = true;
          input.focus();
        });
        list.appendChild(option);
      });
      list.hidden = !found.length;
    });
  };

  Chat.prototype.loadMembers = function () {
    var self = this;
    if (!this.mentionIds) this.mentionIds = new Map();
    if (!this.membersPromise || Date.now() - this.membersAt > 60000) {
      this.membersAt = Date.now();
      this.membersPromise = H.api("GET", data.urls.members + "?limit=100")
        .then(function (page) { return page.results; })
        .catch(function () { self.membersPromise = null; return []; });
    }
    return this.membersPromise;
  };

  Chat.prototype.mentionsIn = function (body) {
    var ids = [];
    (this.mentionIds || new Map()).forEach(function (memberId, name) {
      if (body.indexOf("@" + name) >= 0) ids.push(memberId);
    });
    return ids;
  };

  /* The tab title counts mentions of me not yet seen. */
  Chat.prototype.mentioned = function () {
    var self = this;
    if (!document.hidden && this.nearBottom()) return;
    this.unreadMentions = (this.unreadMentions || 0) + 1;
    this.baseTitle = this.baseTitle || document.title;
    document.title = "(" + this.unreadMentions + ") " + this.baseTitle;
    if (this.mentionsReset) return;
    this.mentionsReset = function () {
      if (document.hidden || !self.nearBottom()) return;
      self.unreadMentions = 0;
      document.title = self.baseTitle;
    };
    document.addEventListener("visibilitychange", this.mentionsReset);
    this.list.addEventListener("scroll", this.mentionsReset);
  };

  /* -- search -- */

  Chat.prototype.setUpSearch = function () {
    var self = this;
    var dialog = document.getElementById("search-dialog");
    var input = document.getElementById("search-input");
    var results = document.getElementById("search-results");
    var more = document.getElementById("search-more");
    var next = null;
    document.getElementById("search-button").addEventListener("click", function () {
      dialog.showModal();
      input.focus();
    });
    function run(before) {
      var q = input.value.trim();
      if (!q) return;
      var url = data.urls.search + "?q=" + encodeURIComponent(q) + (before ? "&before=" + before : "");
      H.api("GET", url).then(function (page) {
        if (!before) results.replaceChildren();
        page.results.forEach(function (m) {
          var item = H.el("li");
          item.appendChild(H.el("strong", null, (m.sender ? m.sender.display_name : "") + " "));
          item.appendChild(H.el("span", "muted", self.timeText(m.created_at)));
          item.appendChild(H.el("div", null, m.body));
          item.addEventListener("click", function () {
            dialog.close();
            self.goTo(m.seq);
          });
          results.appendChild(item);
        });
        next = page.next;
        more.hidden = !next;
        document.getElementById("search-empty").hidden = results.children.length > 0;
      }).catch(function (err) { self.toast(errorText(err)); });
    }
    document.getElementById("search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      run(null);
    });
    more.addEventListener("click", function () { run(next); });
  };

  /* -- contact exchange -- */

  Chat.prototype.setUpContacts = function () {
    var self = this;
    document.getElementById("contacts-button").addEventListener("click", function () {
      self.refreshContacts();
      document.getElementById("contacts-dialog").showModal();
    });
    this.refreshContacts();
  };

  Chat.prototype.refreshContacts = function () {
    var self = this;
    H.api("GET", data.urls.contacts).then(function (page) {
      var list = document.getElementById("contacts-list");
      list.replaceChildren();
      var waiting = 0;
      page.results.forEach(function (request) {
        var item = H.el("li", "member-row contact-row");
        item.dataset.id = request.id;
        var text = H.el("span", "member-name", request.member.display_name);
        if (request.status === "accepted") {
          text.appendChild(H.el("span", "contact-card", request.card));
        } else if (request.direction === "out") {
          text.appendChild(H.el("span", "contact-card muted", t.waiting));
        }
        item.appendChild(text);
        if (request.status === "pending" && request.direction === "in") {
          waiting += 1;
          var tools = H.el("span", "member-tools");
          function answer(verb) {
            return function () {
              H.api("POST", data.urls.contacts + "/" + request.id + "/" + verb)
                .then(function () { self.refreshContacts(); })
                .catch(function (err) { self.toast(errorText(err)); });
            };
          }
          tools.appendChild(button(t.accept, "ghost small", answer("accept")));
          tools.appendChild(button(t.decline, "ghost small", answer("decline")));
          item.appendChild(tools);
        }
        list.appendChild(item);
      });
      document.getElementById("contacts-empty").hidden = page.results.length > 0;
      var count = document.getElementById("contacts-count");
      count.textContent = String(waiting);
      count.hidden = !waiting;
    }).catch(function () { /* the next frame or open tries again */ });
  };

  /* -- Q&A: the Questions tab -- */

  Chat.prototype.setUpQuestions = function () {
    var self = this;
    this.questions = new Map(); // id -> question as last heard
    this.myVotes = new Map(); // id -> whether I voted
    this.qaSort = "top";
    this.qaStatus = "open";
    this.qaNext = null;
    var chatTab = document.getElementById("tab-chat");
    var qaTab = document.getElementById("tab-questions");
    function show(questions) {
      chatTab.setAttribute("aria-selected", String(!questions));
      qaTab.setAttribute("aria-selected", String(questions));
      document.getElementById("questions-panel").hidden = !questions;
      document.getElementById("chat-panel").hidden = questions;
      if (questions) {
        document.getElementById("composer").hidden = true;
        document.getElementById("readonly-bar").hidden = true;
        self.loadQuestions(false);
      } else if (!self.readOnly) {
        self.updateComposer();
      }
      document.getElementById("ask-form").hidden = self.readOnly;
    }
    chatTab.addEventListener("click", function () { show(false); });
    qaTab.addEventListener("click", function () { show(true); });
    document.getElementById("qa-sort").addEventListener("change", function (event) {
      self.qaSort = event.target.value;
      self.loadQuestions(false);
    });
    document.getElementById("qa-status").addEventListener("change", function (event) {
      self.qaStatus = event.target.value;
      self.loadQuestions(false);
    });
    document.getElementById("questions-more").addEventListener("click", function () {
      self.loadQuestions(true);
    });
    var form = document.getElementById("ask-form");
    var input = document.getElementById("ask-input");
    var error = document.getElementById("ask-error");
    var clientId = H.uuid();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = input.value.trim();
      if (!body) return;
      error.hidden = true;
      document.getElementById("ask-send").disabled = true;
      H.api("POST", data.urls.questions, {
        body: body,
        client_id: clientId,
        anonymous: document.getElementById("ask-anonymous").checked,
      })
        .then(function (question) {
          input.value = "";
          clientId = H.uuid(); // the next question is another one; a retry reuses this id
          self.myVotes.set(question.id, false);
          self.questionChanged(question);
        })
        .catch(function (err) {
          error.textContent = errorText(err);
          error.hidden = false;
        })
        .finally(function () { document.getElementById("ask-send").disabled = false; });
    });
    // The "Live Q&A" badge: open questions exist.
    H.api("GET", data.urls.questions + "?limit=1")
      .then(function (page) { self.setQaBadge(page.results.length > 0); })
      .catch(function () { /* the next question frame sets it */ });
  };

  Chat.prototype.setQaBadge = function (live) {
    document.getElementById("qa-badge").hidden = !live;
  };

  Chat.prototype.loadQuestions = function (more) {
    var self = this;
    var list = document.getElementById("questions-list");
    var url = data.urls.questions + "?sort=" + this.qaSort + "&status=" + this.qaStatus + "&limit=50";
    if (more && this.qaNext) url += "&cursor=" + encodeURIComponent(this.qaNext);
    H.api("GET", url).then(function (page) {
      if (!more) {
        list.replaceChildren();
        self.questions.clear();
      }
      page.results.forEach(function (q) {
        self.myVotes.set(q.id, !!q.my_vote);
        self.questions.set(q.id, q);
        list.appendChild(self.renderQuestion(q));
      });
      self.qaNext = page.next;
      document.getElementById("questions-more").hidden = !page.next;
      document.getElementById("questions-empty").hidden = list.children.length > 0;
      if (self.qaStatus === "open" && !more) self.setQaBadge(page.results.length > 0);
    }).catch(function (err) { self.toast(errorText(err)); });
  };

  Chat.prototype.renderQuestion = function (q) {
    var self = this;
    var item = H.el("li", "question");
    item.dataset.id = q.id;
    var vote = H.el("button", "vote-button");
    vote.type = "button";
    vote.setAttribute("aria-label", t.vote);
    var mine = !!this.myVotes.get(q.id);
    vote.setAttribute("aria-pressed", String(mine));
    vote.appendChild(H.el("span", "vote-arrow", "▲"));
    vote.appendChild(H.el("span", "vote-count", String(q.votes)));
    vote.disabled = q.status !== "open" || this.readOnly;
    vote.addEventListener("click", function () {
      var up = !self.myVotes.get(q.id);
      vote.disabled = true;
      H.api(up ? "POST" : "DELETE", data.urls.questions + "/" + q.id + "/vote")
        .then(function (fresh) {
          self.myVotes.set(q.id, !!fresh.my_vote);
          self.questionChanged(fresh);
        })
        .catch(function (err) { self.toast(errorText(err)); vote.disabled = false; });
    });
    item.appendChild(vote);
    var text = H.el("div", "question-text");
    text.appendChild(H.el("p", "question-body", q.body));
    var who = q.author ? q.author.display_name : t.anonymous;
    var meta = who + (q.anonymous && q.author ? " (" + t.anonymous + ")" : "");
    if (q.status === "answered") meta += " · " + t.answered;
    text.appendChild(H.el("p", "question-meta muted", meta));
    if (me && me.can_moderate && !this.readOnly) {
      var tools = H.el("div", "question-tools");
      function act(path) {
        return function () {
          H.api("POST", data.urls.questions + "/" + q.id + "/" + path)
            .then(function (fresh) { self.questionChanged(fresh); })
            .catch(function (err) { self.toast(errorText(err)); });
        };
      }
      if (q.status === "open") tools.appendChild(button(t.mark_answered, "ghost small", act("answered")));
      if (q.status !== "hidden") tools.appendChild(button(t.hide_question, "ghost small", act("hide")));
      if (q.status !== "open") tools.appendChild(button(t.reopen_question, "ghost small", act("reopen")));
      text.appendChild(tools);
    }
    item.appendChild(text);
    return item;
  };

  /* A question asked or changed (a frame, or my own request's answer). */
  Chat.prototype.questionChanged = function (q) {
    var list = document.getElementById("questions-list");
    if (q.status === "open") this.setQaBadge(true);
    var known = this.questions.get(q.id);
    // A frame carries no author for anonymous questions and no my_vote: keep what we know.
    if (known && !q.author && known.author && q.anonymous) q = Object.assign({}, q, { author: known.author });
    if (typeof q.my_vote === "boolean") this.myVotes.set(q.id, q.my_vote);
    var node = list.querySelector("li.question[data-id='" + q.id + "']");
    if (q.status !== this.qaStatus) {
      this.questions.delete(q.id);
      if (node) node.remove();
    } else {
      this.questions.set(q.id, q);
      var fresh = this.renderQuestion(q);
      if (node) node.replaceWith(fresh);
      else if (this.qaSort === "new") list.insertBefore(fresh, list.firstChild);
      else list.appendChild(fresh);
      this.sortQuestions();
    }
    document.getElementById("questions-empty").hidden = list.children.length > 0;
  };

  Chat.prototype.questionVotes = function (id, votes) {
    var q = this.questions.get(id);
    if (!q) return;
    q.votes = votes;
    var node = document.querySelector("li.question[data-id='" + id + "'] .vote-count");
    if (node) node.textContent = String(votes);
    this.sortQuestions();
  };

  /* Most votes first (then oldest), as the server orders them. */
  Chat.prototype.sortQuestions = function () {
    if (this.qaSort !== "top") return;
    var list = document.getElementById("questions-list");
    var self = this;
    var items = Array.prototype.slice.call(list.children);
    items.sort(function (a, b) {
      var qa = self.questions.get(a.dataset.id), qb = self.questions.get(b.dataset.id);
      if (!qa || !qb) return 0;
      return qb.votes - qa.votes || (qa.created_at < qb.created_at ? -1 : 1);
    });
    items.forEach(function (item) { list.appendChild(item); });
  };

  /* -- posting rules: broadcast, mute, slow mode -- */

  Chat.prototype.expired = function () {
    return data.status === "expired";
  };

  Chat.prototype.mutedUntil = function () {
    var until = me && me.muted_until ? new Date(me.muted_until) : null;
    return until && until > new Date() ? until : null;
  };

  /* The composer, or the bar that says why there is none. */
  Chat.prototype.updateComposer = function () {
    if (this.readOnly) return;
    if (!document.getElementById("questions-panel").hidden) return; // the Questions tab is up
    var self = this;
    var bar = document.getElementById("readonly-bar");
    var composer = document.getElementById("composer");
    var text = "";
    var muted = this.mutedUntil();
    if (this.posting === "moderators" && !(me && me.can_moderate)) {
      text = t.posting_restricted;
    } else if (muted) {
      text = H.fmt(t.muted_until, { time: muted.toLocaleTimeString() });
      clearTimeout(this.muteTimer);
      this.muteTimer = setTimeout(function () { self.updateComposer(); }, muted - new Date() + 500);
    }
    bar.textContent = text;
    bar.hidden = !text;
    composer.hidden = !!text;
    var input = document.getElementById("composer-input");
    input.placeholder = this.slowMode && !(me && me.can_moderate)
      ? H.fmt(t.slow_mode_on, { seconds: this.slowMode })
      : input.dataset.placeholder || input.placeholder;
  };

  /* Slow mode: the send button counts down to the moment I may post again. */
  Chat.prototype.startCooldown = function (seconds) {
    if (!seconds || (me && me.can_moderate)) return;
    var self = this;
    var button = document.getElementById("composer-send");
    this.cooldownUntil = Date.now() + seconds * 1000;
    clearInterval(this.cooldownTimer);
    function tick() {
      var left = Math.ceil((self.cooldownUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(self.cooldownTimer);
        button.disabled = false;
        button.textContent = t.send;
        return;
      }
      button.disabled = true;
      button.textContent = H.fmt(t.send_in, { seconds: left });
    }
    tick();
    this.cooldownTimer = setInterval(tick, 250);
  };

  /* Frames about the room's state are not replayed on resume (messages are): after every
   * (re)connect, read the state once, so nothing changed while away goes unnoticed. */
  Chat.prototype.refreshRoom = function () {
    var self = this;
    var counted = {};
    Object.keys(this.stateFrames).forEach(function (kind) { counted[kind] = self.stateFrames[kind]; });
    // A frame of this kind came while the read was on its way: it is at least as new.
    function framed(kind) { return self.stateFrames[kind] !== counted[kind]; }
    H.api("GET", data.urls.room).then(function (room) {
      if (me && room.my_role && me.role && room.my_role !== me.role) {
        window.location.reload();
        return;
      }
      if (me && !framed("member_updated")) me.muted_until = room.my_muted_until;
      if (room.announcement && !framed("announcement")) self.showAnnouncement(room.announcement, false);
      if (!framed("room_updated")) self.roomUpdated(room);
      // Questions and contact requests that came while away: read them again too.
      if (!document.getElementById("questions-panel").hidden) self.loadQuestions(false);
      self.refreshContacts();
    }).catch(function () { /* the next connect tries again */ });
  };

  Chat.prototype.roomUpdated = function (room) {
    data.name = room.name;
    document.getElementById("room-name").textContent = room.name;
    document.title = room.name + " · " + document.title.split(" · ").slice(-1)[0];
    this.slowMode = room.slow_mode_seconds;
    this.posting = room.posting;
    this.updateComposer();
    this.fillManageForm();
  };

  Chat.prototype.memberUpdated = function (frame) {
    if (!me || frame.member_id !== me.member_id) return;
    if (frame.role !== me.role) {
      // Becoming (or no longer being) a moderator changes the page's controls.
      window.location.reload();
      return;
    }
    me.muted_until = frame.muted_until;
    this.updateComposer();
  };

  /* -- moderation: the menu's room settings, messages, members, the queue -- */

  Chat.prototype.setUpModeration = function () {
    var self = this;
    var input = document.getElementById("composer-input");
    input.dataset.placeholder = input.placeholder;
    this.list.addEventListener("click", function (event) {
      var item = event.target.closest("li.msg-actionable");
      if (!item || !item.dataset.seq) return;
      var m = self.messages.get(Number(item.dataset.seq));
      if (m) self.openMessage(m);
    });
    document.getElementById("members-button").addEventListener("click", function () {
      self.openMembers();
    });
    var reopen = document.getElementById("reopen-button");
    if (reopen) {
      reopen.addEventListener("click", function () {
        H.api("POST", data.urls.reopen)
          .then(function () { window.location.reload(); })
          .catch(function (err) { self.toast(errorText(err)); });
      });
    }
    if (!(me && me.can_moderate)) return;
    this.setUpManageForm();
    var queue = document.getElementById("queue-button");
    if (queue) queue.addEventListener("click", function () { self.openQueue(); });
    this.refreshQueueCount();
    // A report makes no frame (the room must not watch reports come in): moderators
    // look again now and then, and whenever they come back to the page.
    setInterval(function () { if (!document.hidden) self.refreshQueueCount(); }, QUEUE_POLL_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) self.refreshQueueCount();
    });
  };

  Chat.prototype.fillManageForm = function () {
    var select = document.getElementById("slow-mode-select");
    if (!select) return;
    var value = String(this.slowMode);
    if (!select.querySelector("option[value='" + value + "']")) {
      select.appendChild(H.el("option", null, H.fmt(t.slow_mode_on, { seconds: value }))).value = value;
    }
    select.value = value;
    document.getElementById("broadcast-toggle").checked = this.posting === "moderators";
  };

  Chat.prototype.setUpManageForm = function () {
    var self = this;
    var error = document.getElementById("manage-error");
    var board = document.getElementById("announcement-input");
    function failed(err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
    function patch(body) {
      error.hidden = true;
      return H.api("PATCH", data.urls.room, body)
        .then(function (room) {
          self.roomUpdated({ name: room.name, slow_mode_seconds: room.slow_mode_seconds, posting: room.posting });
          self.toast(t.saved);
        })
        .catch(function (err) {
          self.fillManageForm();
          failed(err);
        });
    }
    this.fillManageForm();
    document.getElementById("menu-button").addEventListener("click", function () {
      board.value = (document.getElementById("announcement-text").textContent || "");
      error.hidden = true;
    });
    document.getElementById("announcement-save").addEventListener("click", function () {
      error.hidden = true;
      H.api("PUT", data.urls.announcement, { text: board.value })
        .then(function () { self.toast(t.saved); })
        .catch(failed);
    });
    document.getElementById("slow-mode-select").addEventListener("change", function (event) {
      patch({ slow_mode_seconds: Number(event.target.value) });
    });
    document.getElementById("broadcast-toggle").addEventListener("change", function (event) {
      patch({ posting: event.target.checked ? "moderators" : "everyone" });
    });
    var close = document.getElementById("close-button");
    if (!close) return;
    var confirmDialog = document.getElementById("close-dialog");
    close.addEventListener("click", function () {
      document.getElementById("menu-dialog").close();
      confirmDialog.showModal();
    });
    document.getElementById("close-confirm").addEventListener("click", function () {
      H.api("POST", data.urls.close)
        .then(function () {
          confirmDialog.close();
          data.status = "closed";
          self.makeReadOnly();
        })
        .catch(function (err) {
          confirmDialog.close();
          self.toast(errorText(err));
        });
    });
  };

  function button(text, className, onClick) {
    var node = H.el("button", className || "secondary", text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  Chat.prototype.memberUrl = function (memberId, action) {
    return data.urls.room + "/members/" + encodeURIComponent(memberId) + "/" + action;
  };

  /* What one can do to a message: report it, recall it, or (moderators) hide it and act on
   * its sender. */
  Chat.prototype.openMessage = function (m) {
    var self = this;
    var dialog = document.getElementById("message-dialog");
    var actions = document.getElementById("message-actions");
    var form = document.getElementById("report-form");
    var error = document.getElementById("message-error");
    var mine = this.isMine(m);
    var moderates = me && me.can_moderate;
    actions.replaceChildren();
    form.hidden = true;
    error.hidden = true;
    document.getElementById("message-preview").textContent =
      (m.sender ? m.sender.display_name + ": " : "") + (m.body || t.hidden);
    function done(promise) {
      return promise
        .then(function () { dialog.close(); })
        .catch(function (err) {
          error.textContent = errorText(err);
          error.hidden = false;
        });
    }
    var open = !this.readOnly;
    var url = data.urls.messages + "/" + m.seq;
    if (open && m.kind === "text" && !m.recalled && !document.getElementById("composer").hidden) {
      actions.appendChild(button(t.reply, "secondary", function () {
        dialog.close();
        self.startReply(m);
      }));
    }
    if (mine && open && !m.recalled && Date.now() - new Date(m.created_at) < 120000) {
      actions.appendChild(button(t.recall, "secondary", function () {
        done(H.api("DELETE", url));
      }));
    }
    if (!mine && !m.recalled && m.sender) {
      actions.appendChild(button(t.report, "secondary", function () {
        actions.replaceChildren();
        form.hidden = false;
        document.getElementById("report-text").value = "";
        form.onsubmit = function (event) {
          event.preventDefault();
          done(
            H.api("POST", url + "/report", {
              reason: document.getElementById("report-reason").value,
              text: document.getElementById("report-text").value,
            }).then(function () { self.toast(t.reported); })
          );
        };
      }));
    }
    if (moderates && !m.recalled) {
      actions.appendChild(button(m.hidden ? t.unhide : t.hide, "secondary", function () {
        done(H.api("POST", url + (m.hidden ? "/unhide" : "/hide")).then(function (reply) {
          self.replaceMessage(reply);
          self.refreshQueueCount();
        }));
      }));
      if (m.sender && !m.hidden && m.body.length <= 300 && open) {
        actions.appendChild(button(t.promote, "secondary", function () {
          done(H.api("POST", url + "/promote").then(function () { self.toast(t.promoted); }));
        }));
      }
      var sender = m.sender;
      if (sender && !mine && sender.role !== "owner" && (sender.role !== "moderator" || me.can_manage)) {
        actions.appendChild(button(t.mute, "secondary", function () {
          done(H.api("POST", self.memberUrl(sender.member_id, "mute"), { minutes: 10 }));
        }));
        actions.appendChild(button(t.ban, "danger", function () {
          if (!window.confirm(H.fmt(t.confirm_ban, { name: sender.display_name }))) return;
          done(H.api("POST", self.memberUrl(sender.member_id, "ban")));
        }));
      }
    }
    if (!actions.children.length) return;
    dialog.showModal();
  };

  /* The members sheet: everyone sees who is here; moderators mute and remove from it. */
  Chat.prototype.openMembers = function () {
    var self = this;
    var dialog = document.getElementById("members-dialog");
    var list = document.getElementById("members-list");
    var more = document.getElementById("members-more");
    var error = document.getElementById("members-error");
    list.replaceChildren();
    error.hidden = true;
    function row(member) {
      var item = H.el("li", "member-row");
      item.dataset.memberId = member.member_id;
      var face = H.el("img", "msg-avatar");
      face.setAttribute("src", member.avatar_url);
      face.setAttribute("alt", "");
      face.setAttribute("width", "28");
      face.setAttribute("height", "28");
      item.appendChild(face);
      var name = H.el("span", "member-name", member.display_name);
      var badge = t["role_" + member.role];
      if (badge) name.appendChild(H.el("span", "msg-badge msg-badge-" + member.role, badge));
      item.appendChild(name);
      if (me && member.member_id !== me.member_id && !self.readOnly) {
        item.appendChild(button(t.mention, "ghost small", function () {
          var input = document.getElementById("composer-input");
          if (!self.mentionIds) self.mentionIds = new Map();
          self.mentionIds.set(member.display_name, member.member_id);
          input.value = (input.value ? input.value.replace(/\s*$/, " ") : "") + "@" + member.display_name + " ";
          document.getElementById("members-dialog").close();
          input.focus();
        }));
        var swap = button(t.swap, "ghost small", function () {
          H.api("POST", data.urls.contacts, { member_id: member.member_id })
            .then(function () {
              swap.disabled = true;
              self.toast(t.asked);
              self.refreshContacts();
            })
            .catch(failed);
        });
        item.appendChild(swap);
      }
      var actable = me && me.can_moderate && member.member_id !== me.member_id &&
        member.role !== "owner" && (member.role !== "moderator" || me.can_manage);
      if (actable) {
        var tools = H.el("span", "member-tools");
        var muted = false;
        var mute = button(t.mute, "ghost small", function () {
          var action = muted ? H.api("POST", self.memberUrl(member.member_id, "unmute"))
            : H.api("POST", self.memberUrl(member.member_id, "mute"), { minutes: 10 });
          action.then(function (standing) {
            muted = !!standing.muted_until;
            mute.textContent = muted ? t.unmute : t.mute;
          }).catch(failed);
        });
        tools.appendChild(mute);
        tools.appendChild(button(t.ban, "ghost small danger", function () {
          if (!window.confirm(H.fmt(t.confirm_ban, { name: member.display_name }))) return;
          H.api("POST", self.memberUrl(member.member_id, "ban"))
            .then(function () { item.remove(); })
            .catch(failed);
        }));
        if (me.can_manage) {
          var moderator = member.role === "moderator";
          tools.appendChild(button(moderator ? t.make_member : t.make_moderator, "ghost small", function () {
            H.api("POST", self.memberUrl(member.member_id, "role"), { role: moderator ? "member" : "moderator" })
              .then(function (standing) {
                member.role = standing.role;
                item.replaceWith(row(member));
              })
              .catch(failed);
          }));
        }
        item.appendChild(tools);
      }
      return item;
    }
    function failed(err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
    function load(cursor) {
      var url = data.urls.members + "?limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      H.api("GET", url).then(function (page) {
        page.results.forEach(function (member) { list.appendChild(row(member)); });
        more.hidden = !page.next;
        more.onclick = function () { load(page.next); };
      }).catch(failed);
    }
    load(null);
    dialog.showModal();
  };

  Chat.prototype.refreshQueueCount = function () {
    var badge = document.getElementById("queue-count");
    if (!badge || !(me && me.can_moderate)) return;
    var self = this;
    clearTimeout(this.queueTimer);
    // Debounced: a wave of reports or held messages costs one request.
    this.queueTimer = setTimeout(function () {
      H.api("GET", data.urls.reports).then(function (page) {
        var count = page.results.length + (page.next ? "+" : "");
        badge.textContent = String(count);
        badge.hidden = !page.results.length;
        self.queue = page.results;
      }).catch(function () { /* the next change refreshes it */ });
    }, 300);
  };

  /* The moderators' queue: held and reported messages, each kept or hidden. */
  Chat.prototype.openQueue = function () {
    var self = this;
    var dialog = document.getElementById("queue-dialog");
    var list = document.getElementById("queue-list");
    var empty = document.getElementById("queue-empty");
    list.replaceChildren();
    empty.hidden = true;
    function item(entry) {
      var m = entry.message;
      var node = H.el("li", "queue-item");
      node.dataset.seq = String(m.seq);
      node.appendChild(H.el("p", "queue-who", m.sender ? m.sender.display_name : ""));
      node.appendChild(H.el("p", "queue-body", m.body));
      var why = [];
      if (entry.held) why.push(t.queue_held);
      if (entry.reports.count) {
        var reasons = Object.keys(entry.reports.reasons).map(function (key) {
          return t["reason_" + key] + " × " + entry.reports.reasons[key];
        }).join(", ");
        why.push(H.fmt(t.queue_reports, { count: entry.reports.count, reasons: reasons }));
      }
      entry.reports.notes.forEach(function (note) { why.push("“" + note + "”"); });
      node.appendChild(H.el("p", "queue-why muted", why.join(" · ")));
      var tools = H.el("div", "row");
      function settle(path, then) {
        return H.api("POST", data.urls.messages + "/" + m.seq + path)
          .then(function (reply) {
            self.replaceMessage(reply);
            return then ? then() : null;
          })
          .then(function () {
            node.remove();
            empty.hidden = !!list.children.length;
            self.refreshQueueCount();
          })
          .catch(function (err) { self.toast(errorText(err)); });
      }
      tools.appendChild(button(t.keep, "secondary", function () { settle("/unhide"); }));
      tools.appendChild(button(t.hide, "secondary", function () { settle("/hide"); }));
      if (m.sender && m.sender.role === "member") {
        tools.appendChild(button(t.hide + " + " + t.mute, "secondary", function () {
          settle("/hide", function () {
            return H.api("POST", self.memberUrl(m.sender.member_id, "mute"), { minutes: 10 });
          });
        }));
        tools.appendChild(button(t.hide + " + " + t.ban, "danger", function () {
          if (!window.confirm(H.fmt(t.confirm_ban, { name: m.sender.display_name }))) return;
          settle("/hide", function () { return H.api("POST", self.memberUrl(m.sender.member_id, "ban")); });
        }));
      }
      node.appendChild(tools);
      return node;
    }
    H.api("GET", data.urls.reports).then(function (page) {
      page.results.forEach(function (entry) { list.appendChild(item(entry)); });
      empty.hidden = !!page.results.length;
    }).catch(function (err) { self.toast(errorText(err)); });
    dialog.showModal();
  };

  Chat.prototype.setUpShare = function () {
    var button = document.getElementById("share-button");
    if (!button) return;
    var dialog = document.getElementById("share-dialog");
    var self = this;
    var screenLink = document.getElementById("screen-link");
    if (data.urls.screen) screenLink.href = data.urls.screen;
    else screenLink.hidden = true;
    document.getElementById("copy-link").addEventListener("click", function () {
      var link = data.urls.join;
      // The share sheet where there is one (phones), else the clipboard.
      var done = navigator.share
        ? navigator.share({ title: data.name, url: link })
        : navigator.clipboard.writeText(link).then(function () { self.toast(t.copied); });
      done.catch(function () { window.prompt(t.copied, link); });
    });
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
