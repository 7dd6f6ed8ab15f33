// The desk menu's worklist counts, loaded after the page (cases.views.nav):
// counting the open cases is kept out of every page's own response. Without
// JavaScript the menu simply shows its links without counts.
(function () {
  "use strict";

  function load() {
    var nav = document.getElementById("desknav");
    var url = nav && nav.getAttribute("data-counts-url");
    if (!url || nav.getAttribute("data-counts-loading")) return;
    nav.setAttribute("data-counts-loading", "1");
    // redirect "manual": a session still owing its second factor is redirected
    // to the enrolment page, and following that GET would replace the key whose
    // QR code the user is looking at (chengguan.security.otp_enrolment_start).
    fetch(url, { credentials: "same-origin", redirect: "manual", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var holder = document.createElement("template");
        holder.innerHTML = html;
        holder.content.querySelectorAll("[id^='desknav-count-']").forEach(function (fresh) {
          var old = document.getElementById(fresh.id);
          if (old) old.replaceWith(fresh);
        });
        nav.removeAttribute("data-counts-url");
      })
      .catch(function () { /* the links work without their counts */ })
      .then(function () { nav.removeAttribute("data-counts-loading"); });
  }

  document.addEventListener("DOMContentLoaded", load);
  // Desk pages swap the menu in with each page they load in place (htmx boost).
  document.addEventListener("htmx:afterSettle", load);
})();
