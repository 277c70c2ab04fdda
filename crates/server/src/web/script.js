// sloscope web UI: times into the reader's zone (UTC stays on hover), table filters and sorting.
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
  // <input data-filter="table-id">: hides rows whose text does not contain the input.
  document.querySelectorAll("[data-filter]").forEach((input) => {
    const table = document.getElementById(input.dataset.filter);
    if (!table) return;
    const apply = () => {
      const needle = (input.value || "").toLowerCase();
      const status = document.querySelector(`[data-status-filter="${input.dataset.filter}"]`);
      const wanted = status ? status.value : "";
      table.querySelectorAll("tbody tr").forEach((row) => {
        const matches = row.textContent.toLowerCase().includes(needle) &&
          (!wanted || row.dataset.status === wanted);
        row.hidden = !matches;
      });
    };
    input.addEventListener("input", apply);
    const status = document.querySelector(`[data-status-filter="${input.dataset.filter}"]`);
    if (status) status.addEventListener("change", apply);
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
