// Keeps a console page live: every few seconds it fetches the page again and swaps in the new
// <main>. A page is whole without it. Nothing is swapped while a form on the page is being
// filled in, so typing is never lost.
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh") || 0);
  if (!seconds) { return; }
  function busy() {
    var active = document.activeElement;
    if (active && active.closest && active.closest("form")) { return true; }
    var fields = document.querySelectorAll("main input[type=text], main textarea");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }
  function say(text) {
    var stamp = document.getElementById("refreshed");
    if (stamp) { stamp.textContent = text; }
  }
  function refresh() {
    if (busy()) { setTimeout(refresh, seconds * 1000); return; }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.text().then(function (html) { return { ok: response.ok, html: html }; }); })
      .then(function (page) {
        var fresh = new DOMParser().parseFromString(page.html, "text/html");
        var main = fresh.getElementById("main");
        if (main) { document.getElementById("main").replaceWith(main); document.title = fresh.title; }
        say(page.ok ? "· live" : "· the console answered with an error");
      })
      .catch(function () { say("· not refreshed: the console did not answer"); })
      .then(function () { setTimeout(refresh, seconds * 1000); });
  }
  say("· live");
  setTimeout(refresh, seconds * 1000);
})();
