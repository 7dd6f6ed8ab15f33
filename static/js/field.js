/* Small touches on the field-work pages; every page works without them.
 *
 * - [data-print]: a print button (minutes, rectification notices).
 * - the return-visit form: satisfaction only when the reporter was reached, "reopen" only when
 *   they are unsatisfied.
 * - [data-locate-form]: "use my location" fills the latitude and longitude of a shop.
 * - [data-checklist]: the inspection checklist marks failed items, counts them, and asks for a
 *   note only where an item failed.
 * - the field tabs keep the current one in view on a narrow screen.
 */
(function () {
  "use strict";

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  var currentTab = document.querySelector(".fw-tabs [aria-current=page]");
  if (currentTab && currentTab.scrollIntoView) currentTab.scrollIntoView({ block: "nearest", inline: "center" });

  each(document.querySelectorAll("[data-print]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  var visit = document.getElementById("visit-form");
  if (visit) {
    var reachedBox = visit.querySelector("[data-if-reached]");
    var reopenBox = visit.querySelector("[data-if-unsatisfied]");
    var update = function () {
      var reached = visit.querySelector("input[name=reached]:checked");
      var satisfaction = visit.querySelector("input[name=satisfaction]:checked");
      var isReached = !reached || reached.value === "yes";
      reachedBox.hidden = !isReached;
      var unsatisfied = isReached && satisfaction && satisfaction.value === "unsatisfied";
      reopenBox.hidden = !unsatisfied;
      if (!unsatisfied) {
        var reopen = visit.querySelector("input[name=reopen]");
        if (reopen) reopen.checked = false;
      }
    };
    visit.addEventListener("change", update);
    update();
  }

  each(document.querySelectorAll("[data-locate-form]"), function (box) {
    var button = box.querySelector("[data-locate]");
    var text = box.querySelector("[data-location-text]");
    var lat = document.getElementById(box.getAttribute("data-lat"));
    var lng = document.getElementById(box.getAttribute("data-lng"));
    if (!button || !lat || !lng || !navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      text.textContent = button.getAttribute("data-locating") || "…";
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lng.value = position.coords.longitude.toFixed(6);
        text.textContent = "";
      }, function () {
        text.textContent = button.getAttribute("data-failed") || "";
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  });

  var checklist = document.querySelector("[data-checklist]");
  if (checklist) {
    var counter = document.querySelector("[data-failed-count]");
    var mark = function () {
      var failed = 0;
      each(checklist.querySelectorAll("[data-item]"), function (item) {
        var fail = item.querySelector("input[value=fail]:checked");
        var note = item.querySelector("[data-note]");
        item.classList.toggle("fw-check-item--failed", !!fail);
        if (note) note.hidden = !fail && !note.querySelector("input").value;
        if (fail) failed += 1;
      });
      if (counter) {
        counter.textContent = String(failed);
        counter.parentNode.hidden = failed === 0;
      }
    };
    checklist.addEventListener("change", mark);
    mark();
  }
})();
