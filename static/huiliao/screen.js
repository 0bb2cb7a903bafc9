/* The projector screen: show the room's state, and read it again every few seconds. No
 * input; a failed read keeps what is shown and tries again. */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function show(state) {
    document.getElementById("screen-name").textContent = state.name;
    var board = document.getElementById("screen-announcement");
    board.textContent = state.announcement;
    board.hidden = !state.announcement;
    var list = document.getElementById("screen-questions");
    list.replaceChildren();
    state.questions.forEach(function (q) {
      var item = el("li");
      item.appendChild(el("span", "screen-votes", "▲ " + q.votes));
      var text = el("span", "screen-question", q.body);
      if (q.author) text.appendChild(el("small", null, q.author.display_name));
      item.appendChild(text);
      list.appendChild(item);
    });
    var ended = state.status !== "open";
    document.getElementById("screen-ended").hidden = !ended;
    document.getElementById("screen-no-questions").hidden = ended || state.questions.length > 0;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = JSON.parse(document.getElementById("page-data").textContent);
    show(data.state);
    setInterval(function () {
      fetch(data.state_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) { if (state) show(state); })
        .catch(function () { /* the next tick tries again */ });
    }, data.refresh_ms);
  });
})();
