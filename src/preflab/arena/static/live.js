// preflab arena, live mode: stream both answers into the battle page, then allow the vote.
// The HTML in every event was rendered and sanitised by the server (markdown-it, nh3);
// model text is never inserted as HTML here. See preflab/arena/_live.py.
"use strict";
(function () {
  var prompt = document.getElementById("live-prompt");
  if (prompt) {  // the prompt page: Ctrl/Cmd+Enter sends, no double submit
    var form = document.getElementById("live-form");
    var sending = false;
    form.addEventListener("submit", function (ev) {
      if (sending) { ev.preventDefault(); } sending = true;
    });
    prompt.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !sending) {
        ev.preventDefault(); form.requestSubmit();
      }
    });
    return;
  }
  var voteForm = document.getElementById("vote-form");
  var url = voteForm && voteForm.getAttribute("data-stream");
  if (!url) { return; }
  var status = document.getElementById("live-status");
  var labels = ["A", "B"];
  var finished = false;

  function show(slot, html) {
    var doc = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
    var target = document.getElementById("live-text-" + labels[slot]);
    var nodes = [];
    doc.body.childNodes.forEach(function (n) { nodes.push(document.importNode(n, true)); });
    target.replaceChildren.apply(target, nodes);
  }
  function stop(message) {
    finished = true;
    source.close();
    status.textContent = message;
    status.className = "failed";
    status.setAttribute("role", "alert");
    labels.forEach(function (l) {
      document.getElementById("response-" + l).setAttribute("aria-busy", "false");
    });
    document.getElementById("live-again").focus();
  }
  if (!window.EventSource) {
    status.textContent = "This browser cannot stream answers (no EventSource).";
    return;
  }
  var source = new EventSource(url);
  source.addEventListener("delta", function (ev) {
    var d = JSON.parse(ev.data);
    show(d.slot, d.html);
  });
  source.addEventListener("done", function (ev) {
    var d = JSON.parse(ev.data);
    finished = true;
    source.close();
    document.getElementById("live-token").value = d.token;
    document.getElementById("live-choices").disabled = false;
    voteForm.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
    labels.forEach(function (l) {
      document.getElementById("response-" + l).setAttribute("aria-busy", "false");
    });
    status.textContent = "Both answers are complete. Which is better?";
    document.getElementById("vote-a").focus();
  });
  source.addEventListener("failed", function (ev) {
    stop(JSON.parse(ev.data).message);
  });
  source.onerror = function () {
    if (!finished) { stop("The connection to the arena was lost. Start a new battle."); }
  };
}());
