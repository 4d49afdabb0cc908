/* auditkit report: optional click-to-sort headers and a filter box for the appendix tables.
   The tables read as plain HTML without it; the page's CSP allows this script by its sha256 only. */
(function () {
  "use strict";
  function sortKey(cell) {
    var key = cell.getAttribute("data-sort");
    if (key !== null && key !== "") { return { n: parseFloat(key), t: "" }; }
    return { n: null, t: cell.textContent.trim().toLowerCase() };
  }
  function compare(a, b) {
    if (a.n !== null && b.n !== null) { return a.n - b.n; }
    if (a.n !== null) { return -1; }
    if (b.n !== null) { return 1; }
    return a.t < b.t ? -1 : a.t > b.t ? 1 : 0;
  }
  function enhance(table) {
    var body = table.tBodies[0];
    if (!body || !table.tHead) { return; }
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var rows = Array.prototype.slice.call(body.rows);
    heads.forEach(function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var keyed = rows.map(function (row, i) { return { row: row, key: sortKey(row.cells[col]), i: i }; });
        keyed.sort(function (a, b) { return (ascending ? 1 : -1) * compare(a.key, b.key) || a.i - b.i; });
        keyed.forEach(function (k) { body.appendChild(k.row); });
      });
    });
    var label = document.createElement("label");
    label.className = "filter";
    label.textContent = "Filter rows ";
    var input = document.createElement("input");
    input.type = "search";
    var count = document.createElement("span");
    count.className = "filter-count";
    label.appendChild(input);
    label.appendChild(count);
    table.parentNode.insertBefore(label, table);
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row) {
        var text = row.textContent.toLowerCase();
        row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
        shown += row.hidden ? 0 : 1;
      });
      count.textContent = words.length ? " " + shown + " of " + rows.length + " rows" : "";
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), enhance);
}());
