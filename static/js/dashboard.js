/* Dashboard: the period picker, the charts (ECharts) and the hotspot map (Leaflet).
 *
 * The street chart and the map draw numbers the page renders (json_script); the
 * trend, category and source charts load theirs from dashboard:chart_data after
 * the page (each runs a query of its own) and add a table of them under
 * "Numbers". Every bar, slice and grid cell carries the URL of the case list
 * filtered to the cases it counts, and a click goes there. Without JavaScript
 * the page shows the street and map numbers in tables and links each other
 * chart to its CSV.
 */
(function () {
  "use strict";

  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var charts = json("dash-charts") || {};
  var strings = json("dash-strings") || {};
  var palette = ["#0f4c81", "#1a7f37", "#d97706", "#b42318", "#175cd3", "#5b3cc4",
    "#0e6e6e", "#7a5a2b", "#c11574", "#3b7d23", "#6941c6", "#475467"];

  // --- print buttons (the assessment) -----------------------------------------
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // --- period picker: a period other than "custom" applies at once ---------
  var form = document.getElementById("dash-filters");
  var custom = document.getElementById("dash-custom");
  function syncCustom() {
    if (!form || !custom) return;
    var checked = form.querySelector('input[name="period"]:checked');
    var isCustom = !!checked && checked.value === "custom";
    custom.hidden = !isCustom;
    custom.querySelectorAll("input").forEach(function (input) { input.disabled = !isCustom; });
  }
  if (form) {
    form.classList.add("js");
    form.addEventListener("change", function (event) {
      if (event.target.name !== "period") return;
      syncCustom();
      if (event.target.value === "custom") {
        var first = custom && custom.querySelector("input");
        if (first) first.focus();
      } else if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    });
    syncCustom();
  }

  // --- charts ----------------------------------------------------------------
  var instances = [];
  function go(url) {
    if (url) window.location.href = url;
  }
  function make(id, rows, option, urlOf, height) {
    var el = document.getElementById(id);
    if (!el || !window.echarts || !rows.length) return;
    if (height) el.style.height = height + "px";
    var lang = (strings.lang || "").toLowerCase().indexOf("zh") === 0 ? "ZH" : "EN";
    var chart = window.echarts.init(el, null, { renderer: "canvas", locale: lang });
    option.animation = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    option.textStyle = { fontFamily: getComputedStyle(document.body).fontFamily };
    chart.setOption(option);
    chart.on("click", function (params) { go(urlOf(params)); });
    chart.getZr().on("mousemove", function (event) {
      chart.getZr().setCursorStyle(event.target ? "pointer" : "default");
    });
    instances.push(chart);
  }
  var narrow = window.matchMedia("(max-width: 559px)").matches;

  function rankedBars(id, rows, names, values, urls, format, max) {
    make(id, rows, {
      tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + format(p.value); } },
      grid: { left: 8, right: 48, top: 4, bottom: 4, containLabel: true },
      xAxis: { type: "value", minInterval: 1, max: max, axisLabel: { formatter: function (v) { return format(v); } } },
      yAxis: {
        type: "category", inverse: true, data: names,
        axisLabel: { width: narrow ? 84 : 130, overflow: "truncate" }
      },
      series: [{
        type: "bar", barMaxWidth: 20, data: values, itemStyle: { color: palette[0], borderRadius: [0, 3, 3, 0] },
        label: { show: true, position: "right", formatter: function (p) { return format(p.value); } }
      }]
    }, function (p) { return urls[p.dataIndex]; }, Math.max(160, rows.length * 30 + 24));
  }

  var streets = charts.streets || [];
  rankedBars("chart-streets", streets,
    streets.map(function (r) { return r.name; }),
    streets.map(function (r) { return Math.round(r.rate * 1000) / 10; }),
    streets.map(function (r) { return r.url; }),
    function (v) { return v + "%"; }, 100);

  // --- the charts loaded after the page (dashboard:chart_data) ------------------
  function drawTrend(id, trend) {
    make(id, trend, {
      color: [palette[0], palette[1]],
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [strings.reported, strings.closed] },
      grid: { left: 8, right: 12, top: 34, bottom: 4, containLabel: true },
      xAxis: {
        type: "category",
        data: trend.map(function (r) { return r.day.slice(5); }),
        axisTick: { alignWithLabel: true }
      },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: strings.reported, type: "bar", barMaxWidth: 18, data: trend.map(function (r) { return r.reported; }) },
        {
          name: strings.closed, type: "line", symbolSize: 6, triggerLineEvent: true,
          data: trend.map(function (r) { return r.closed; })
        }
      ]
    }, function (p) {
      var row = trend[p.dataIndex];
      return row && (p.seriesIndex === 0 ? row.reported_url : row.closed_url);
    });
  }

  function drawSources(id, sources) {
    make(id, sources, {
      color: palette,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { type: "scroll", bottom: 0 },
      series: [{
        type: "pie", radius: ["38%", "64%"], center: ["50%", "44%"], avoidLabelOverlap: true,
        // On a phone the outer labels do not fit: the legend and the tooltip name the slices.
        label: narrow ? { show: false } : { formatter: "{d}%" },
        data: sources.map(function (r) { return { name: r.name, value: r.count }; })
      }]
    }, function (p) { return sources[p.dataIndex] && sources[p.dataIndex].url; });
  }

  // Each chart: how it is drawn, and the columns of its table of numbers ([header, value, link]).
  var ASYNC = {
    trend: {
      draw: drawTrend,
      columns: [
        [strings.date, function (r) { return r.day; }],
        [strings.reported, function (r) { return r.reported; }, function (r) { return r.reported_url; }],
        [strings.closed, function (r) { return r.closed; }, function (r) { return r.closed_url; }]
      ]
    },
    categories: {
      draw: function (id, rows) {
        rankedBars(id, rows,
          rows.map(function (r) { return r.name; }),
          rows.map(function (r) { return r.count; }),
          rows.map(function (r) { return r.url; }),
          function (v) { return String(v); });
      },
      columns: [
        [strings.category, function (r) { return r.name; }],
        [strings.reported, function (r) { return r.count; }, function (r) { return r.url; }]
      ]
    },
    sources: {
      draw: drawSources,
      columns: [
        [strings.source, function (r) { return r.name; }],
        [strings.reported, function (r) { return r.count; }, function (r) { return r.url; }]
      ]
    }
  };

  function numbersTable(chart, rows) {
    var details = document.querySelector('[data-numbers="' + chart + '"]');
    if (!details || !rows.length) return;
    var columns = ASYNC[chart].columns;
    var table = document.createElement("table");
    table.className = "dash-table";
    var head = table.createTHead().insertRow();
    columns.forEach(function (column, k) {
      var th = document.createElement("th");
      th.scope = "col";
      if (k) th.className = "num";
      th.textContent = column[0] || "";
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.forEach(function (row) {
      var tr = body.insertRow();
      columns.forEach(function (column, k) {
        var td = tr.insertCell();
        if (k) td.className = "num";
        var text = String(column[1](row));
        var url = column[2] && column[2](row);
        if (url) {
          var a = document.createElement("a");
          a.href = url;
          a.textContent = text;
          td.appendChild(a);
        } else {
          td.textContent = text;
        }
      });
    });
    details.querySelector(".table-wrap").appendChild(table);
    details.hidden = false;
  }

  function message(el, text) {
    var p = document.createElement("p");
    p.className = "muted dash-empty";
    p.textContent = text;
    el.replaceWith(p);
  }

  document.querySelectorAll(".chart--async[data-url]").forEach(function (el) {
    var chart = el.getAttribute("data-chart");
    var spec = ASYNC[chart];
    if (!spec || !window.fetch) return;
    fetch(el.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        el.removeAttribute("aria-busy");
        if (!data.rows.length) {
          message(el, el.getAttribute("data-empty"));
          return;
        }
        if (window.echarts) {
          el.innerHTML = "";
          el.setAttribute("role", "img");
          el.setAttribute("aria-label", el.getAttribute("data-label"));
          spec.draw(el.id, data.rows);
        }
        numbersTable(chart, data.rows);
      })
      .catch(function () {
        // The link to the CSV stays; say why there is no chart.
        el.removeAttribute("aria-busy");
        var note = document.createElement("p");
        note.className = "small muted";
        note.textContent = strings.failed || "";
        el.insertBefore(note, el.firstChild);
      });
  });

  var resizing;
  function resizeAll() {
    instances.forEach(function (chart) { chart.resize(); });
  }
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(resizeAll, 150);
  });
  window.addEventListener("beforeprint", resizeAll);

  // --- hotspot map: grid cells coloured by the cases reported in them ----------
  var mapEl = document.getElementById("hotspot-map");
  var mapData = json("dash-map-data");
  var mapConfig = json("dash-map-config") || {};
  if (mapEl && window.L && mapData && mapData.features.length) {
    var colours = ["#fde7c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];
    var counts = mapData.features.map(function (f) { return f.properties.count; })
      .filter(function (n) { return n > 0; }).sort(function (a, b) { return a - b; });
    // Quantile breaks of the cells that have cases; empty cells stay grey.
    var breaks = [];
    for (var i = 1; i < colours.length; i++) {
      var value = counts.length ? counts[Math.floor((counts.length - 1) * i / colours.length)] : 0;
      if (!breaks.length || value > breaks[breaks.length - 1]) breaks.push(value);
    }
    function colourOf(n) {
      if (!n) return "#eef0f2";
      var k = 0;
      while (k < breaks.length && n > breaks[k]) k++;
      return colours[Math.min(k + (colours.length - 1 - breaks.length), colours.length - 1)];
    }
    var map = window.L.map(mapEl, { attributionControl: !!mapConfig.tileUrl, zoomSnap: 0.5, scrollWheelZoom: false });
    if (mapConfig.tileUrl) {
      window.L.tileLayer(mapConfig.tileUrl, { maxZoom: 19, attribution: mapConfig.tileAttribution || "" }).addTo(map);
    }
    var layer = window.L.geoJSON(mapData, {
      style: function (feature) {
        return { color: "#475467", weight: 1, fillColor: colourOf(feature.properties.count), fillOpacity: 0.8 };
      },
      onEachFeature: function (feature, shape) {
        var p = feature.properties;
        shape.bindTooltip(p.name + " · " + p.community + ": " + p.count + " " + (strings.cases || ""));
        shape.on("click", function () { go(p.url); });
      }
    }).addTo(map);
    map.fitBounds(layer.getBounds(), { padding: [6, 6] });

    var legend = document.getElementById("hotspot-legend");
    if (legend) {
      var items = [["#eef0f2", "0"]];
      var low = 1;
      breaks.concat([counts.length ? counts[counts.length - 1] : 0]).forEach(function (high) {
        if (high < low) return;
        items.push([colourOf(high), low === high ? String(low) : low + "–" + high]);
        low = high + 1;
      });
      legend.innerHTML = "";
      items.forEach(function (item) {
        var span = document.createElement("span");
        var swatch = document.createElement("i");
        swatch.style.background = item[0];
        span.appendChild(swatch);
        span.appendChild(document.createTextNode(item[1]));
        legend.appendChild(span);
      });
    }
  }
})();
