/* The patrol log form on a phone: findings added on the page, "use my location", and a draft
 * that survives a dead connection.
 *
 * The draft (every field but the photos) is kept in localStorage as the liaison types. The form
 * is sent with fetch; when that fails (no network, or a 5xx from the server) the draft stays,
 * the page says so, and the same request, photos included, is sent again when the phone is back
 * online (the `online` event, and a timer for phones that never fire it). The draft carries the
 * form's client_uuid, so however often it is sent the server logs one patrol. Without this
 * script the form is a plain HTML form and works the same, minus the draft.
 */
(function () {
  "use strict";

  var form = document.getElementById("patrol-form");
  var configElement = document.getElementById("patrol-config");
  if (!form || !configElement || !window.fetch || !window.FormData) return;
  var cfg = JSON.parse(configElement.textContent);
  var S = cfg.strings;
  var KEY = form.getAttribute("data-draft-key") || "patrol-draft";
  var MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  var RETRY_MS = (cfg.retry_seconds || 15) * 1000;

  var statusBox = document.getElementById("draft-status");
  var findingsBox = document.getElementById("findings");
  var template = document.getElementById("finding-template");
  var total = form.querySelector("input[name=findings-TOTAL_FORMS]");
  var addButton = document.getElementById("add-finding");
  var submitButton = document.getElementById("submit-patrol");
  var community = form.querySelector("select[name=community]");

  var pending = null; // the FormData of a submission that did not get through
  var sending = false;
  var retryTimer = null;
  var saveTimer = null;

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function fmt(text, values) {
    return String(text).replace(/%\((\w+)\)[sd]/g, function (match, key) {
      return values[key] === undefined ? "" : String(values[key]);
    });
  }

  /* --- the draft in localStorage (private mode or a full quota just means no draft) ----------- */

  function load() {
    try {
      var draft = JSON.parse(window.localStorage.getItem(KEY) || "null");
      if (draft && draft.fields && Date.now() - (draft.savedAt || 0) < MAX_AGE_MS) return draft;
    } catch (error) { /* no draft */ }
    return null;
  }
  function store(draft) {
    try { window.localStorage.setItem(KEY, JSON.stringify(draft)); } catch (error) { /* no draft */ }
  }
  function clear() {
    try { window.localStorage.removeItem(KEY); } catch (error) { /* nothing to clear */ }
  }

  function skipped(element) {
    return !element.name || element.type === "file" || element.type === "submit" || element.type === "button" ||
      element.name === "csrfmiddlewaretoken";
  }

  function snapshot() {
    var fields = {};
    each(form.elements, function (element) {
      if (skipped(element)) return;
      if (element.type === "checkbox" || element.type === "radio") {
        if (!fields[element.name]) fields[element.name] = [];
        if (element.checked) fields[element.name].push(element.value);
      } else {
        fields[element.name] = element.value;
      }
    });
    return { savedAt: Date.now(), findings: Number(total.value), fields: fields, pending: !!pending };
  }

  // Once the server has the patrol nothing may store the draft again (a late change
  // event, say a location arriving, would otherwise bring it back after clear()).
  var delivered = false;
  function save() { if (!delivered) store(snapshot()); }
  function saveSoon() {
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(save, 250);
  }

  function restore(draft) {
    while (findingsBox.querySelectorAll("[data-finding]").length < draft.findings) addFinding();
    each(form.elements, function (element) {
      if (skipped(element) || !(element.name in draft.fields)) return;
      var value = draft.fields[element.name];
      if (element.type === "checkbox" || element.type === "radio") {
        element.checked = Array.isArray(value) && value.indexOf(element.value) !== -1;
      } else {
        element.value = value;
      }
    });
    total.value = findingsBox.querySelectorAll("[data-finding]").length;
    each(findingsBox.querySelectorAll("[data-finding]"), function (finding) {
      showResult(finding);
      showLocation(finding);
    });
    filterCells();
  }

  /* --- status line --------------------------------------------------------------------------- */

  function showStatus(text, kind, withDiscard) {
    statusBox.hidden = false;
    statusBox.className = "fw-alert fw-alert--" + (kind || "info");
    statusBox.textContent = text;
    if (withDiscard) {
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "linkish";
      discard.textContent = S.discard;
      discard.addEventListener("click", function () {
        clear();
        window.location.href = form.action;
      });
      statusBox.appendChild(document.createTextNode(" "));
      statusBox.appendChild(discard);
    }
  }

  /* --- findings -------------------------------------------------------------------------------- */

  var INDEXED = /^(id_)?findings-(\d+|__prefix__)-/;

  function renumber() {
    each(findingsBox.querySelectorAll("[data-finding]"), function (finding, index) {
      each(finding.querySelectorAll("[name], [id], [for], [aria-describedby]"), function (element) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) {
            element.setAttribute(attribute, value.split(" ").map(function (part) {
              return part.replace(INDEXED, function (match, id) { return (id || "") + "findings-" + index + "-"; });
            }).join(" "));
          }
        });
      });
      var legend = finding.querySelector("legend");
      if (legend) legend.textContent = fmt(S.finding, { number: index + 1 });
    });
    total.value = findingsBox.querySelectorAll("[data-finding]").length;
  }

  function addFinding() {
    var index = findingsBox.querySelectorAll("[data-finding]").length;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index)).replace(/__num__/g, String(index + 1));
    var finding = holder.querySelector("[data-finding]");
    findingsBox.appendChild(finding);
    total.value = index + 1;
    enhanceFinding(finding);
    return finding;
  }

  function showResult(finding) {
    var box = finding.querySelector("input[name$=-fixed_on_spot]");
    var result = finding.querySelector("[data-result]");
    if (box && result) result.hidden = !box.checked;
  }

  function showLocation(finding) {
    var lat = finding.querySelector("input[name$=-lat]");
    var lng = finding.querySelector("input[name$=-lng]");
    var text = finding.querySelector("[data-location-text]");
    if (lat && lng && text && lat.value && lng.value && !text.textContent.trim()) {
      text.textContent = lat.value + ", " + lng.value;
    }
  }

  function locate(finding) {
    var text = finding.querySelector("[data-location-text]");
    text.textContent = S.locating;
    navigator.geolocation.getCurrentPosition(function (position) {
      var lat = position.coords.latitude.toFixed(6);
      var lng = position.coords.longitude.toFixed(6);
      finding.querySelector("input[name$=-lat]").value = lat;
      finding.querySelector("input[name$=-lng]").value = lng;
      var accuracy = position.coords.accuracy ? " (" + fmt(S.accuracy, { metres: Math.round(position.coords.accuracy) }) + ")" : "";
      text.textContent = lat + ", " + lng + accuracy;
      save();
    }, function () {
      text.textContent = S.location_failed;
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function checkPhotoCount(input) {
    var tooMany = input.files && input.files.length > cfg.max_photos;
    input.setCustomValidity(tooMany ? fmt(S.too_many_photos, { max: cfg.max_photos }) : "");
    if (tooMany) input.reportValidity();
  }

  function enhanceFinding(finding) {
    var remove = finding.querySelector("[data-remove-finding]");
    if (remove) {
      remove.hidden = false;
      remove.addEventListener("click", function () {
        finding.parentNode.removeChild(finding);
        renumber();
        save();
      });
    }
    var locateButton = finding.querySelector("[data-locate]");
    if (locateButton && navigator.geolocation) {
      locateButton.hidden = false;
      locateButton.addEventListener("click", function () { locate(finding); });
    }
    var box = finding.querySelector("input[name$=-fixed_on_spot]");
    if (box) box.addEventListener("change", function () { showResult(finding); });
    showResult(finding);
    showLocation(finding);
  }

  /* --- grid cells follow the community ---------------------------------------------------------- */

  function filterCells() {
    var chosen = community ? community.value : "";
    each(form.querySelectorAll("input[name=grid_cells]"), function (input) {
      var label = input.closest("label") || input.parentNode;
      var show = !chosen || input.getAttribute("data-community") === chosen;
      label.hidden = !show;
      if (!show) input.checked = false;
    });
  }

  /* --- sending, and sending again ------------------------------------------------------------------ */

  function keep(data) {
    pending = data;
    save();
    showStatus(S.pending, "warn");
    if (!retryTimer) retryTimer = window.setInterval(retry, RETRY_MS);
  }

  function retry() {
    if (!pending || sending) return;
    if (navigator.onLine === false) {
      showStatus(S.pending, "warn");
      return;
    }
    showStatus(S.retrying, "warn");
    send(pending);
  }

  function done() {
    sending = false;
    submitButton.disabled = false;
  }

  function send(data) {
    sending = true;
    submitButton.disabled = true;
    if (!pending) showStatus(S.sending, "info");
    window.fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      done();
      if (response.status >= 500) {
        keep(data);
      } else if (response.redirected && response.url.indexOf("/accounts/login/") !== -1) {
        save();
        showStatus(S.signed_out, "error");
        window.location.assign(response.url);
      } else if (response.ok && response.redirected) {
        pending = null;
        delivered = true;
        window.clearInterval(retryTimer);
        window.clearTimeout(saveTimer);
        clear();
        window.location.assign(response.url);
      } else {
        // The server did not take the draft (say, the end is before the start): post the form the
        // ordinary way so the page shows its errors; the draft stays until it goes through.
        pending = null;
        window.clearInterval(retryTimer);
        retryTimer = null;
        save();
        HTMLFormElement.prototype.submit.call(form);
      }
    }).catch(function () {
      done();
      keep(data);
    });
  }

  /* --- wiring ----------------------------------------------------------------------------------------- */

  each(document.querySelectorAll("[data-nojs]"), function (node) { node.hidden = true; });
  each(findingsBox.querySelectorAll("[data-finding]"), enhanceFinding);
  if (community) community.addEventListener("change", filterCells);
  each(form.querySelectorAll("input[type=file]"), function (input) {
    input.addEventListener("change", function () { checkPhotoCount(input); });
  });
  findingsBox.addEventListener("change", function (event) {
    if (event.target.type === "file") checkPhotoCount(event.target);
  });

  addButton.type = "button";
  addButton.addEventListener("click", function () {
    var finding = addFinding();
    var first = finding.querySelector("textarea, input:not([type=hidden]), select");
    if (first) first.focus();
    save();
  });

  form.addEventListener("input", saveSoon);
  form.addEventListener("change", saveSoon);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return;
    save();
    send(new FormData(form));
  });
  window.addEventListener("online", retry);

  var draft = load();
  if (form.getAttribute("data-bound") === "1") {
    // The server just showed this draft back with its errors: what is on the page is the draft.
    save();
  } else if (draft) {
    restore(draft);
    showStatus(S.restored + " " + S.photos_again, "info", true);
  }
  filterCells();
})();
