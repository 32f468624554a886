/**
 * The dashboard's stylesheet and its one script, embedded in the package (no CDN, no network access at run time).
 * The script only adds live updates through server-sent events; every list works without it.
 */

export const css = `
:root{font-family:system-ui,sans-serif;color:#1b1b1b;background:#fafafa}
body{margin:0}header{background:#263238;padding:.5rem 1rem}header a{color:#fff;margin-right:1rem;text-decoration:none}
header a:focus,header a:hover{text-decoration:underline}.brand{font-weight:bold}
main{padding:1rem;max-width:1400px}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;font-size:.9rem}th,td{padding:.25rem .5rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}.mono,code,pre,td.msg{font-family:ui-monospace,monospace}
td.msg{white-space:pre-wrap;word-break:break-all}pre{margin:0;white-space:pre-wrap}
.status{display:inline-block;padding:0 .4rem;border-radius:.6rem;color:#fff;font-size:.8rem;background:#9e9e9e}
.s-succeeded{background:#2e7d32;color:#fff}.s-cached,.s-restored{background:#558b2f;color:#fff}.s-failed{background:#c62828;color:#fff}
.s-running{background:#1565c0;color:#fff}.s-skipped{background:#757575;color:#fff}.s-interrupted{background:#ef6c00;color:#fff}
.s-pending{background:#bdbdbd}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:1rem}.filters label{display:flex;flex-direction:column;font-size:.8rem}
.pager{margin-top:1rem}.empty{color:#555}.error{color:#c62828}
.grid td.cell{width:1.4rem;height:1.4rem;padding:0;text-align:center;border:1px solid #fff;font-size:.7rem}
.grid td.cell a{display:block;color:#fff;text-decoration:none;min-height:1.4rem}.grid td.none{color:#bbb}
.grid th.job{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;font-size:.8rem;max-height:12rem}
.gridwrap{overflow:auto}dl.header{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.header dt{font-weight:bold}
dl.actions dd{margin:0 0 .5rem 0}dl.actions code{background:#eee;padding:.2rem .4rem;user-select:all}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:.5rem;background:#fff;padding:.3rem;z-index:1}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #ffab00}
.l-error td{background:#ffebee}.l-warn td{background:#fff8e1}
`

export const js = `"use strict";
(function(){
  var live = document.body.getAttribute("data-live");
  if (!live) return;
  function setStatus(el, status){ el.textContent = status; el.className = "status s-" + status; }
  if (live.indexOf("grid:") === 0) {
    var dag = live.slice(5);
    var timer = setInterval(function(){
      var rows = document.querySelectorAll("tr[data-run-status=running]");
      if (rows.length === 0) { clearInterval(timer); return; }
      var ids = []; rows.forEach(function(r){ ids.push(r.getAttribute("data-run")); });
      fetch("/api/grid?dag=" + encodeURIComponent(dag) + "&only=" + encodeURIComponent(ids.join(","))).then(function(r){ return r.json(); }).then(function(doc){
        doc.runs.forEach(function(run){
          var row = document.querySelector("tr[data-run=" + JSON.stringify(run.runId) + "]");
          if (!row) return;
          row.setAttribute("data-run-status", run.status);
          var badge = row.querySelector("th .status"); if (badge) setStatus(badge, run.status);
          Object.keys(doc.cells[run.runId] || {}).forEach(function(job){
            var cell = row.querySelector("td[data-cell=" + JSON.stringify(job) + "]");
            var c = doc.cells[run.runId][job];
            if (cell) { cell.className = "cell s-" + c.status; cell.title = job + ": " + c.status + ", " + c.attempts + " attempt(s)"; }
          });
        });
      });
    }, 2000);
    return;
  }
  var logs = live.indexOf("logs:") === 0;
  var runId = logs ? live.slice(5) : live;
  var params = new URLSearchParams(location.search);
  var url = "/runs/" + encodeURIComponent(runId) + "/events";
  var lastRow = document.querySelector("#log-lines tr:last-child");
  var query = [];
  if (lastRow) query.push("after=" + lastRow.id.slice(1)); else if (logs) query.push("after=0");
  if (logs && params.get("job")) query.push("job=" + encodeURIComponent(params.get("job")));
  if (logs && params.get("level")) query.push("level=" + encodeURIComponent(params.get("level")));
  if (query.length) url += "?" + query.join("&");
  var source = new EventSource(url);
  source.addEventListener("state", function(e){
    var state = JSON.parse(e.data);
    document.querySelectorAll("h1 .status").forEach(function(el){ setStatus(el, state.status); });
    state.jobs.forEach(function(job){
      document.querySelectorAll("[data-job-status=" + JSON.stringify(job.jobId) + "]").forEach(function(el){ setStatus(el, job.status); });
      document.querySelectorAll("[data-job-attempts=" + JSON.stringify(job.jobId) + "]").forEach(function(el){ el.textContent = String(job.attempts); });
    });
  });
  source.addEventListener("log", function(e){
    if (!logs) return;
    var body = document.getElementById("log-lines");
    if (!body) {
      var table = document.createElement("table"); table.className = "logs";
      body = document.createElement("tbody"); body.id = "log-lines"; table.appendChild(body);
      var empty = document.querySelector(".empty"); if (empty) empty.replaceWith(table); else document.getElementById("main").appendChild(table);
    }
    JSON.parse(e.data).forEach(function(line){
      var tr = document.createElement("tr"); tr.id = "L" + line.id; tr.className = "l-" + line.level;
      [String(line.id), line.time, line.jobId === null ? "-" : (line.attempt === null ? line.jobId : line.jobId + "#" + line.attempt), line.level, line.message].forEach(function(text, i){
        var td = document.createElement("td"); td.textContent = text; if (i === 4) td.className = "msg"; if (i === 0) td.className = "num"; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  });
  source.addEventListener("end", function(){ source.close(); if (!logs) location.reload(); });
})();
`
