/* The public complaint form: category picker, map pin, nearby reports ("我也遇到了") and photos.
 *
 * Plain ES2017, no build step, no other host: Leaflet is vendored, the
 * community boundaries and nearby reports come from this site, and map
 * tiles are loaded only when the deployment configures a tile URL. The form
 * works without this script (typed address or community, plain file input).
 */
(function () {
  "use strict";

  var configElement = document.getElementById("report-config");
  var form = document.getElementById("report-form");
  if (!configElement || !form) return;
  var cfg = JSON.parse(configElement.textContent);
  var S = cfg.strings;

  function byId(id) { return document.getElementById(id); }
  function fmt(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (match, key) {
      return values[key] === undefined || values[key] === null ? "" : String(values[key]);
    });
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function csrfToken() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function uuid4() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  var submitButton = byId("submit-report");
  var description = byId("id_description");
  var phoneInput = byId("id_reporter_phone");
  var nameInput = byId("id_reporter_name");

  /* --- category picker ------------------------------------------------------------------ */

  var radios = Array.prototype.slice.call(form.querySelectorAll("input[name=category]"));
  var options = radios.map(function (radio) { return radio.closest(".cat-option"); });
  var search = byId("cat-search");
  var pickerBody = byId("cat-body");
  var chosenBox = byId("cat-chosen");
  var chosenText = byId("cat-chosen-text");
  var pointerChoice = false;

  function selectedCategory() {
    var checked = form.querySelector("input[name=category]:checked");
    return checked ? checked.value : "";
  }

  function filterCategories(announce) {
    var query = search.value.trim().toLowerCase();
    var shown = 0;
    options.forEach(function (label) {
      var text = label.getAttribute("data-search") || "";
      var unsure = text === "*";
      var match = unsure || !query || text.indexOf(query) !== -1;
      label.hidden = !match;
      if (match && !unsure) shown += 1;
    });
    Array.prototype.forEach.call(form.querySelectorAll(".cat-group"), function (group) {
      group.hidden = !group.querySelector(".cat-option:not([hidden])");
    });
    byId("cat-empty").hidden = shown > 0;
    if (announce) byId("cat-count").textContent = fmt(S.matches, { count: shown });
  }

  function applyRules() {
    var rules = cfg.categories[selectedCategory()] || null;
    var notice = byId("category-notice");
    var closed = byId("category-closed");
    notice.textContent = rules && rules.notice ? rules.notice : "";
    notice.hidden = !(rules && rules.notice);
    closed.textContent = rules && rules.closed ? rules.closedMessage : "";
    closed.hidden = !(rules && rules.closed);
    description.placeholder = (rules && rules.hint) || description.getAttribute("data-default-placeholder");
    byId("photo-required").hidden = !(rules && rules.photoRequired);
    byId("phone-required").hidden = !(rules && rules.contactRequired);
    phoneInput.setAttribute("aria-required", rules && rules.contactRequired ? "true" : "false");
    var anonymousAllowed = !rules || rules.anonymousAllowed;
    var anonymous = byId("id_is_anonymous");
    byId("anonymous-field").hidden = !anonymousAllowed;
    anonymous.disabled = !anonymousAllowed;
    if (!anonymousAllowed) anonymous.checked = false;
    submitButton.disabled = !!(rules && rules.closed);
    options.forEach(function (label) {
      label.classList.toggle("is-checked", label.querySelector("input").checked);
    });
  }

  function collapsePicker() {
    var checked = form.querySelector("input[name=category]:checked");
    if (!checked) return;
    var label = checked.closest(".cat-option");
    var icon = form.classList.contains("no-emoji") ? "" : label.querySelector(".cat-option__icon").textContent + " ";
    chosenText.textContent = S.chosen + " " + icon + label.querySelector(".cat-option__name").textContent.trim();
    chosenBox.hidden = false;
    pickerBody.hidden = true;
  }

  function expandPicker() {
    chosenBox.hidden = true;
    pickerBody.hidden = false;
    var checked = form.querySelector("input[name=category]:checked");
    (checked || search).focus();
  }

  search.addEventListener("input", function () { filterCategories(true); });
  search.addEventListener("keydown", function (event) {
    // Enter in the search box picks the only match instead of submitting the form.
    if (event.key !== "Enter") return;
    event.preventDefault();
    var visible = options.filter(function (label) {
      return !label.hidden && label.getAttribute("data-search") !== "*";
    });
    if (visible.length === 1) {
      visible[0].querySelector("input").checked = true;
      onCategoryChange();
      collapsePicker();
      description.focus();
    }
  });
  byId("cat-list").addEventListener("pointerdown", function () { pointerChoice = true; });
  byId("cat-list").addEventListener("keydown", function () { pointerChoice = false; });
  byId("cat-change").addEventListener("click", expandPicker);

  function onCategoryChange() {
    applyRules();
    lookupNearby();
  }
  radios.forEach(function (radio) {
    radio.addEventListener("change", function () {
      onCategoryChange();
      // Arrow keys move through the radios: only a tap or click closes the list.
      if (pointerChoice) collapsePicker();
    });
  });

  /* --- map -------------------------------------------------------------------------------- */

  var latInput = byId("id_lat");
  var lngInput = byId("id_lng");
  var communitySelect = byId("id_community");
  var pinStatus = byId("pin-status");
  var map = null;
  var marker = null;
  var areas = null;
  var areaLayers = {};

  function ringContains(ring, lng, lat) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function polygonContains(rings, lng, lat) {
    if (!ringContains(rings[0], lng, lat)) return false;
    for (var k = 1; k < rings.length; k++) if (ringContains(rings[k], lng, lat)) return false;
    return true;
  }
  function areaAt(lat, lng) {
    if (!areas) return undefined;
    for (var i = 0; i < areas.length; i++) {
      var geometry = areas[i].geometry;
      var polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
      for (var p = 0; p < polygons.length; p++) if (polygonContains(polygons[p], lng, lat)) return areas[i];
    }
    return null;
  }

  function describePin() {
    if (!latInput.value) return;
    var lat = parseFloat(latInput.value), lng = parseFloat(lngInput.value);
    var area = areaAt(lat, lng);
    var where = S.pinPlaced;
    if (area) {
      pinStatus.textContent = where + " " + fmt(S.inside, { name: area.properties.name });
      pinStatus.className = "pin-status pin-status--ok";
      if (communitySelect.querySelector('option[value="' + area.properties.id + '"]')) {
        communitySelect.value = String(area.properties.id);
      }
    } else if (area === null) {
      pinStatus.textContent = where + " " + S.outside;
      pinStatus.className = "pin-status pin-status--warn";
    } else {
      pinStatus.textContent = where;
      pinStatus.className = "pin-status";
    }
  }

  function setPin(latlng) {
    var lat = Math.round(latlng.lat * 1e6) / 1e6;
    var lng = Math.round(latlng.lng * 1e6) / 1e6;
    latInput.value = lat;
    lngInput.value = lng;
    if (!marker) {
      marker = L.marker([lat, lng], { draggable: true, keyboard: false, autoPan: true }).addTo(map);
      marker.on("dragend", function () { setPin(marker.getLatLng()); });
    } else {
      marker.setLatLng([lat, lng]);
    }
    describePin();
    lookupNearby();
  }

  function fitArea(id) {
    var layer = areaLayers[id];
    if (layer) map.fitBounds(layer.getBounds(), { padding: [12, 12] });
  }

  function initMap() {
    if (!window.L) return;
    byId("map-wrap").hidden = false;
    byId("map-tools").hidden = false;
    map = L.map("map", { attributionControl: !!cfg.tileUrl, zoomSnap: 0.5 });
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution || "" }).addTo(map);
    } else {
      // No tiles configured: community boundaries on a plain background, nothing from another host.
      map.getContainer().classList.add("map--plain");
    }
    var extent = cfg.extent;
    if (extent) map.fitBounds([[extent[0], extent[1]], [extent[2], extent[3]]], { padding: [8, 8] });
    else map.setView([35, 105], 4);
    if (latInput.value && lngInput.value) {
      var start = L.latLng(parseFloat(latInput.value), parseFloat(lngInput.value));
      map.setView(start, 16);
      setPin(start);
    }
    map.on("click", function (event) { setPin(event.latlng); });

    fetch(cfg.areasUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { features: [] }; })
      .then(function (data) {
        areas = data.features || [];
        areas.forEach(function (feature) {
          var layer = L.geoJSON(feature, {
            interactive: false,
            style: { color: "#0f4c81", weight: 2, opacity: 0.8, fillColor: "#0f4c81", fillOpacity: 0.07 },
          }).addTo(map);
          areaLayers[feature.properties.id] = layer;
          var label = el("span", "", feature.properties.name);
          // The name sits just inside the top edge, clear of a pin dropped in the middle.
          var bounds = layer.getBounds();
          L.tooltip({ permanent: true, direction: "bottom", offset: [0, 2], className: "area-label", interactive: false })
            .setLatLng([bounds.getNorth(), bounds.getCenter().lng])
            .setContent(label)
            .addTo(map);
        });
        if (!latInput.value && communitySelect.value) fitArea(communitySelect.value);
        describePin();
      })
      .catch(function () { areas = null; });

    communitySelect.addEventListener("change", function () {
      if (!latInput.value && communitySelect.value) fitArea(communitySelect.value);
    });

    byId("pin-centre").addEventListener("click", function () { setPin(map.getCenter()); });
    byId("locate-me").addEventListener("click", function () {
      if (!navigator.geolocation) {
        pinStatus.textContent = S.noGeolocation;
        return;
      }
      pinStatus.textContent = S.locating;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          var here = L.latLng(position.coords.latitude, position.coords.longitude);
          map.setView(here, Math.max(map.getZoom(), 16));
          setPin(here);
        },
        function () { pinStatus.textContent = S.locateFailed; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  /* --- nearby reports: 我也遇到了 ------------------------------------------------------------ */

  var nearbyBox = byId("nearby");
  var nearbyTimer = null;
  var nearbySequence = 0;

  function lookupNearby() {
    clearTimeout(nearbyTimer);
    nearbyTimer = setTimeout(function () {
      var category = selectedCategory();
      if (!category || category === "unsure" || !latInput.value) {
        nearbyBox.hidden = true;
        nearbyBox.textContent = "";
        return;
      }
      var sequence = ++nearbySequence;
      var query = new URLSearchParams({ category: category, lat: latInput.value, lng: lngInput.value });
      fetch(cfg.nearbyUrl + "?" + query.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) {
          if (sequence === nearbySequence) renderNearby(data.results || []);
        })
        .catch(function () {});
    }, 250);
  }

  function renderNearby(results) {
    nearbyBox.textContent = "";
    if (!results.length) {
      nearbyBox.hidden = true;
      return;
    }
    var title = el("h2", "nearby__title", S.nearbyTitle);
    title.id = "nearby-title";
    nearbyBox.appendChild(title);
    nearbyBox.appendChild(el("p", "small", S.nearbyIntro));
    var list = el("ul", "nearby__list");
    results.forEach(function (item) { list.appendChild(nearbyItem(item)); });
    nearbyBox.appendChild(list);
    nearbyBox.hidden = false;
  }

  function nearbyItem(item) {
    var li = el("li", "nearby__item");
    var head = el("div", "nearby__head");
    head.appendChild(el("span", "mono small", item.number));
    head.appendChild(el("span", "badge badge--" + item.status, item.statusLabel));
    li.appendChild(head);
    li.appendChild(el("p", "nearby__excerpt", item.excerpt));
    var meta = [fmt(S.metres, { distance: item.distance }), fmt(S.reportedOn, { date: item.reportedOn })];
    if (item.reports > 1) meta.push(fmt(S.reports, { count: item.reports }));
    li.appendChild(el("p", "nearby__meta small muted", meta.join(" · ")));

    var button = el("button", "button button--secondary button--small", S.meToo);
    button.type = "button";
    button.setAttribute("aria-expanded", "false");
    li.appendChild(button);

    var panel = el("div", "nearby__join");
    panel.hidden = true;
    var key = uuid4();
    var nameField = joinField(S.nameOptional, "text", nameInput.value, "name");
    var phoneField = joinField(S.phoneOptional, "tel", phoneInput.value, "tel");
    panel.appendChild(nameField.wrap);
    panel.appendChild(phoneField.wrap);
    var error = el("p", "field-error");
    error.setAttribute("role", "alert");
    var actions = el("div", "actions");
    var confirm = el("button", "button button--small", S.confirm);
    confirm.type = "button";
    var cancel = el("button", "button button--secondary button--small", S.cancel);
    cancel.type = "button";
    actions.appendChild(confirm);
    actions.appendChild(cancel);
    panel.appendChild(error);
    panel.appendChild(actions);
    li.appendChild(panel);

    button.addEventListener("click", function () {
      panel.hidden = false;
      button.hidden = true;
      button.setAttribute("aria-expanded", "true");
      phoneField.input.focus();
    });
    cancel.addEventListener("click", function () {
      panel.hidden = true;
      button.hidden = false;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    });
    confirm.addEventListener("click", function () {
      if (confirm.disabled) return;
      confirm.disabled = true;
      confirm.textContent = S.sending;
      error.textContent = "";
      var body = new FormData();
      body.append("case", item.id);
      body.append("reporter_name", nameField.input.value);
      body.append("reporter_phone", phoneField.input.value);
      body.append("idempotency_key", key);
      fetch(cfg.coReportUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (result) {
          if (result.ok) {
            var done = el("p", "nearby__done", result.data.message);
            done.setAttribute("role", "status");
            done.tabIndex = -1;
            li.replaceChild(done, panel);
            done.focus();
          } else {
            error.textContent = result.data.error || S.failed;
            confirm.disabled = false;
            confirm.textContent = S.confirm;
          }
        })
        .catch(function () {
          error.textContent = S.failed;
          confirm.disabled = false;
          confirm.textContent = S.confirm;
        });
    });
    return li;
  }

  var joinFieldCount = 0;
  function joinField(labelText, type, value, autocomplete) {
    joinFieldCount += 1;
    var wrap = el("div", "field");
    var label = el("label", "", labelText);
    var input = el("input");
    input.type = type;
    input.id = "join-field-" + joinFieldCount;
    input.value = value || "";
    input.autocomplete = autocomplete;
    if (type === "tel") input.inputMode = "tel";
    label.htmlFor = input.id;
    wrap.appendChild(label);
    wrap.appendChild(input);
    return { wrap: wrap, input: input };
  }

  /* --- photos ------------------------------------------------------------------------------ */

  var photoInput = byId("id_photos");
  var previews = byId("photo-previews");
  var photoError = byId("photo-client-error");
  var maxBytes = cfg.maxPhotoMb * 1024 * 1024;
  var photos = [];
  var previewUrls = [];
  var pendingPhotos = 0;
  var shrunk = typeof WeakSet === "function" ? new WeakSet() : null;
  var canRebuild = (function () {
    try {
      return typeof DataTransfer === "function" && !!new DataTransfer().items;
    } catch (e) {
      return false;
    }
  })();

  // Phone photos are large: send at most 2048 px on the long side, re-encoded
  // as JPEG (which also drops the EXIF GPS position). The server checks again.
  function shrink(file) {
    var worthIt = file.size > 1.5 * 1024 * 1024 && /^image\/(jpeg|png|webp)$/.test(file.type);
    if (!canRebuild || !worthIt || !shrunk || shrunk.has(file) || !HTMLCanvasElement.prototype.toBlob) {
      return Promise.resolve(file);
    }
    return new Promise(function (resolve) {
      var url = URL.createObjectURL(file);
      var image = new Image();
      image.onload = function () {
        var scale = Math.min(1, 2048 / Math.max(image.naturalWidth, image.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(image.naturalWidth * scale);
        canvas.height = Math.round(image.naturalHeight * scale);
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(
          function (blob) {
            if (!blob || blob.size >= file.size) return resolve(file);
            var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
            var smaller = new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
            shrunk.add(smaller);
            resolve(smaller);
          },
          "image/jpeg",
          0.85
        );
      };
      image.onerror = function () {
        URL.revokeObjectURL(url);
        resolve(file);
      };
      image.src = url;
    });
  }

  function syncInput() {
    if (!canRebuild) return;
    var transfer = new DataTransfer();
    photos.forEach(function (file) { transfer.items.add(file); });
    photoInput.files = transfer.files;
  }

  function renderPreviews() {
    previewUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    previewUrls = [];
    previews.textContent = "";
    photos.forEach(function (file, index) {
      var li = el("li", "photo-preview");
      var url = URL.createObjectURL(file);
      previewUrls.push(url);
      var image = el("img");
      image.src = url;
      image.alt = file.name;
      li.appendChild(image);
      if (canRebuild) {
        var remove = el("button", "photo-preview__remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", fmt(S.removePhoto, { name: file.name }));
        remove.addEventListener("click", function () {
          photos.splice(index, 1);
          syncInput();
          renderPreviews();
          photoInput.focus();
        });
        li.appendChild(remove);
      }
      previews.appendChild(li);
    });
    if (photos.length) {
      var count = el("li", "photo-previews__count small muted", fmt(S.photoCount, { count: photos.length, max: cfg.maxPhotos }));
      previews.appendChild(count);
    }
  }

  function showPhotoErrors(errors) {
    photoError.textContent = errors.join(" ");
    photoError.hidden = !errors.length;
  }

  photoInput.addEventListener("change", function () {
    var incoming = Array.prototype.slice.call(photoInput.files || []);
    var errors = [];
    // Each pick adds to the photos chosen before (a phone camera gives one photo per pick).
    var next = canRebuild ? photos.slice() : [];
    incoming.forEach(function (file) {
      if (file.type && !/^image\//.test(file.type)) errors.push(fmt(S.photoNotImage, { name: file.name }));
      else next.push(file);
    });
    if (next.length > cfg.maxPhotos) {
      errors.push(S.photosTooMany);
      next = next.slice(0, cfg.maxPhotos);
    }
    pendingPhotos += 1;
    submitButton.setAttribute("aria-busy", "true");
    Promise.all(next.map(shrink)).then(function (files) {
      photos = files.filter(function (file) {
        if (file.size <= maxBytes) return true;
        errors.push(fmt(S.photoTooLarge, { name: file.name, limit: cfg.maxPhotoMb }));
        return false;
      });
      syncInput();
      renderPreviews();
      showPhotoErrors(errors);
      pendingPhotos -= 1;
      if (!pendingPhotos) submitButton.removeAttribute("aria-busy");
    });
  });

  /* --- submitting ------------------------------------------------------------------------- */

  var submitting = false;
  var submitLabel = submitButton.textContent;
  form.addEventListener("submit", function (event) {
    // The idempotency key makes a second submission harmless; this just saves the trip.
    if (submitting || pendingPhotos) {
      event.preventDefault();
      return;
    }
    submitting = true;
    submitButton.textContent = submitButton.getAttribute("data-sending");
    submitButton.setAttribute("aria-disabled", "true");
  });
  window.addEventListener("pageshow", function () {
    submitting = false;
    submitButton.textContent = submitLabel;
    submitButton.removeAttribute("aria-disabled");
  });

  /* --- start ------------------------------------------------------------------------------- */

  // Category icons are emoji: where no colour emoji font exists (some desktop
  // Linux set-ups) they would show as empty boxes, so they are left out.
  (function () {
    try {
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = 20;
      var context = canvas.getContext("2d");
      context.textBaseline = "top";
      context.font = "16px sans-serif";
      context.fillText("\ud83d\uded2", 0, 0);
      var pixels = context.getImageData(0, 0, 20, 20).data;
      for (var i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] && (pixels[i] !== pixels[i + 1] || pixels[i + 1] !== pixels[i + 2])) return;
      }
      form.classList.add("no-emoji");
    } catch (e) { /* keep the icons */ }
  })();

  filterCategories(false);
  applyRules();
  if (selectedCategory() && !byId("category-picker").querySelector(".field-error")) collapsePicker();
  initMap();
  var summary = byId("error-summary");
  if (summary) summary.focus();
})();
