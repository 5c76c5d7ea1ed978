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
      if (view === "driver") roadHeat().catch(() => {});
    });
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

  async function driver() {
    const text = document.getElementById("route");
    try {
      const route = await get("/v1/vehicles/" + encodeURIComponent(vehicle) + "/route");
      const p = route.properties;
      const coords = route.geometry.coordinates.map(([x, y]) => [y, x]);
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
      group.addLayer(L.circleMarker([p.position.lat, p.position.lon],
        { radius: 7, color: "#000", fillColor: "#fff", fillOpacity: 1 }));
      replace("route", group);
      if (!fitted) { map.fitBounds(L.latLngBounds(coords).pad(1.5)); fitted = true; }
      document.getElementById("clock").textContent = "as of " + local(p.position.ts, p.timezone);
      text.innerHTML = "Chance of a passenger along this route: <b>" +
        Math.round(100 * p.p_found) + " %</b><br>" + p.segments.length + " steps, " +
        (p.length_m / 1000).toFixed(1) + " km, " + Math.round(p.duration_s / 60) + " min";
    } catch (e) {
      text.innerHTML = '<span class="error">' + e.message + "</span>";
    }
  }

  async function operator() {
    const [cells, fleet, model, alerts] = await Promise.all([
      get("/v1/demand?unit=h3"), get("/v1/vehicles"), get("/v1/model"), get("/v1/alerts")]);
    showHorizon(cells);
    const top = Math.max(0.1, ...cells.features.map((f) => f.properties.ratio));
    replace("heat", L.geoJSON(cells, {
      style: (f) => ({ color: "#555", weight: 0.5, fillColor: ramp(f.properties.ratio / top),
                       fillOpacity: 0.45 }),
      onEachFeature: (f, l) => l.bindTooltip(f.properties.unit_id + ": forecast " +
        f.properties.forecast.toFixed(1) + ", vacant " + f.properties.supply),
    }));
    replace("vehicles", L.geoJSON(fleet, {
      pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 3, weight: 0, fillOpacity: 0.9,
        fillColor: f.properties.occupied ? "#d73027" : "#1a9850" }),
    }));
    const vacant = fleet.features.filter((f) => !f.properties.occupied).length;
    document.getElementById("fleet").textContent =
      fleet.features.length + " on the road, " + vacant + " vacant";
    const acc = model.live_accuracy;
    document.getElementById("model").innerHTML = "champion v" + (model.champion_version || "—") +
      "<br>live RMSE champion " + (acc.champion_rmse == null ? "—" : acc.champion_rmse.toFixed(2)) +
      " vs base " + (acc.base_rmse == null ? "—" : acc.base_rmse.toFixed(2)) +
      " (" + acc.windows + " windows)";
    document.getElementById("alerts").innerHTML = alerts.length
      ? alerts.slice(-8).map((a) => "<li>" + a.kind + ": " + a.message + "</li>").join("")
      : "<li>none</li>";
    if (model.last_plan && model.last_plan.at) {
      document.getElementById("clock").textContent = "as of " + local(model.last_plan.at, model.timezone);
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
