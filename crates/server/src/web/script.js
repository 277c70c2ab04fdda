// sloscope web UI: times into the reader's zone (UTC stays on hover), table filters and sorting,
// and the buttons that open a span's attributes on the trace page.
"use strict";
(function () {
  const pad = (n) => String(n).padStart(2, "0");
  const local = (date) =>
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  document.querySelectorAll("time[datetime]").forEach((element) => {
    const date = new Date(element.getAttribute("datetime"));
    if (isNaN(date)) return;
    element.title = element.getAttribute("datetime").replace("T", " ").replace("Z", " UTC");
    element.textContent = local(date);
  });
  document.querySelectorAll("text.clock[data-unix]").forEach((element) => {
    const date = new Date(Number(element.dataset.unix) * 1000);
    element.textContent = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  });
  // <input data-filter="name">: hides the rows, of the table with that id or of every table
  // with data-rows="name" (one per group), whose text does not contain the input.
  document.querySelectorAll("[data-filter]").forEach((input) => {
    const name = input.dataset.filter;
    const tables = Array.from(document.querySelectorAll(`table[data-rows="${name}"]`));
    const byId = document.getElementById(name);
    if (byId) tables.push(byId);
    if (!tables.length) return;
    const apply = () => {
      const needle = (input.value || "").toLowerCase();
      const status = document.querySelector(`[data-status-filter="${name}"]`);
      const wanted = status ? status.value : "";
      tables.forEach((table) => table.querySelectorAll("tbody tr").forEach((row) => {
        const matches = row.textContent.toLowerCase().includes(needle) &&
          (!wanted || row.dataset.status === wanted);
        row.hidden = !matches;
      }));
    };
    input.addEventListener("input", apply);
    const status = document.querySelector(`[data-status-filter="${name}"]`);
    if (status) status.addEventListener("change", apply);
  });
  // <select data-navigate>: each option's value is a page to go to.
  document.querySelectorAll("select[data-navigate]").forEach((select) => {
    select.addEventListener("change", () => { window.location.href = select.value; });
  });
  // <button aria-controls="id" aria-expanded>: shows or hides the element it controls.
  document.querySelectorAll("button.expand[aria-controls]").forEach((button) => {
    const target = document.getElementById(button.getAttribute("aria-controls"));
    if (!target) return;
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? "▾" : "▸";
      target.hidden = !open;
    });
  });
  // <th data-sort>: sorts by the cell's data-value (numbers) or text.
  document.querySelectorAll("th[data-sort]").forEach((header) => {
    header.addEventListener("click", () => {
      const table = header.closest("table");
      const body = table.tBodies[0];
      const index = Array.from(header.parentNode.children).indexOf(header);
      const ascending = header.dataset.order !== "asc";
      header.dataset.order = ascending ? "asc" : "desc";
      const key = (row) => {
        const cell = row.children[index];
        const value = cell && cell.dataset.value;
        return value !== undefined && value !== "" ? Number(value) : (cell ? cell.textContent : "");
      };
      Array.from(body.rows)
        .sort((a, b) => {
          const x = key(a), y = key(b);
          const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return ascending ? order : -order;
        })
        .forEach((row) => body.appendChild(row));
    });
  });
})();
