// The built-in dashboard: asks /api/v1/report for the chosen period and draws the map, the
// share-over-time chart and the dirty-dozen table, /api/v1/normalised for the same period per
// Internet user, person or address, and /api/v1/live for the last 24 hours.
// No framework, no external assets.
"use strict";

const $ = (id) => document.getElementById(id);
const defaults = { compare: "year", by: "country", top: "12", per: "internet-user" };
const headings = { country: "Country", continent: "Continent", asn: "Network", trap: "Trap" };
const palette = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#f0e442", "#000000"];
let chart = null;
let liveChart = null;

async function loadMap() {
  $("map").innerHTML = await (await fetch("world.svg")).text();
}

// Periods, buckets and hours are UTC everywhere in spamgeo; the time axes say so too.
const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

function pct(v) { return v == null ? "" : v.toFixed(2) + "%"; }

// colour maps a share (0..max) to a shade of red; the square root keeps small shares visible
// and the palest shade stays apart from the grey of countries without messages.
function colour(share, max) {
  const t = 0.15 + 0.85 * Math.sqrt(share / max);
  const c = (a, b) => Math.round(a + (b - a) * t);
  return `rgb(${c(255, 165)},${c(235, 15)},${c(225, 21)})`;
}

// drawMap shades every country with messages in the period (all of them, not only the table's
// top rows); a country without messages keeps the page's pale grey, which the legend names.
function drawMap(rows) {
  const countries = rows.filter((r) => r.code && r.code.length === 2);
  const max = Math.max(...countries.map((r) => r.share_pct), 0);
  document.querySelectorAll("#map path").forEach((p) => { p.style.fill = ""; p.removeAttribute("data-share"); p.replaceChildren(); });
  const offMap = [];
  for (const r of countries) {
    const p = document.querySelector(`#map path[id="${r.code.toLowerCase()}"]`);
    if (!p) { offMap.push(`${r.name} ${pct(r.share_pct)}`); continue; }
    p.style.fill = colour(r.share_pct, max);
    p.setAttribute("data-share", r.share_pct);
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${r.name}: ${pct(r.share_pct)}`;
    p.appendChild(title);
  }
  drawLegend(max, offMap);
}

function drawLegend(max, offMap) {
  const legend = $("legend");
  legend.innerHTML = "";
  const span = (text, cls, fill) => {
    const s = document.createElement("span");
    s.textContent = text;
    if (cls) s.className = cls;
    if (fill) s.style.background = fill;
    legend.appendChild(s);
    return s;
  };
  if (max > 0) {
    span("0%");
    for (const t of [0.2, 0.4, 0.6, 0.8, 1]) span("", "swatch", colour(max * t * t, max)).title = "up to " + pct(max * t * t);
    span(pct(max));
  }
  span("", "swatch none");
  span("no messages");
  if (offMap.length) span("· not on the map: " + offMap.join(", "));
}

// A comparison is usable when one was asked for and its period had messages (see the API's notes).
function compared(report) { return report.compare_period != null && report.compare_messages > 0; }

function drawTable(report, by) {
  const withCompare = compared(report);
  $("group-heading").textContent = headings[by];
  $("table").querySelectorAll("th.compare").forEach((th) => { th.hidden = !withCompare; });
  const body = $("table").querySelector("tbody");
  body.innerHTML = "";
  for (const r of report.rows) {
    const cells = [[r.rank || "", "num"], [r.name, ""], [pct(r.share_pct), "num"]];
    if (withCompare) {
      const change = r.change_pp == null ? "" : (r.change_pp > 0 ? "+" : "") + r.change_pp.toFixed(2) + " pp";
      cells.push([r.compare_share_pct == null ? "" : pct(r.compare_share_pct), "num"], [change, "num"]);
    }
    body.appendChild(row(cells));
  }
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const [text, cls] of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    td.className = cls;
    tr.appendChild(td);
  }
  return tr;
}

function drawChart(report) {
  if (chart) { chart.destroy(); chart = null; }
  const s = report.series;
  if (!s || !s.times.length || !report.rows.length) return;
  const names = Object.fromEntries(report.rows.map((r) => [r.code.replace(/^AS/, ""), r.name]));
  // In the table's order, so the colours follow the ranking.
  const keys = report.rows.map((r) => r.code.replace(/^AS/, "")).filter((k) => k in s.shares);
  const data = [s.times.map((t) => Date.parse(t) / 1000), ...keys.map((k) => s.shares[k])];
  chart = new uPlot({
    width: $("map").clientWidth || 600, height: 260, title: `Share of all messages over time, by ${s.bucket}`,
    series: [{}, ...keys.map((k, i) => ({ label: names[k] || k, stroke: palette[i % palette.length], width: 2, spanGaps: false, value: (u, v) => pct(v) }))],
    // Shares of all messages never pass 100%; uPlot's own range doubles a flat 100% line to 200%.
    scales: { y: { range: (u, lo, hi) => [0, Math.min(100, Math.max(1, Math.ceil((hi || 0) * 1.1)))] } },
    axes: [{}, { values: (u, vals) => vals.map((v) => v + "%") }],
    tzDate: utc,
  }, data, $("chart"));
}

// drawMovers lists what rose and fell beyond chance against the comparison (absent without one).
function drawMovers(m) {
  const el = $("movers");
  el.textContent = "";
  if (!m) return;
  const list = (lines) => lines.slice(0, 5).map((l) => `${l.name} (${l.change_pp > 0 ? "+" : ""}${l.change_pp.toFixed(1)} pp)`).join(", ") || "none";
  el.textContent = `Beyond chance (${m.test}): rose ${list(m.risen)}; fell ${list(m.fallen)}.`;
}

// The normalised ranking: per Internet user or person by country, per address by country or,
// when the table is by network, by network. Groups the API lists without ranking them (too few
// messages, too small, no figure) are named under the table, never shown as 0.
const units = {
  "internet-user": "Messages per million Internet users",
  capita: "Messages per million people",
  "address-space": "Unique sources per million IPv4 addresses",
};

function normalisedBy(c) { return c.per === "address-space" && c.by === "asn" ? "asn" : "country"; }

function drawNormalised(n, c) {
  $("normalised-heading").textContent = headings[normalisedBy(c)];
  $("normalised-unit").textContent = units[c.per];
  $("normalised-multiple").textContent = n && n.reference ? "× " + n.reference : "×";
  const body = $("normalised-table").querySelector("tbody");
  body.innerHTML = "";
  $("normalised-unranked").textContent = "";
  $("normalised-method").textContent = "";
  $("normalised-table").hidden = !n || !n.rows.length;
  if (!n) return;
  for (const r of n.rows) {
    const multiple = r.multiple_of_reference == null ? "" : r.multiple_of_reference.toFixed(2);
    body.appendChild(row([[r.rank, "num"], [r.name, ""], [r.per_million.toFixed(1), "num"], [multiple, "num"]]));
  }
  const listed = [
    ["too few messages to rank", n.too_few_messages], ["too few unique sources to rank", n.too_few_sources],
    ["too small to rank", n.too_small], ["no figure in the dataset", n.no_data], ["no address space in the GeoIP files", n.no_address_space],
  ].filter(([, names]) => names && names.length).map(([why, names]) => `${why}: ${names.join(", ")}`);
  $("normalised-unranked").textContent = listed.length ? "Listed, not ranked — " + listed.join("; ") + "." : "";
  $("normalised-method").textContent = n.methodology;
}

// choice is what the controls say, as API parameters.
function choice() {
  return { period: $("period").value.trim(), compare: $("compare").value, by: $("by").value, top: $("top").value, per: $("per").value };
}

// pageQuery is the choice as the page's own URL keeps it: defaults left out.
function pageQuery(c) {
  const q = new URLSearchParams({ period: c.period });
  for (const k of ["compare", "by", "top", "per"]) if (c[k] !== defaults[k] || k === "compare") q.set(k, c[k]);
  return q;
}

function setDownloads(c) {
  const base = new URLSearchParams({ period: c.period, compare: c.compare, by: c.by, top: c.top });
  const link = (id, extra) => { $(id).href = "/api/v1/report?" + new URLSearchParams([...base, ...Object.entries(extra)]); };
  link("download-csv", { format: "csv" });
  link("download-bars", { format: "png", chart: "bars" });
  link("download-time", { format: "png", chart: "time" });
}

// pending is the request in flight: a newer choice aborts it, so an older answer arriving late
// never paints over the period the reader chose last.
let pending = null;

async function getJSON(url, signal) {
  const res = await fetch(url, { signal });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  return body;
}

async function show() {
  const c = choice();
  if (pending) pending.abort();
  const request = new AbortController();
  pending = request;
  $("error").textContent = "";
  let report, map, normalised;
  try {
    [report, map, normalised] = await Promise.all([
      getJSON("/api/v1/report?" + new URLSearchParams({ period: c.period, compare: c.compare, by: c.by, top: c.top, movers: "true" }), request.signal),
      getJSON("/api/v1/report?" + new URLSearchParams({ period: c.period, by: "country", top: "250", series: "false" }), request.signal),
      // A normalisation that cannot be computed (no address space stored, events past their
      // retention) says why in its own section; the rest of the page still shows.
      getJSON("/api/v1/normalised?" + new URLSearchParams({ period: c.period, per: c.per, by: normalisedBy(c), top: c.top }), request.signal)
        .catch((e) => { if (request.signal.aborted) throw e; return { error: e.message }; }),
    ]);
  } catch (e) {
    if (request.signal.aborted) return;
    pending = null;
    $("error").textContent = e.message;
    return;
  }
  if (pending !== request) return;
  pending = null;
  $("summary").textContent = [...report.sentences, ...report.notes].join(" ");
  drawMap(map.rows);
  drawTable(report, c.by);
  drawMovers(report.movers);
  drawNormalised(normalised.error ? null : normalised, c);
  $("normalised-summary").textContent = normalised.error ? "Not available for this period: " + normalised.error : normalised.sentences.join(" ");
  drawChart(report);
  setDownloads(c);
  history.replaceState(null, "", "?" + pageQuery(c));
  document.body.dataset.by = c.by;
  document.body.dataset.per = c.per;
  document.body.dataset.period = report.period; // last: tests and screenshots wait for it
}

// The live view: messages per hour of the last 24 hours and the countries that sent most,
// refreshed every `refresh` seconds (60 unless the page's URL says otherwise).
async function showLive() {
  let live;
  try {
    live = await getJSON("/api/v1/live?hours=24&top=8");
  } catch (e) {
    $("live-summary").textContent = "The live view could not be loaded: " + e.message;
    return;
  }
  const at = new Date().toISOString().slice(11, 16);
  $("live-summary").textContent = live.messages_total === 0
    ? `No messages in the last 24 hours (updated ${at} UTC).`
    : `${live.messages_total.toLocaleString("en")} ${live.messages_total === 1 ? "message" : "messages"} in the last 24 hours; the last bar is the current hour, still filling (updated ${at} UTC).`;
  const body = $("live-countries").querySelector("tbody");
  body.innerHTML = "";
  for (const c of live.countries) body.appendChild(row([[c.name, ""], [c.messages.toLocaleString("en"), "num"], [pct(c.share_pct), "num"]]));
  if (liveChart) liveChart.destroy();
  liveChart = new uPlot({
    width: $("map").clientWidth || 600, height: 200,
    series: [{}, { label: "messages", fill: palette[0] + "99", stroke: palette[0], paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false } }],
    // Half an hour either side, so that the first and last bars are whole.
    scales: { x: { range: (u, lo, hi) => [lo - 1800, hi + 1800] }, y: { range: (u, lo, hi) => [0, Math.max(1, Math.ceil((hi || 0) * 1.1))] } },
    tzDate: utc,
    axes: [{}, { values: (u, vals) => vals.map((v) => Number.isInteger(v) ? v.toLocaleString("en") : "") }],
  }, [live.hours.map((t) => Date.parse(t) / 1000), live.messages], $("live-chart"));
  document.body.dataset.liveTotal = live.messages_total;
}

async function liveLoop(seconds) {
  await showLive();
  setTimeout(() => liveLoop(seconds), seconds * 1000);
}

window.addEventListener("DOMContentLoaded", async () => {
  const q = new URLSearchParams(location.search);
  for (const k of ["compare", "by", "top", "per"]) if (q.get(k)) $(k).value = q.get(k);
  $("show").addEventListener("click", show);
  $("period").addEventListener("keydown", (e) => { if (e.key === "Enter") show(); });
  for (const k of ["compare", "by", "top", "per"]) $(k).addEventListener("change", show);
  await loadMap();
  liveLoop(Math.max(1, Number(q.get("refresh")) || 60));
  if (q.get("period")) {
    $("period").value = q.get("period");
  } else {
    // Open on the latest month that has messages, not on an empty current year.
    const extent = await getJSON("/api/v1/extent").catch(() => ({ empty: true }));
    $("period").value = extent.empty ? String(new Date().getUTCFullYear()) : extent.latest_month;
  }
  await show();
});
