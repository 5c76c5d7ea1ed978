// taxinav web map: the road network as base layer, then the driver's or operator's layers.
// The bearer token comes from the URL fragment (#token=...), never sent to other hosts.
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const view = document.body.dataset.view;
  const vehicle = params.get("vehicle");
  const renderer = L.canvas({ padding: 0.2 });
  const map = L.map("map", { renderer, preferCanvas: true, zoomSnap: 0.25 });
  const layers = {};
  let fitted = false;

  async function get(path) {
    const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) throw new Error(path + ": " + res.status + " " + (await res.text()));
    return res.json();
  }

  function ramp(x) {  // 0..1 → yellow..purple (viridis-like, readable on grey roads)
    const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    const t = Math.max(0, Math.min(1, x)) * (stops.length - 1);
    const i = Math.min(Math.floor(t), stops.length - 2), f = t - i;
    const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
    return "rgb(" + c.join(",") + ")";
  }

  function local(iso, timeZone) {  // the fleet's wall clock, as drivers read it
    return new Date(iso).toLocaleString("en-US", { timeZone });
  }

  function showHorizon(collection) {  // the forecast horizon, as the API states it
    document.querySelectorAll(".horizon").forEach((e) => {
      e.textContent = collection.properties.horizon_min;
    });
  }

  function heatColour(x) {  // demand: pale orange → dark red, distinct from the route ramp
    const t = Math.max(0, Math.min(1, x));
    return "rgb(" + Math.round(253 - 120 * t) + "," + Math.round(208 - 208 * t) + "," +
      Math.round(162 - 150 * t) + ")";
  }

  function replace(name, layer) {
    if (layers[name]) map.removeLayer(layers[name]);
    layers[name] = layer.addTo(map);
    document.body.dataset[name + "Drawn"] = String(layer.getLayers().length);
  }

  function inView() {  // only what the map shows is fetched: a city has 200,000 roads
    const b = map.getBounds().pad(0.1);
    return "bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map((v) => v.toFixed(5)).join(",");
  }

  async function roads() {
    const net = await get("/v1/network?" + inView());
    replace("network", L.geoJSON(net, { style: { color: "#b8b8b8", weight: 1 },
                                        interactive: false }));
  }

  async function base() {
    const config = await (await fetch("/map-config.json")).json();
    if (config.tile_url) {  // optional tiles under the road layer (TAXINAV_SERVE__TILE_URL)
      L.tileLayer(config.tile_url, { maxZoom: 19, attribution: "map tiles" }).addTo(map);
    }
    const [w, s, e, n] = config.extent || [-180, -85, 180, 85];
    map.fitBounds([[s, w], [n, e]]);
    await roads();
    map.on("moveend", () => {
      roads().catch(() => {});
      if (view === "driver" || unit() === "road") tick().catch(() => {});
    });
    document.querySelectorAll("input[name=unit]").forEach((r) => r.addEventListener("change", tick));
  }

  async function roadHeat() {
    const demand = await get("/v1/demand?unit=road&" + inView());
    showHorizon(demand);
    const top = Math.max(0.05, ...demand.features.map((f) => f.properties.forecast));
    replace("heat", L.geoJSON(demand, {
      style: (f) => ({ color: heatColour(f.properties.forecast / top), weight: 2, opacity: 0.7 }),
      interactive: false,
    }));
  }

  // What the driver reads when there is no route to draw, by the API's ``state``.
  const DRIVER_STATES = {
    occupied: "Carrying a passenger — no route needed. A new route appears when the trip ends.",
    off_network: "Your taxi is outside the mapped area. Drive back into it to get a route.",
    no_data: "Waiting for your taxi's first position…",
    no_route: "No route for your position right now; the next plan brings one.",
  };

  function driverState(state, words) {
    document.body.dataset.driverState = state;
    document.getElementById("state").textContent = words;
  }

  async function driver() {
    const text = document.getElementById("route");
    const res = await fetch("/v1/vehicles/" + encodeURIComponent(vehicle) + "/route",
                            { headers: { Authorization: "Bearer " + token } });
    const body = await res.json().catch(() => ({}));
    const checked = "checked " + new Date().toLocaleTimeString("en-US");
    if (!res.ok) {
      const state = body.state in DRIVER_STATES ? body.state : "error";
      driverState(state, DRIVER_STATES[state] || (res.status + ": " + (body.detail || "")));
      if (layers.route) { map.removeLayer(layers.route); delete layers.route; }
      document.body.dataset.routeDrawn = "0";
      text.textContent = "—";
      document.getElementById("clock").textContent = checked;
      return;
    }
    const p = body.properties;
    const coords = body.geometry.coordinates.map(([x, y]) => [y, x]);
    const group = L.layerGroup();
    // One polyline per step so the colour follows the chance of a passenger so far.
    p.p_cumulative.forEach((pc, k) => {
      const end = k + 1 < p.step_start.length ? p.step_start[k + 1] + 1 : coords.length;
      const part = coords.slice(p.step_start[k], end);
      if (part.length > 1) {
        group.addLayer(L.polyline(part, { color: "#fff", weight: 10 }));  // casing
        group.addLayer(L.polyline(part, { color: ramp(pc), weight: 6 }));
      }
    });
    const here = [p.position.lat, p.position.lon];
    group.addLayer(L.circleMarker(here,
      { radius: 7, color: "#000", fillColor: "#fff", fillOpacity: 1 }));
    replace("route", group);
    if (!fitted) { map.fitBounds(L.latLngBounds(coords).pad(1.5)); fitted = true; }
    else if (!map.getBounds().pad(-0.2).contains(here)) { map.panTo(here); }  // follow the taxi
    driverState("route", "Follow the coloured route to find a passenger sooner.");
    document.getElementById("clock").textContent = "position as of " +
      local(p.position.ts, p.timezone) + " (" + checked + ")";
    const turn = p.next_turn ? "Next: turn onto <b>" + p.next_turn.street + "</b> in about " +
      Math.round(p.next_turn.in_m / 10) * 10 + " m" : "Stay on this street";
    const within = Object.entries(p.p_within)
      .map(([m, v]) => m + " min: <b>" + Math.round(100 * v) + " %</b>").join(", ");
    text.innerHTML = turn + "<br>Chance of a passenger within " + within + "<br>" +
      p.segments.length + " steps, " + (p.length_m / 1000).toFixed(1) + " km, " +
      Math.round(p.duration_s / 60) + " min";
  }

  function unit() {
    const on = document.querySelector("input[name=unit]:checked");
    return on ? on.value : "h3";
  }

  async function operator() {
    const u = unit();
    const [cells, fleet, model, alerts] = await Promise.all([
      get("/v1/demand?unit=" + u + (u === "road" ? "&" + inView() : "")), get("/v1/vehicles"),
      get("/v1/model"), get("/v1/alerts")]);
    showHorizon(cells);
    const top = Math.max(0.1, ...cells.features.map((f) => f.properties.ratio));
    replace("heat", L.geoJSON(cells, {
      style: (f) => u === "road"
        ? { color: ramp(f.properties.ratio / top), weight: 3, opacity: 0.8 }
        : { color: "#555", weight: 0.5, fillColor: ramp(f.properties.ratio / top),
            fillOpacity: 0.45 },
      onEachFeature: (f, l) => l.bindTooltip(f.properties.unit_id + ": forecast " +
        f.properties.forecast.toFixed(1) + ", vacant " + f.properties.supply),
    }));
    document.body.dataset.heatUnit = u;
    // Taxis outside the mapped area: hollow grey rings, apart from those on the map's roads.
    replace("vehicles", L.geoJSON(fleet, {
      pointToLayer: (f, ll) => f.properties.in_area
        ? L.circleMarker(ll, { radius: 3, weight: 0, fillOpacity: 0.9,
                               fillColor: f.properties.occupied ? "#d73027" : "#1a9850" })
        : L.circleMarker(ll, { radius: 4, weight: 1.5, color: "#777", fill: false }),
    }));
    const vacant = fleet.features.filter((f) => !f.properties.occupied).length;
    const meta = fleet.properties;
    document.getElementById("fleet").textContent = fleet.features.length + " on the road, " +
      vacant + " vacant; " + meta.outside + " outside the mapped area (grey rings)";
    const acc = model.live_accuracy;
    const t = model.training;
    document.getElementById("model").innerHTML = "champion v" + (model.champion_version || "—") +
      (t && t.train ? "<br>trained on " + t.train.days + " days from " + t.train.start +
        " (local days, " + model.timezone + ")" : "") +
      "<br>live RMSE champion " + (acc.champion_rmse == null ? "—" : acc.champion_rmse.toFixed(2)) +
      " vs base " + (acc.base_rmse == null ? "—" : acc.base_rmse.toFixed(2)) +
      " (" + acc.windows + " windows)";
    document.getElementById("alerts").innerHTML = alerts.length
      ? alerts.slice(-8).map((a) => "<li>" + a.kind + ": " + a.message + "</li>").join("")
      : "<li>none</li>";
    const clock = document.getElementById("clock");
    if (meta.clock) {
      const stale = meta.received_s_ago > 120;
      clock.innerHTML = "data as of " + local(meta.clock, model.timezone) + "<br>" +
        '<span class="' + (stale ? "error" : "fresh") + '">fixes last received ' +
        Math.round(meta.received_s_ago) + " s ago</span>";
    } else {
      clock.textContent = "no fixes received yet";
    }
  }

  async function tick() {
    try {
      if (view === "driver") { await roadHeat(); await driver(); } else { await operator(); }
      document.body.dataset.ready = "1";
    } catch (e) {
      document.getElementById("clock").innerHTML = '<span class="error">' + e.message + "</span>";
    }
  }

  base().then(tick).catch((e) => {
    document.getElementById("clock").innerHTML = '<span class="error">' + e.message + "</span>";
  });
  setInterval(tick, 10000);
})();
