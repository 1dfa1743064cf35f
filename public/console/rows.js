/**
 * The rows browser: builds the row-listing query (filters, search, sort, page or cursor) from its
 * state and renders one page as a table. Sorting is by clicking a column header.
 */
import { api } from "./api.js";

const numberFormat = new Intl.NumberFormat("en-US");

export class RowsView {
  /**
   * @param {{ table: HTMLTableElement, summary: HTMLElement, prev: HTMLButtonElement,
   *           next: HTMLButtonElement, onError: (error: Error) => void }} elements
   */
  constructor(elements) {
    this.el = elements;
    this.upload = null;
    this.filters = [];
    this.search = "";
    this.sortBy = "";
    this.mode = "page";
    this.pageSize = 25;
    this.page = 1;
    // Cursor pagination only links forward: the cursors of the pages already seen take us back.
    this.cursors = [null];
    this.data = null;
    elements.prev.addEventListener("click", () => this.go(-1));
    elements.next.addEventListener("click", () => this.go(1));
  }

  /** @param {{ id: string, columns: { key: string, name: string, type: string }[] }} upload */
  show(upload) {
    this.upload = upload;
    this.filters = [];
    this.search = "";
    this.sortBy = "";
    return this.reset();
  }

  reset() {
    this.page = 1;
    this.cursors = [null];
    return this.load();
  }

  setMode(mode) {
    this.mode = mode;
    return this.reset();
  }

  setSearch(text) {
    this.search = text.trim();
    return this.reset();
  }

  addFilter(column, op, value) {
    this.filters = [...this.filters.filter((f) => !(f.column === column && f.op === op)), { column, op, value }];
    return this.reset();
  }

  removeFilter(index) {
    this.filters = this.filters.filter((_, i) => i !== index);
    return this.reset();
  }

  clearFilters() {
    this.filters = [];
    this.search = "";
    return this.reset();
  }

  /** Clicking a header cycles ascending → descending → file order. */
  toggleSort(key) {
    this.sortBy = this.sortBy === key ? `-${key}` : this.sortBy === `-${key}` ? "" : key;
    return this.reset();
  }

  query() {
    const params = new URLSearchParams({ page_size: String(this.pageSize), pagination: this.mode });
    if (this.mode === "page") params.set("page", String(this.page));
    else if (this.cursors[this.page - 1]) params.set("cursor", this.cursors[this.page - 1]);
    if (this.search) params.set("search", this.search);
    if (this.sortBy) params.set("sort_by", this.sortBy);
    for (const f of this.filters) params.append(`filter[${f.column}][${f.op}]`, f.value);
    return params;
  }

  async go(step) {
    if (step > 0 && !this.data?.next) return;
    if (step < 0 && this.page <= 1) return;
    this.page += step;
    await this.load();
  }

  async load() {
    if (!this.upload) return;
    this.el.table.setAttribute("aria-busy", "true");
    try {
      this.data = await api(`/csv-data/uploads/${this.upload.id}/data/?${this.query()}`);
      if (this.mode === "cursor") this.cursors[this.page] = this.data.next_cursor;
      this.render();
    } catch (error) {
      this.el.onError(error);
    } finally {
      this.el.table.removeAttribute("aria-busy");
    }
  }

  render() {
    const { table, summary, prev, next } = this.el;
    const columns = this.upload.columns;
    const head = document.createElement("tr");
    head.append(this.header("#", "row_number"));
    for (const column of columns) head.append(this.header(column.name, column.key, column.type));
    table.tHead.replaceChildren(head);

    const rows = this.data.results.map((row) => {
      const tr = document.createElement("tr");
      const number = document.createElement("th");
      number.scope = "row";
      number.textContent = String(row.row_number);
      tr.append(number);
      for (const column of columns) {
        const td = document.createElement("td");
        const value = row.data[column.key];
        if (value === null || value === undefined) td.classList.add("empty");
        else td.textContent = String(value);
        if (column.type === "integer" || column.type === "number") td.classList.add("num");
        tr.append(td);
      }
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);

    const first = (this.page - 1) * this.pageSize + 1;
    const shown = this.data.results.length;
    if (shown === 0) summary.textContent = "No rows match.";
    else if (this.mode === "page") {
      const total = numberFormat.format(this.data.count);
      summary.textContent = `Rows ${numberFormat.format(first)}–${numberFormat.format(first + shown - 1)} of ${this.data.count_is_estimate ? "about " : ""}${total}`;
    } else summary.textContent = `Rows ${numberFormat.format(first)}–${numberFormat.format(first + shown - 1)}`;
    summary.dataset.count = this.mode === "page" ? String(this.data.count) : "";
    prev.disabled = this.page <= 1;
    next.disabled = !this.data.next;
  }

  header(label, key, type) {
    const th = document.createElement("th");
    th.scope = "col";
    if (type === "integer" || type === "number") th.classList.add("num");
    const direction = this.sortBy === key ? "ascending" : this.sortBy === `-${key}` ? "descending" : "none";
    th.setAttribute("aria-sort", direction);
    if (key === "row_number") {
      th.textContent = label;
      return th;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.dataset.key = key;
    button.title = `Sort by ${label}`;
    button.textContent = label;
    const arrow = document.createElement("span");
    arrow.setAttribute("aria-hidden", "true");
    arrow.textContent = direction === "ascending" ? " ▲" : direction === "descending" ? " ▼" : "";
    button.append(arrow);
    button.addEventListener("click", () => this.toggleSort(key));
    th.append(button);
    return th;
  }
}
