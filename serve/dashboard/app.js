// The built-in dashboard: asks /api/v1/report for the chosen period and draws the map, the
// share-over-time chart and the dirty-dozen table. No framework, no external assets.
"use strict";

const $ = (id) => document.getElementById(id);
let chart = null;

async function loadMap() {
  $("map").innerHTML = await (await fetch("world.svg")).text();
}

function pct(v) { return v == null ? "" : v.toFixed(2) + "%"; }

// colour maps a share (0..max) to a shade of red.
function colour(share, max) {
  const t = Math.sqrt(share / max);
  const c = (a, b) => Math.round(a + (b - a) * t);
  return `rgb(${c(255, 165)},${c(235, 15)},${c(225, 21)})`;
}

function drawMap(rows) {
  const countries = rows.filter((r) => r.code && r.code.length === 2);
  const max = Math.max(1, ...countries.map((r) => r.share_pct));
  document.querySelectorAll("#map path").forEach((p) => { p.style.fill = ""; p.removeAttribute("data-share"); p.innerHTML = ""; });
  for (const r of countries) {
    const p = document.querySelector(`#map path[id="${r.code.toLowerCase()}"]`);
    if (!p) continue;
    p.style.fill = colour(r.share_pct, max);
    p.setAttribute("data-share", r.share_pct);
    p.innerHTML = `<title>${r.name}: ${pct(r.share_pct)}</title>`;
  }
}

// A comparison is usable when one was asked for and its period had messages (see the API's notes).
function compared(report) { return report.compare_period != null && report.compare_messages > 0; }

function drawTable(report) {
  const withCompare = compared(report);
  $("table").querySelectorAll("th.compare").forEach((th) => { th.hidden = !withCompare; });
  const body = $("table").querySelector("tbody");
  body.innerHTML = "";
  for (const r of report.rows) {
    const tr = document.createElement("tr");
    const cells = [[r.rank || "", "num"], [r.name, ""], [pct(r.share_pct), "num"]];
    if (withCompare) {
      const change = r.change_pp == null ? "" : (r.change_pp > 0 ? "+" : "") + r.change_pp.toFixed(2) + " pp";
      cells.push([r.compare_share_pct == null ? "" : pct(r.compare_share_pct), "num"], [change, "num"]);
    }
    for (const [text, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function drawChart(report) {
  if (chart) { chart.destroy(); chart = null; }
  const s = report.series;
  if (!s || !s.times.length || !report.rows.length) return;
  const names = Object.fromEntries(report.rows.map((r) => [r.code.replace(/^AS/, ""), r.name]));
  // In the table's order, so the colours follow the ranking.
  const keys = report.rows.map((r) => r.code.replace(/^AS/, "")).filter((k) => k in s.shares);
  const palette = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#f0e442", "#000000"];
  const data = [s.times.map((t) => Date.parse(t) / 1000), ...keys.map((k) => s.shares[k])];
  chart = new uPlot({
    width: $("map").clientWidth || 600, height: 260, title: `Share over time, by ${s.bucket}`,
    series: [{}, ...keys.map((k, i) => ({ label: names[k] || k, stroke: palette[i % palette.length], width: 2, spanGaps: false, value: (u, v) => pct(v) }))],
    // Shares of all messages never pass 100%; uPlot's own range doubles a flat 100% line to 200%.
    scales: { y: { range: (u, lo, hi) => [0, Math.min(100, Math.max(1, Math.ceil((hi || 0) * 1.1)))] } },
    axes: [{}, { values: (u, vals) => vals.map((v) => v + "%") }],
  }, data, $("chart"));
}

// pending is the request in flight: a newer choice aborts it, so an older answer arriving late
// never paints over the period the reader chose last.
let pending = null;

async function show() {
  const period = $("period").value.trim();
  const compare = $("compare").value;
  const params = new URLSearchParams({ period, compare, top: "12" });
  if (pending) pending.abort();
  const request = new AbortController();
  pending = request;
  $("error").textContent = "";
  let res, report;
  try {
    res = await fetch("/api/v1/report?" + params, { signal: request.signal });
    report = await res.json();
  } catch (e) {
    if (request.signal.aborted) return;
    throw e;
  }
  if (pending !== request) return;
  pending = null;
  if (!res.ok) { $("error").textContent = report.error; return; }
  report.rows = report.rows || []; // an empty period: clear every view
  $("summary").textContent = [...report.sentences, ...(report.notes || [])].join(" ");
  drawMap(report.rows);
  drawTable(report);
  drawChart(report);
  history.replaceState(null, "", "?" + new URLSearchParams({ period, compare }));
  document.body.dataset.period = report.period; // last: tests and screenshots wait for it
}

window.addEventListener("DOMContentLoaded", async () => {
  const q = new URLSearchParams(location.search);
  $("period").value = q.get("period") || String(new Date().getUTCFullYear());
  if (q.get("compare")) $("compare").value = q.get("compare");
  $("show").addEventListener("click", show);
  $("period").addEventListener("keydown", (e) => { if (e.key === "Enter") show(); });
  $("compare").addEventListener("change", show);
  await loadMap();
  await show();
});
