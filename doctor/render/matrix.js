
"use strict";
(() => {
  const table = document.getElementById("matrix");
  if (!table) return;  // a matrix of collect failures only has no table
  const query = document.getElementById("q");
  const statusSelect = document.getElementById("status");
  const shown = document.getElementById("shown");
  const heads = Array.from(table.tHead.rows[0].cells);
  const body = table.tBodies[0];
  const rows = Array.from(body.querySelectorAll("tr.tool"), (row, index) => {
    const cells = Array.from(row.querySelectorAll("td"));
    return {
      row, index, details: row.nextElementSibling,
      name: row.cells[0].textContent.toLowerCase(),
      text: Array.from(row.cells, (cell) => cell.textContent).join("\n").toLowerCase(),
      statuses: cells.map((cell) => cell.dataset.status),
      ranks: cells.map((cell) => Number(cell.dataset.rank)),
    };
  });
  const byRow = new Map(rows.map((r) => [r.row, r]));
  let state;  // the view: {sort, dir, q, status}, set only by apply()

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const sort = Number.parseInt(params.get("sort"), 10);
    return {
      sort: sort >= 0 && sort < heads.length ? sort : null,
      dir: params.get("dir") === "desc" ? "desc" : "asc",
      q: params.get("q") || "",
      status: params.get("status") || "",
    };
  }

  function writeHash() {
    const params = new URLSearchParams();
    if (state.sort !== null) { params.set("sort", state.sort); params.set("dir", state.dir); }
    if (state.q) params.set("q", state.q);
    if (state.status) params.set("status", state.status);
    const hash = params.toString();
    if (location.hash.slice(1) !== hash) history.replaceState(null, "", "#" + hash);
  }

  function compare(a, b) {
    const key = state.sort === 0 ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      : a.ranks[state.sort - 1] - b.ranks[state.sort - 1];
    return (state.dir === "desc" ? -key : key) || a.index - b.index;
  }

  function sortRows() {
    const ordered = state.sort === null ? rows : [...rows].sort(compare);
    for (const r of ordered) body.append(r.row, r.details);
    heads.forEach((th, i) => {
      const on = i === state.sort;
      th.setAttribute("aria-sort", on ? (state.dir === "desc" ? "descending" : "ascending") : "none");
      th.querySelector(".arrow").textContent = on ? (state.dir === "desc" ? "\u25bc" : "\u25b2") : "";
    });
  }

  function keep(r) {
    if (state.q && !r.text.includes(state.q.toLowerCase())) return false;
    if (state.status === "not-ok") return r.statuses.some((s) => s !== "ok");
    return !state.status || r.statuses.includes(state.status);
  }

  function filterRows() {
    let count = 0;
    for (const r of rows) {
      const on = keep(r);
      r.row.hidden = !on;
      r.details.hidden = !on || !r.row.dataset.open;
      count += on;
    }
    shown.textContent = `${count} of ${rows.length} tools shown`;
  }

  function apply(next) {
    state = next;
    query.value = state.q;
    statusSelect.value = state.status;
    state.status = statusSelect.value;  // a status the page does not offer filters nothing
    sortRows();
    filterRows();
    writeHash();
  }

  // One cell's details at a time per tool: the same cell again closes them.
  function toggle(button) {
    const cell = button.parentElement;
    const r = byRow.get(cell.parentElement);
    const open = r.row.dataset.open === cell.dataset.col ? "" : cell.dataset.col;
    r.row.dataset.open = open;
    for (const td of r.row.querySelectorAll("td")) {
      const on = td.dataset.col === open;
      td.querySelector("button").setAttribute("aria-expanded", String(on));
      td.classList.toggle("open", on);
    }
    for (const section of r.details.querySelectorAll("section")) section.hidden = section.dataset.col !== open;
    r.details.hidden = !open;
  }

  heads.forEach((th, i) => th.querySelector("button").addEventListener("click", () =>
    apply({...state, sort: i, dir: state.sort === i && state.dir === "asc" ? "desc" : "asc"})));
  query.addEventListener("input", () => apply({...state, q: query.value}));
  statusSelect.addEventListener("change", () => apply({...state, status: statusSelect.value}));
  body.addEventListener("click", (event) => {
    const button = event.target.closest("td > button");
    if (button) toggle(button);
  });
  window.addEventListener("hashchange", () => apply(readHash()));
  apply(readHash());
})();
