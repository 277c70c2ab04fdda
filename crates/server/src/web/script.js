// sloscope web UI: times into the reader's zone (UTC stays on hover), table filters and sorting,
// the buttons that open a span's attributes on the trace page, chart hover values and zoom.
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
  // Chart hover: a line at the hovered step and a box with every series' value there, the time
  // in the reader's zone (the UTC time stays in the box's first line of the SVG <title>, which
  // the box replaces so that the browser's own tooltip does not show twice).
  document.querySelectorAll("figure.chart svg").forEach((svg) => {
    const figure = svg.closest("figure");
    const rects = svg.querySelectorAll("rect.hover");
    if (!rects.length) return;
    const tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    figure.appendChild(tip);
    const cross = document.createElementNS("http://www.w3.org/2000/svg", "line");
    cross.setAttribute("class", "crosshair");
    cross.style.display = "none";
    svg.appendChild(cross);
    rects.forEach((rect) => {
      const title = rect.querySelector("title");
      if (!title) return;
      const lines = title.textContent.split("\n");
      title.remove();
      const when = local(new Date(Number(rect.dataset.unix) * 1000));
      const show = () => {
        tip.replaceChildren();
        const head = document.createElement("strong");
        head.textContent = when;
        head.title = lines[0];
        tip.appendChild(head);
        lines.slice(1).forEach((line) => {
          const row = document.createElement("div");
          row.textContent = line;
          tip.appendChild(row);
        });
        tip.hidden = false;
        const x = Number(rect.getAttribute("x")) + Number(rect.getAttribute("width")) / 2;
        cross.setAttribute("x1", x); cross.setAttribute("x2", x);
        cross.setAttribute("y1", rect.getAttribute("y"));
        cross.setAttribute("y2", Number(rect.getAttribute("y")) + Number(rect.getAttribute("height")));
        cross.style.display = "";
        // The box sits beside the line, on the side with more room.
        const box = svg.getBoundingClientRect();
        const frame = figure.getBoundingClientRect();
        const scale = box.width / svg.viewBox.baseVal.width;
        const left = box.left - frame.left + x * scale;
        const right = left + 12 + tip.offsetWidth < frame.width;
        tip.style.left = `${right ? left + 12 : Math.max(0, left - 12 - tip.offsetWidth)}px`;
        tip.style.top = `${box.top - frame.top + 8}px`;
      };
      rect.addEventListener("mouseenter", show);
      rect.addEventListener("click", show);
    });
    svg.addEventListener("mouseleave", () => { tip.hidden = true; cross.style.display = "none"; });
  });
  // Chart zoom: dragging across a chart whose <svg data-zoom="left right from to"> (plot edges in
  // drawing units, the times at them in unix seconds) opens the page on the time dragged over.
  document.querySelectorAll("svg[data-zoom]").forEach((svg) => {
    const [left, right, from, to] = svg.dataset.zoom.split(" ").map(Number);
    const band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    band.setAttribute("class", "zoom-band");
    band.setAttribute("y", "0");
    band.setAttribute("height", svg.viewBox.baseVal.height);
    band.style.display = "none";
    svg.appendChild(band);
    const drawingX = (event) => {
      const box = svg.getBoundingClientRect();
      const x = (event.clientX - box.left) * svg.viewBox.baseVal.width / box.width;
      return Math.min(right, Math.max(left, x));
    };
    const timeAt = (x) => Math.round(from + (x - left) / (right - left) * (to - from));
    let start = null;
    svg.addEventListener("mousedown", (event) => {
      start = drawingX(event);
      event.preventDefault();
    });
    svg.addEventListener("mousemove", (event) => {
      if (start === null) return;
      const x = drawingX(event);
      band.setAttribute("x", Math.min(start, x));
      band.setAttribute("width", Math.abs(x - start));
      band.style.display = "";
    });
    window.addEventListener("mouseup", (event) => {
      if (start === null) return;
      const x = drawingX(event);
      const begin = start;
      start = null;
      band.style.display = "none";
      // Under five drawing units is a click (it shows the values), not a drag.
      if (Math.abs(x - begin) < 5) return;
      const url = new URL(window.location.href);
      url.searchParams.delete("hours");
      url.searchParams.set("from", String(timeAt(Math.min(begin, x))));
      url.searchParams.set("to", String(Math.max(timeAt(Math.max(begin, x)), timeAt(Math.min(begin, x)) + 120)));
      window.location.href = url.toString();
    });
  });
})();
