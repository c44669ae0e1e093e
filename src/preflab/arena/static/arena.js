// preflab arena: keyboard voting and leaderboard refresh. Pages work without this file.
"use strict";
(function () {
  function typing(ev) {
    var t = ev.target;
    return ev.ctrlKey || ev.metaKey || ev.altKey ||
      (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable));
  }
  var pairKeys = { "1": "vote-a", "a": "vote-a", "2": "vote-b", "b": "vote-b",
                   "3": "vote-tie", "t": "vote-tie", "4": "vote-bothbad", "x": "vote-bothbad" };
  var voteForm = document.getElementById("vote-form");
  var rankForm = document.getElementById("rank-form");
  var sent = false;
  if (voteForm) {
    voteForm.addEventListener("submit", function (ev) {
      if (sent) { ev.preventDefault(); } sent = true;  // no double submit
    });
    document.addEventListener("keydown", function (ev) {
      if (typing(ev)) { return; }
      var id = pairKeys[ev.key.toLowerCase()];
      if (id && !sent) { ev.preventDefault(); document.getElementById(id).click(); }
    });
  }
  if (rankForm) {
    var k = parseInt(rankForm.getAttribute("data-k"), 10);
    var letters = "abcd".slice(0, k);
    var order = [];
    function sync() {
      for (var i = 0; i < k; i++) {
        var sel = document.getElementById("place-" + letters[i].toUpperCase());
        var pos = order.indexOf(i);
        sel.value = pos >= 0 ? String(pos + 1) : "";
      }
    }
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || sent) { return; }
      var key = ev.key.toLowerCase();
      var slot = letters.indexOf(key);
      if (slot < 0 && key >= "1" && key <= String(k)) { slot = parseInt(key, 10) - 1; }
      if (slot >= 0 && key.length === 1) {
        ev.preventDefault();
        if (order.indexOf(slot) < 0) { order.push(slot); }
        if (order.length === k - 1) {  // the last one is implied
          for (var j = 0; j < k; j++) { if (order.indexOf(j) < 0) { order.push(j); } }
        }
        sync();
      } else if (ev.key === "Backspace") {
        ev.preventDefault(); order.pop(); sync();
      } else if (ev.key === "Enter" && order.length === k) {
        ev.preventDefault(); sent = true; rankForm.submit();
      }
    });
  }
  var next = document.getElementById("next");
  if (next) {
    next.focus();
    document.addEventListener("keydown", function (ev) {
      if (!typing(ev) && ev.key.toLowerCase() === "n") { ev.preventDefault(); next.click(); }
    });
  }
  var board = document.getElementById("board");
  if (board && window.fetch && window.DOMParser) {
    var every = parseInt(board.getAttribute("data-refresh"), 10) * 1000;
    setInterval(function () {
      if (document.hidden) { return; }
      fetch("/leaderboard", { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("#board tbody");
        var old = board.querySelector("tbody");
        if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
      }).catch(function () { /* offline: keep the last board */ });
    }, every);
  }
}());
