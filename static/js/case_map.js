/* Case detail: the case's location as a pin on a small Leaflet map, inside its community's boundary.
 *
 * Tiles are loaded only when the deployment configures a tile URL
 * (MAP_TILE_URL); otherwise the pin sits in the community's outline on a
 * plain background and the page talks to no other host. Without JavaScript
 * the coordinates above the map remain.
 */
(function () {
  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function init() {
    var el = document.getElementById("case-map");
    var cfg = json("case-map-config");
    if (!el || !cfg || !window.L || el.dataset.ready) return;
    el.dataset.ready = "1";
    var L = window.L;
    var here = L.latLng(cfg.lat, cfg.lng);
    var map = L.map(el, { attributionControl: !!cfg.tileUrl, scrollWheelZoom: false, zoomSnap: 0.5 });
    // The view first: vector layers need the map's pixel origin.
    map.setView(here, 16);
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: cfg.tileAttribution || "" }).addTo(map);
    }
    var area = json("case-map-area");
    if (area) {
      L.geoJSON(area, { interactive: false, style: { color: "#1f5f99", weight: 2, fillOpacity: 0.06 } }).addTo(map);
    }
    L.circleMarker(here, { radius: 9, color: "#fff", weight: 3, fillColor: "#d9480f", fillOpacity: 1 }).addTo(map);
  }

  if (window.L) {
    init();
  } else {
    // Loaded by htmx with the page: the Leaflet script may still be on its way.
    var leaflet = document.querySelector('script[src*="leaflet/leaflet.js"]');
    if (leaflet) leaflet.addEventListener("load", init);
    document.addEventListener("DOMContentLoaded", init);
  }
})();
