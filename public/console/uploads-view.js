/**
 * The CSV uploads view: upload with live progress (upload, then ingestion), the rows browser with
 * its filters, search and pagination. Loaded the first time the view is opened.
 */
import { api } from "./api.js";
import { $, onSubmit } from "./dom.js";
import { RowsView } from "./rows.js";
import { isTerminal, uploadFile, watchProgress } from "./upload.js";

const numberFormat = new Intl.NumberFormat("en-US");
const fmt = (n) => numberFormat.format(Math.round(n));
const mb = (bytes) => (bytes / 1_000_000).toFixed(1);

let showError = (error) => console.error(error);
let clearError = () => {};
let rows = null;
let loaded = false;

/**
 * Wires the view's controls once.
 * @param {{ showError: (error: unknown) => void, clearError: () => void }} messages
 */
export function initUploads(messages) {
  showError = messages.showError;
  clearError = messages.clearError;
  rows = new RowsView({
    table: $("rows"),
    summary: $("rows-summary"),
    prev: $("prev"),
    next: $("next"),
    onError: showError,
  });
  wire();
}

/** Opening the view: the upload list is fetched the first time only (after that, on each upload). */
export async function showUploads() {
  if (loaded) return;
  loaded = true;
  await loadUploads().catch((error) => {
    loaded = false;
    showError(error);
  });
}

/** A new login starts from an unloaded view. */
export function resetUploads() {
  loaded = false;
}

// ---- upload ----------------------------------------------------------------------------------

let current = null;

function setUploadBar(sent, total, startedAt) {
  const percent = total > 0 ? (sent / total) * 100 : 100;
  const seconds = (performance.now() - startedAt) / 1000;
  const rate = seconds > 0 ? sent / seconds / 1_000_000 : 0;
  $("upload-bar").value = percent;
  $("upload-text").textContent = `${percent.toFixed(1)}% · ${mb(sent)} / ${mb(total)} MB · ${rate.toFixed(1)} MB/s`;
}

function setIngestBar(progress) {
  $("ingest-bar").value = progress.percent;
  const rate = progress.rows_per_second === null ? "" : ` · ${fmt(progress.rows_per_second)} rows/s`;
  const eta = progress.eta_seconds === null || isTerminal(progress.status) ? "" : ` · ETA ${progress.eta_seconds}s`;
  $("ingest-text").textContent =
    `${progress.percent.toFixed(1)}% · ${fmt(progress.processed_rows)} rows${rate}${eta} · ${progress.status}`;
}

function setOutcome(text, ok) {
  const outcome = $("outcome");
  outcome.textContent = text;
  outcome.className = `outcome ${ok ? "ok" : "bad"}`;
}

// ---- rows ------------------------------------------------------------------------------------

async function loadUploads(selectId) {
  const list = await api("/csv-data/uploads/?page_size=100");
  const select = $("upload-select");
  const options = list.results.map((upload) => {
    const option = document.createElement("option");
    option.value = upload.id;
    const when = new Date(upload.created_at).toLocaleString();
    option.textContent = `${upload.filename} — ${upload.status}, ${fmt(upload.total_rows)} rows — ${when}`;
    return option;
  });
  select.replaceChildren(select.options[0], ...options);
  if (selectId) {
    select.value = selectId;
    await openUpload(selectId);
  }
}

async function openUpload(id) {
  clearError();
  if (!id) return;
  try {
    const upload = await api(`/csv-data/uploads/${id}/`);
    $("filter-column").replaceChildren(
      ...upload.columns.map((column) => {
        const option = document.createElement("option");
        option.value = column.key;
        option.textContent = `${column.name} (${column.type})`;
        return option;
      }),
    );
    $("search").value = "";
    renderChips([]);
    $("rows-tools").hidden = upload.columns.length === 0;
    renderColumnStats(upload);
    await rows.show(upload);
  } catch (error) {
    showError(error);
  }
}

/** A statistic's bound as text: numbers, dates and strings as the API gives them; none is a dash. */
const bound = (value) => (value === null || value === undefined ? "—" : String(value));

/**
 * The upload's column statistics, one row per column. The API gives them once the upload has
 * completed (null before, and for an upload that did not complete), so the caption says which.
 */
function renderColumnStats(upload) {
  const withStats = upload.columns.filter((column) => column.stats);
  $("column-stats-wrap").hidden = upload.columns.length === 0;
  $("column-stats-summary").textContent =
    withStats.length > 0
      ? "Column statistics"
      : `Column statistics appear once the upload has completed (it is ${upload.status}).`;
  $("column-stats")
    .querySelector("tbody")
    .replaceChildren(
      ...withStats.map((column) => {
        const row = document.createElement("tr");
        const name = document.createElement("th");
        name.scope = "row";
        name.textContent = column.name;
        const cells = [
          column.type,
          fmt(column.stats.nulls),
          fmt(column.stats.distinct),
          bound(column.stats.min),
          bound(column.stats.max),
        ].map((value) => {
          const cell = document.createElement("td");
          cell.textContent = value;
          return cell;
        });
        row.append(name, ...cells);
        return row;
      }),
    );
}

function renderChips(filters) {
  $("active-filters").replaceChildren(
    ...filters.map((filter, index) => {
      const li = document.createElement("li");
      li.textContent = `${filter.column} ${filter.op} ${filter.value}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove filter ${filter.column} ${filter.op} ${filter.value}`);
      remove.addEventListener("click", async () => {
        await rows.removeFilter(index);
        renderChips(rows.filters);
      });
      li.append(remove);
      return li;
    }),
  );
}

function wire() {
  onSubmit($("upload-form"), async () => {
    clearError();
    const file = $("file").files[0];
    if (!file) return;
    current = { id: null, abort: new AbortController() };
    $("upload-button").disabled = true;
    $("cancel-button").hidden = false;
    $("progress").hidden = false;
    $("ingest-bar").value = 0;
    $("ingest-text").textContent = "waiting for the upload";
    $("outcome").textContent = "";
    const startedAt = performance.now();
    setUploadBar(0, file.size, startedAt);
    try {
      const accepted = await uploadFile(file, {
        signal: current.abort.signal,
        onCreated: (upload) => {
          current.id = upload.id;
        },
        onBytes: (sent, total) => setUploadBar(sent, total, startedAt),
      });
      setUploadBar(file.size, file.size, startedAt);
      const final = await watchProgress(accepted.id, setIngestBar);
      const details = await api(`/csv-data/uploads/${accepted.id}/`);
      // The stored upload is the record of what happened; the last live message only says what was seen.
      const status = isTerminal(details.status) ? details.status : final.status;
      if (status === "completed") {
        setOutcome(
          `Completed: ${fmt(details.total_rows)} rows stored, ${fmt(details.error_rows)} rejected (${details.filename}).`,
          true,
        );
      } else {
        setOutcome(
          `${final.status[0].toUpperCase()}${final.status.slice(1)}: ${details.error ?? "no further detail"}`,
          false,
        );
      }
      await loadUploads(accepted.id);
    } catch (error) {
      if (error?.name === "AbortError") setOutcome("Upload cancelled.", false);
      else setOutcome(`Upload failed: ${error.message}`, false);
      if (current.id) await loadUploads(current.id).catch(() => {});
    } finally {
      $("upload-button").disabled = false;
      $("cancel-button").hidden = true;
      current = null;
    }
  });
  $("cancel-button").addEventListener("click", async () => {
    if (!current || !window.confirm("Cancel this upload?")) return;
    const { id, abort } = current;
    abort.abort();
    if (id) await api(`/csv-data/uploads/${id}/cancel/`, { method: "POST" }).catch(showError);
  });
  $("upload-select").addEventListener("change", (event) => openUpload(event.target.value));
  onSubmit($("filter-form"), async () => {
    clearError();
    await rows.addFilter($("filter-column").value, $("filter-op").value, $("filter-value").value);
    renderChips(rows.filters);
  });
  $("clear-filters").addEventListener("click", async () => {
    clearError();
    $("filter-value").value = "";
    $("search").value = "";
    await rows.clearFilters();
    renderChips([]);
  });
  onSubmit($("search-form"), () => {
    clearError();
    rows.setSearch($("search").value);
  });
  $("pagination").addEventListener("change", (event) => rows.setMode(event.target.value));
}
