/**
 * `npm run test:e2e`: the web console driven by a real browser against the real dev stack.
 * Starts its own stack (an embedded Postgres in a temporary directory, so it never fights a running
 * `npm run dev` over .data/postgres, then lib/dev-stack.ts on PORT 8812 with 64 KiB ingestion
 * chunks), registers a user through the API, and in headless Chromium logs in, uploads a generated
 * CSV, watches ingestion, browses, sorts and filters the rows, reads a small upload's column
 * statistics and downloads the task report. Then,
 * with the accounts `npm run seed` makes (seeded here), a manager and an employee work on a task in
 * the Tasks views: list and filters, create, edit, assign, comment, attach, complete, and the
 * assignee's read-only fields; and the notification bell, which shows a notification another
 * user's action makes, live over its WebSocket, and marks it read. Screenshots go to test-results/. Set E2E_BASE_URL to run against a
 * stack that is already up (and seeded).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { type DevStack, startDevStack } from "./lib/dev-stack.ts";
import { freePort, type RunningPostgres, startPostgres } from "./lib/postgres.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const results = path.join(root, "test-results");
const PORT = Number(process.env.E2E_PORT ?? 8812);
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PASSWORD = "E2e-Sturdy-Passw0rd!";

// ---- a tiny runner: named checks, a summary line, a non-zero exit on any failure ----------------

let passed = 0;
let failed = 0;
async function check(name: string, work: () => Promise<void>): Promise<boolean> {
  const started = Date.now();
  try {
    await work();
    passed++;
    console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
    return true;
  } catch (error) {
    failed++;
    console.log(`  ✗ ${name}\n    ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return false;
  }
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// ---- the stack ------------------------------------------------------------------------------------

let postgres: RunningPostgres | undefined;
let postgresDir: string | undefined;
const starting = new AbortController();
let startup: Promise<DevStack> | undefined;

async function startStack(): Promise<string> {
  postgresDir = mkdtempSync(path.join(tmpdir(), "edge-tasks-e2e-"));
  postgres = await startPostgres({
    dataDir: path.join(postgresDir, "pg"),
    port: await freePort(),
    persistent: false,
    quiet: true,
  });
  await postgres.createDatabase("tasks");
  startup = startDevStack({
    port: PORT,
    stdio: "pipe",
    databaseUrl: postgres.url("tasks"),
    extraVars: { INGEST_CHUNK_BYTES: "65536" },
    readyTimeoutMs: 120_000,
    signal: starting.signal,
  });
  const stack = await startup;
  // The seeded accounts (a manager and employees of one department) drive the Tasks views.
  execFileSync(process.execPath, [path.join(root, "scripts", "seed.ts")], {
    env: { ...process.env, DATABASE_URL: postgres.url("tasks") },
    stdio: "ignore",
  });
  return stack.url;
}

async function stopStack(): Promise<void> {
  starting.abort();
  const stack = await startup?.catch(() => undefined);
  await stack?.stop().catch(() => {});
  await postgres?.stop().catch(() => {});
  if (postgresDir) rmSync(postgresDir, { recursive: true, force: true });
}

// ---- test data ------------------------------------------------------------------------------------

const CITIES = ["Paris", "Berlin", "Lisbon", "Oslo", "Madrid", "Rome", "Vienna", "Dublin"];
/** A record the test looks for by filter: unique customer, known city. */
const NEEDLE = { row: 4242, customer: "Zebulon Quux", city: "Reykjavik" };

/** About `bytes` of CSV with a few column types; deterministic, so the expected values are known. */
function generateCsv(file: string, bytes: number): { rows: number; minAmount: number } {
  const lines = ["id,customer,city,amount,order_date,active"];
  let size = lines[0]!.length + 1;
  let rows = 0;
  let minAmount = Number.POSITIVE_INFINITY;
  while (size < bytes) {
    rows++;
    const amount = ((rows * 7919) % 100_000) / 100 + 1;
    minAmount = Math.min(minAmount, amount);
    const needle = rows === NEEDLE.row;
    const customer = needle ? NEEDLE.customer : `Customer ${rows}`;
    const city = needle ? NEEDLE.city : CITIES[rows % CITIES.length];
    const date = `2026-${String((rows % 12) + 1).padStart(2, "0")}-${String((rows % 28) + 1).padStart(2, "0")}`;
    const line = `${rows},"${customer}",${city},${amount.toFixed(2)},${date},${rows % 3 === 0}`;
    lines.push(line);
    size += line.length + 1;
  }
  writeFileSync(file, `${lines.join("\n")}\n`);
  return { rows, minAmount };
}

// ---- the browser steps ----------------------------------------------------------------------------

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? "").trim();

/**
 * Polls an element's text from Node until `matches` accepts it (the page's own code is not typed
 * here: this tsconfig has no DOM library). Fails with the last text seen.
 */
async function waitForText(
  page: Page,
  selector: string,
  matches: (value: string) => boolean,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await text(page, selector);
    if (matches(value)) return value;
    if (Date.now() > deadline) throw new Error(`${selector} never matched; last text: "${value}"`);
    await page.waitForTimeout(intervalMs);
  }
}

async function run(base: string, browser: Browser): Promise<void> {
  const email = `e2e-${Date.now().toString(36)}@example.com`;
  const csv = path.join(results, "e2e-orders.csv");
  const data = generateCsv(csv, 4 * 1024 * 1024);
  console.log(`  (${base}; ${email}; ${data.rows} rows in ${path.basename(csv)})`);

  const ok = await check("registers a user through the API", async () => {
    const response = await fetch(`${base}/api/v1/auth/user/register/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password: PASSWORD, full_name: "E2E Tester" }),
    });
    assert(response.status === 201, `register answered ${response.status}: ${await response.text()}`);
  });
  if (!ok) return;

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  // Progress must arrive over the WebSocket, not the polling fallback: count its messages.
  let progressFrames = 0;
  page.on("websocket", (socket) => {
    if (/\/progress\/\?access_token=/.test(socket.url())) socket.on("framereceived", () => progressFrames++);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`);
  });

  await check("logs in through the console", async () => {
    await page.goto(`${base}/console/`);
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    // Tasks is the first view; a new account sees none, and an empty report.
    await page.waitForSelector("#tasks-view", { state: "visible", timeout: 10_000 });
    assert((await text(page, "#who")) === email, `the header shows ${await text(page, "#who")}`);
    await waitForText(page, "#tasks-summary", (t) => t === "No tasks yet: create one with New task.");
    await waitForText(page, "#report-total", (t) => t === "0");
    await page.getByRole("link", { name: "CSV uploads" }).click();
    await page.waitForSelector("#workspace", { state: "visible", timeout: 10_000 });
    assert(/#\/uploads$/.test(page.url()), `the address is ${page.url()}`);
  });

  await check("uploads the CSV straight to R2 and shows ingestion live", async () => {
    await page.setInputFiles("#file", csv);
    await page.getByRole("button", { name: "Upload" }).click();
    // The moment ingestion is visibly part-way (or, on a very fast machine, already over).
    await waitForText(
      page,
      "#ingest-text",
      (t) => {
        const percent = Number.parseFloat(t);
        return (/processing/.test(t) && percent > 0 && percent < 100) || /completed|failed|rejected/.test(t);
      },
      60_000,
    );
    await page.screenshot({ path: path.join(results, "console-ingesting.png"), fullPage: true });
    const uploadText = await text(page, "#upload-text");
    assert(/^100\.0% · 4\.2 \/ 4\.2 MB · [\d.]+ MB\/s$/.test(uploadText), `upload text: "${uploadText}"`);
    const barValue = await page.evaluate<number>('document.getElementById("upload-bar").value');
    assert(barValue === 100, `the upload bar is at ${barValue}`);
    const ingestText = await text(page, "#ingest-text");
    assert(
      /^\d+\.\d% · [\d,]+ rows( · [\d,]+ rows\/s)?( · ETA \d+s)? · (processing|completed)$/.test(ingestText),
      `ingestion text: "${ingestText}"`,
    );
    console.log(`    while ingesting: upload "${uploadText}", ingestion "${ingestText}"`);
  });

  await check("ingestion completes and the outcome names the row count", async () => {
    await page.waitForSelector("#outcome.ok, #outcome.bad", { timeout: 120_000 });
    const outcome = await text(page, "#outcome");
    assert(
      outcome.startsWith(`Completed: ${data.rows.toLocaleString("en-US")} rows stored, 0 rejected`),
      `outcome: "${outcome}"`,
    );
    const ingestText = await text(page, "#ingest-text");
    assert(
      ingestText.startsWith(`100.0% · ${data.rows.toLocaleString("en-US")} rows`),
      `ingestion text: "${ingestText}"`,
    );
    assert(progressFrames >= 2, `only ${progressFrames} progress message(s) came over the WebSocket`);
    console.log(`    ${progressFrames} progress messages over the WebSocket`);
  });

  await check("shows the rows with the exact count, 25 to a page", async () => {
    await waitForText(page, "#rows-summary", (t) => t.startsWith("Rows 1–25 of"));
    const summary = await text(page, "#rows-summary");
    assert(summary === `Rows 1–25 of ${data.rows.toLocaleString("en-US")}`, `summary: "${summary}"`);
    assert((await page.locator("#rows tbody tr").count()) === 25, "not 25 rows in the table");
    const headers = await page.locator("#rows thead th").allTextContents();
    assert(headers.join("|") === "#|id|customer|city|amount|order_date|active", `headers: ${headers.join("|")}`);
    assert(
      (await page.locator("#rows tbody tr").first().locator("td").nth(1).textContent()) === "Customer 1",
      "first row",
    );
  });

  await check("pages forward and back", async () => {
    await page.getByRole("button", { name: "Next →" }).click();
    await waitForText(page, "#rows-summary", (t) => t.startsWith("Rows 26–50"));
    assert(
      (await page.locator("#rows tbody tr").first().locator("th").textContent()) === "26",
      "page 2 starts at row 26",
    );
    await page.getByRole("button", { name: "← Previous" }).click();
    await waitForText(page, "#rows-summary", (t) => t.startsWith("Rows 1–25"));
  });

  await check("sorts by a column when its header is clicked", async () => {
    await page.getByRole("button", { name: "amount", exact: true }).click();
    await page.waitForSelector('#rows th[aria-sort="ascending"]');
    const amounts = await page.locator("#rows tbody tr td:nth-child(5)").allTextContents();
    const values = amounts.map(Number);
    assert(values[0] === data.minAmount, `smallest amount first: got ${values[0]}, expected ${data.minAmount}`);
    assert(
      values.every((v, i) => i === 0 || values[i - 1]! <= v),
      `not ascending: ${amounts.join(", ")}`,
    );
    await page.screenshot({ path: path.join(results, "console-rows.png"), fullPage: true });
  });

  await check("filters by column, operator and value and finds the known record", async () => {
    await page.getByLabel("Column", { exact: true }).selectOption("customer");
    await page.getByLabel("Operator", { exact: true }).selectOption("eq");
    await page.getByLabel("Value", { exact: true }).fill(NEEDLE.customer);
    await page.getByRole("button", { name: "Add filter" }).click();
    await waitForText(page, "#rows-summary", (t) => t === "Rows 1–1 of 1");
    const cells = await page.locator("#rows tbody tr").first().locator("th, td").allTextContents();
    assert(cells[0] === String(NEEDLE.row), `row number ${cells[0]}`);
    assert(cells[2] === NEEDLE.customer && cells[3] === NEEDLE.city, `cells: ${cells.join(" | ")}`);
    assert((await text(page, "#active-filters")).startsWith(`customer eq ${NEEDLE.customer}`), "the filter chip");
    await page.screenshot({ path: path.join(results, "console-filtered.png"), fullPage: true });
  });

  await check("cursor pagination walks forward and back", async () => {
    await page.getByRole("button", { name: "Clear" }).click();
    await page.getByLabel("Pagination", { exact: true }).selectOption("cursor");
    await waitForText(page, "#rows-summary", (t) => t === "Rows 1–25");
    await page.getByRole("button", { name: "Next →" }).click();
    await waitForText(page, "#rows-summary", (t) => t === "Rows 26–50");
    await page.getByRole("button", { name: "← Previous" }).click();
    await waitForText(page, "#rows-summary", (t) => t === "Rows 1–25");
  });

  await check("a wide upload scrolls inside its table at 1280 px; the page keeps the window's width", async () => {
    const wide = path.join(results, "e2e-wide.csv");
    const columns = Array.from({ length: 30 }, (_, i) => `Column number ${i + 1} with a long name`);
    const lines = [columns.join(",")];
    for (let row = 1; row <= 5; row++)
      lines.push(columns.map((_, i) => `value ${row}-${i + 1} ${"w".repeat(30)}`).join(","));
    writeFileSync(wide, `${lines.join("\n")}\n`);
    await page.setInputFiles("#file", wide);
    await page.getByRole("button", { name: "Upload" }).click();
    await waitForText(page, "#outcome", (t) => t.startsWith("Completed: 5 rows"), 60_000);
    await waitForText(page, "#rows-summary", (t) => t.startsWith("Rows 1–5"));
    const widths = await page.evaluate<{ page: number; window: number; table: number; box: number }>(
      `({
        page: document.scrollingElement.scrollWidth,
        window: window.innerWidth,
        table: document.querySelector("#workspace .table-wrap").scrollWidth,
        box: document.querySelector("#workspace .table-wrap").clientWidth,
      })`,
    );
    assert(widths.window === 1280, `the window is ${widths.window} px wide`);
    assert(widths.page <= widths.window, `the page is ${widths.page} px wide in a ${widths.window} px window`);
    assert(widths.table > widths.box, `the table (${widths.table} px) does not scroll in its ${widths.box} px box`);
    await page.screenshot({ path: path.join(results, "console-wide.png"), fullPage: true });
  });

  await check("shows a small upload's column statistics in a table", async () => {
    const small = path.join(results, "e2e-stats.csv");
    writeFileSync(
      small,
      [
        "id,amount,day,active,city",
        "9,2.5,2026-03-01,true,Oslo",
        "10,10,2026-01-15,false,",
        ",10,2026-12-31,true,Bergen",
        "11,-1,,true,Oslo",
        "",
      ].join("\n"),
    );
    await page.setInputFiles("#file", small);
    await page.getByRole("button", { name: "Upload" }).click();
    await waitForText(page, "#outcome", (t) => t.startsWith("Completed: 4 rows"), 60_000);
    // The table is redrawn when the new upload opens; until then it shows the previous one's.
    await waitForText(page, "#column-stats tbody", (t) => t.startsWith("idinteger"));
    await waitForText(page, "#column-stats-summary", (t) => t === "Column statistics");
    const rows = await page
      .locator("#column-stats tbody tr")
      .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent).join("|")));
    // Numbers by value (9 < 10 < 11, not as text), dates by day, false before true; empty cells
    // counted apart from the distinct values.
    const expected = [
      "id|integer|1|3|9|11",
      "amount|number|0|3|-1|10",
      "day|date|1|3|2026-01-15|2026-12-31",
      "active|boolean|0|2|false|true",
      "city|string|1|2|Bergen|Oslo",
    ];
    assert(rows.join("\n") === expected.join("\n"), `statistics table:\n${rows.join("\n")}`);
    await page.screenshot({ path: path.join(results, "console-column-stats.png"), fullPage: true });
  });

  await check("downloads the task status report", async () => {
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download task status report" }).click(),
    ]);
    assert(download.suggestedFilename() === "tasks.csv", `file name ${download.suggestedFilename()}`);
    const saved = path.join(results, "tasks.csv");
    await download.saveAs(saved);
    const body = readFileSync(saved, "utf8");
    assert(/^Total tasks,Completed Task,Incompleted Task\r?\n0,0,0/.test(body), `report: ${JSON.stringify(body)}`);
  });

  await check("the page logged no errors", async () => {
    assert(consoleErrors.length === 0, consoleErrors.join("\n"));
  });

  await context.close();
}

// ---- the Tasks views, as a manager and as an employee ----------------------------------------------

/** The accounts `npm run seed` creates: a manager of "Engineering" and two employees in it. */
const SEEDED = {
  password: "Passw0rd!Seed",
  manager: { email: "manager@example.com", name: "Morgan Manager" },
  employee: { email: "employee@example.com", name: "Emery Employee" },
  employee2: { email: "employee2@example.com", name: "Ellis Employee" },
};

/**
 * Everything a page reports as going wrong: console errors, uncaught exceptions, HTTP errors.
 * A refusal the test provokes on purpose is declared with `allow` and then not counted (nor the
 * browser's own console line about that response).
 */
function watchErrors(page: Page): { allow: (status: number, path: string) => void; unexpected: () => string[] } {
  const responses: string[] = [];
  const messages: string[] = [];
  const allowed: { status: number; path: string }[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") messages.push(message.text());
  });
  page.on("pageerror", (error) => messages.push(error.message));
  page.on("response", (response) => {
    if (response.status() >= 400) responses.push(`${response.status()} ${response.url()}`);
  });
  return {
    allow: (status, path) => allowed.push({ status, path }),
    unexpected: () => {
      const left = [...responses];
      const console = [...messages];
      for (const { status, path } of allowed) {
        const at = left.findIndex(
          (entry) => entry.startsWith(`${status} `) && new URL(entry.slice(4)).pathname === path,
        );
        if (at >= 0) left.splice(at, 1);
        const line = console.findIndex((entry) => entry.includes(`status of ${status}`));
        if (line >= 0) console.splice(line, 1);
      }
      return [...left, ...console];
    },
  };
}

async function logIn(page: Page, base: string, email: string, password: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForSelector("#tasks-view", { state: "visible", timeout: 10_000 });
  await waitForText(page, "#who", (t) => t === email);
}

const reportNumber = async (page: Page, which: "total" | "completed" | "incomplete") =>
  Number((await text(page, `#report-${which}`)).replace(/,/g, ""));

/** Both sizes the console is made for: a laptop and a phone. */
async function screenshots(page: Page, name: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 1280 ? 900 : 844 });
    const widths = await page.evaluate<{ page: number; window: number }>(
      "({ page: document.scrollingElement.scrollWidth, window: window.innerWidth })",
    );
    assert(widths.page <= widths.window, `${name}: the page is ${widths.page} px wide in a ${widths.window} px window`);
    await page.screenshot({ path: path.join(results, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/**
 * One user's console in a context of its own: downloads allowed, confirmations accepted, errors
 * watched, with the task list's filters and the task view at hand.
 */
async function taskConsole(browser: Browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on("dialog", (dialog) => void dialog.accept());
  page.setDefaultTimeout(10_000);
  const errors = watchErrors(page);
  return { context, page, errors, list: page.locator("#task-filters"), task: page.locator("#task-view") };
}

async function tasksAsManagerAndEmployee(base: string, browser: Browser): Promise<void> {
  const stamp = Date.now().toString(36);
  const title = `Quarterly report ${stamp}`;
  const attachment = { name: `brief-${stamp}.txt`, mimeType: "text/plain", buffer: Buffer.from(`Brief ${stamp}\n`) };
  let taskPath = "";

  const {
    context: managerContext,
    page: manager,
    errors: managerErrors,
    list: managerList,
    task: managerTask,
  } = await taskConsole(browser);

  const loggedIn = await check("a manager logs in and sees the Tasks view and the report's numbers", async () => {
    await logIn(manager, base, SEEDED.manager.email, SEEDED.password);
    await waitForText(manager, "#tasks-summary", (t) => /^Tasks \d|^No tasks/.test(t));
    await waitForText(manager, "#report-total", (t) => /^\d[\d,]*$/.test(t));
  });
  if (!loggedIn) return;
  await check("the list pages by 20, and the page is in the address", async () => {
    const login = await fetch(`${base}/api/v1/auth/user/login/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: SEEDED.manager.email, password: SEEDED.password }),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    // Not containing `stamp`: the search for the task below must not find these.
    const batch = `batch-${[...stamp].reverse().join("")}`;
    for (let i = 1; i <= 21; i++) {
      const created = await fetch(`${base}/api/v1/tasks/`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ title: `${batch} ${i}` }),
      });
      assert(created.status === 201, `creating task ${i} answered ${created.status}`);
    }
    await manager.goto(`${base}/console/#/tasks?search=${batch}&ordering=created_at`);
    await waitForText(manager, "#tasks-summary", (t) => t === "Tasks 1–20 of 21");
    assert((await manager.locator("#tasks-table tbody tr").count()) === 20, "not 20 tasks on the first page");
    assert(await manager.getByRole("button", { name: "← Previous" }).isDisabled(), "Previous on the first page");
    await manager.getByRole("button", { name: "Next →" }).click();
    await waitForText(manager, "#tasks-summary", (t) => t === "Tasks 21–21 of 21");
    assert((await text(manager, "#tasks-table tbody")).includes(`${batch} 21`), "the oldest-first order's last task");
    assert(new URL(manager.url()).hash.includes("page=2"), `the address is ${manager.url()}`);
    assert(await manager.getByRole("button", { name: "Next →" }).isDisabled(), "Next on the last page");
    await manager.goBack();
    await waitForText(manager, "#tasks-summary", (t) => t === "Tasks 1–20 of 21");
    await manager.getByRole("button", { name: "Clear filters" }).click();
    // Tasks made outside the console count once the page asks again: a reload starts from "–".
    await manager.reload();
    await waitForText(manager, "#report-total", (t) => /^\d[\d,]*$/.test(t));
  });

  const before = { total: await reportNumber(manager, "total"), completed: await reportNumber(manager, "completed") };

  await check("create: the API's refusal shows next to the field it names", async () => {
    await manager.getByRole("button", { name: "New task" }).click();
    const form = manager.locator("#create-form");
    await form.getByLabel("Title", { exact: true }).fill(title);
    await form.getByLabel("Description", { exact: true }).fill("Compile the quarter's numbers.");
    await form.getByLabel("Priority", { exact: true }).selectOption("high");
    await form.getByLabel("Due date", { exact: true }).fill("2030-09-30");
    await form.getByLabel("Estimate (hours)", { exact: true }).fill("20000");
    managerErrors.allow(400, "/api/v1/tasks/");
    await form.getByRole("button", { name: "Create task" }).click();
    const message = await waitForText(manager, "#new-estimate-hours-error", (t) => t !== "");
    assert(message === "Invalid input in estimate_hours: must be at most 10000.", `the error says "${message}"`);
    assert((await form.getByLabel("Estimate (hours)").getAttribute("aria-invalid")) === "true", "not marked invalid");
    assert(await manager.locator("#new-title-error").isHidden(), "an error shows by a field the API did not name");
  });

  await check("create: a task with an assignee opens its page and the report counts it", async () => {
    const form = manager.locator("#create-form");
    await form.getByLabel("Estimate (hours)", { exact: true }).fill("6");
    await form.getByLabel(SEEDED.employee.name).check();
    await form.getByRole("button", { name: "Create task" }).click();
    await waitForText(manager, "#task-title", (t) => t === title);
    taskPath = new URL(manager.url()).hash;
    assert(/^#\/tasks\/\d+$/.test(taskPath), `the address is ${manager.url()}`);
    await waitForText(manager, "#assignee-list", (t) => t.includes(SEEDED.employee.name));
    assert((await managerTask.getByLabel("Due date", { exact: true }).inputValue()) === "2030-09-30", "due date");
    await waitForText(manager, "#report-total", (t) => Number(t.replace(/,/g, "")) === before.total + 1);
  });

  await check("edit: the changed fields are saved and shown", async () => {
    await managerTask.getByLabel("Title", { exact: true }).fill(`${title} (edited)`);
    await managerTask.getByLabel("Priority", { exact: true }).selectOption("critical");
    await manager.getByRole("button", { name: "Save changes" }).click();
    await waitForText(manager, "#save-status", (t) => t === "Saved.");
    await waitForText(manager, "#task-title", (t) => t === `${title} (edited)`);
    assert(
      (await text(manager, "#task-badges")).includes("Critical"),
      `badges: ${await text(manager, "#task-badges")}`,
    );
    const priority = await managerTask.getByLabel("Priority", { exact: true }).inputValue();
    assert(priority === "critical", `the priority control shows "${priority}" after saving`);
  });

  await check("assign and unassign another person", async () => {
    await managerTask.getByLabel("Assign", { exact: true }).selectOption({ label: SEEDED.employee2.name });
    await manager.getByRole("button", { name: "Assign", exact: true }).click();
    await waitForText(manager, "#assignee-list", (t) => t.includes(SEEDED.employee2.name));
    await manager.getByRole("button", { name: `Unassign ${SEEDED.employee2.name}` }).click();
    await waitForText(manager, "#assignee-list", (t) => !t.includes(SEEDED.employee2.name));
    assert((await text(manager, "#assignee-list")).includes(SEEDED.employee.name), "the first assignee went too");
  });

  await check("comment on the task", async () => {
    await managerTask.getByLabel("Add a comment", { exact: true }).fill(`Numbers due Friday ${stamp}`);
    await manager.getByRole("button", { name: "Add comment" }).click();
    await waitForText(manager, "#comment-list", (t) => t.includes(`Numbers due Friday ${stamp}`));
    assert((await text(manager, "#comment-list")).includes(SEEDED.manager.name), "the author's name");
  });

  await check("upload an attachment with progress, then download it", async () => {
    await managerTask.getByLabel("Attach a file", { exact: true }).setInputFiles(attachment);
    await manager.locator("#attachment-form").getByRole("button", { name: "Upload" }).click();
    await waitForText(manager, "#attachment-text", (t) => t.startsWith(`Uploaded ${attachment.name}`));
    const bar = await manager.evaluate<number>('document.getElementById("attachment-bar").value');
    assert(bar === 100, `the progress bar is at ${bar}`);
    const [download] = await Promise.all([
      manager.waitForEvent("download"),
      manager.getByRole("button", { name: `Download ${attachment.name}` }).click(),
    ]);
    assert(download.suggestedFilename() === attachment.name, `file name ${download.suggestedFilename()}`);
    const saved = path.join(results, attachment.name);
    await download.saveAs(saved);
    assert(readFileSync(saved, "utf8") === attachment.buffer.toString("utf8"), "the downloaded bytes differ");
  });

  await check("the list filters by search and priority, one request per search, kept in the address", async () => {
    await manager.getByRole("link", { name: "← All tasks" }).click();
    await manager.waitForSelector("#tasks-view", { state: "visible" });
    let listRequests = 0;
    manager.on("request", (request) => {
      if (new URL(request.url()).pathname === "/api/v1/tasks/") listRequests++;
    });
    const searched = manager.waitForResponse((response) => {
      const url = new URL(response.url());
      return url.pathname === "/api/v1/tasks/" && url.searchParams.get("search") === stamp;
    });
    await managerList.getByLabel("Search title and description").pressSequentially(stamp, { delay: 40 });
    await searched;
    await waitForText(manager, "#tasks-summary", (t) => t === "Tasks 1–1 of 1");
    assert(listRequests === 1, `typing "${stamp}" sent ${listRequests} list requests`);
    await managerList.getByLabel("Priority", { exact: true }).selectOption("low");
    await waitForText(manager, "#tasks-summary", (t) => t === "No tasks match these filters.");
    await managerList.getByLabel("Priority", { exact: true }).selectOption("critical");
    await waitForText(manager, "#tasks-summary", (t) => t === "Tasks 1–1 of 1");
    const hash = new URL(manager.url()).hash;
    assert(hash.includes("priority=critical") && hash.includes(`search=${stamp}`), `the address is ${hash}`);
    // A shared address opens the same view: the filters come back from it.
    await manager.reload();
    await waitForText(manager, "#tasks-summary", (t) => t === "Tasks 1–1 of 1");
    assert((await managerList.getByLabel("Priority", { exact: true }).inputValue()) === "critical", "priority filter");
    assert((await managerList.getByLabel("Search title and description").inputValue()) === stamp, "search filter");
    assert((await text(manager, "#tasks-table tbody")).includes(`${title} (edited)`), "the task is listed");
    await screenshots(manager, "console-tasks");
  });

  await check("complete the task: its status and the report's numbers follow", async () => {
    await manager.getByRole("link", { name: `${title} (edited)` }).click();
    await waitForText(manager, "#task-title", (t) => t === `${title} (edited)`);
    await manager.getByRole("button", { name: "Mark done" }).click();
    await waitForText(manager, "#complete-task", (t) => t === "Completed");
    assert((await text(manager, "#task-badges")).startsWith("Done"), `badges: ${await text(manager, "#task-badges")}`);
    await waitForText(manager, "#report-completed", (t) => Number(t.replace(/,/g, "")) === before.completed + 1);
    await screenshots(manager, "console-task");
  });

  const {
    context: employeeContext,
    page: employee,
    errors: employeeErrors,
    list: employeeList,
    task: employeeTask,
  } = await taskConsole(browser);

  await check("an employee finds the task under Assigned to me", async () => {
    await logIn(employee, base, SEEDED.employee.email, SEEDED.password);
    await employeeList.getByLabel("Assigned to me").check();
    await employeeList.getByLabel("Search title and description").fill(stamp);
    await employeeList.getByLabel("Search title and description").press("Enter");
    await waitForText(employee, "#tasks-summary", (t) => t === "Tasks 1–1 of 1");
    assert(new URL(employee.url()).hash.includes("assigned_to=me"), `the address is ${employee.url()}`);
    await employee.getByRole("link", { name: `${title} (edited)` }).click();
    await waitForText(employee, "#task-title", (t) => t === `${title} (edited)`);
  });

  await check("an assignee sees every field but the status read-only, and why", async () => {
    for (const label of ["Title", "Description", "Priority", "Due date", "Estimate (hours)", "Department"]) {
      assert(await employeeTask.getByLabel(label, { exact: true }).isDisabled(), `${label} is editable`);
    }
    assert(await employeeTask.getByLabel("Status", { exact: true }).isEnabled(), "the status is read-only");
    assert(await employee.getByRole("button", { name: "Delete", exact: true }).isDisabled(), "Delete is offered");
    assert(await employee.locator("#assign-form").isHidden(), "the assign form is offered");
    assert(await employee.locator("#attachment-form").isHidden(), "the upload form is offered");
    const note = await text(employee, "#edit-form .note");
    assert(note.startsWith("You are assigned to this task: you may change its status"), `the note says "${note}"`);
    await employeeTask.getByLabel("Status", { exact: true }).selectOption("in_progress");
    await employee.getByRole("button", { name: "Save changes" }).click();
    await waitForText(employee, "#save-status", (t) => t === "Saved.");
    assert((await text(employee, "#task-badges")).startsWith("In progress"), "the status did not change");
    const status = await employeeTask.getByLabel("Status", { exact: true }).inputValue();
    assert(status === "in_progress", `the status control shows "${status}" after saving`);
    await employee.screenshot({ path: path.join(results, "console-task-assignee-1280.png"), fullPage: true });
  });

  await check("an employee comments, may delete only their own comment, and downloads the file", async () => {
    await employeeTask.getByLabel("Add a comment", { exact: true }).fill(`On it ${stamp}`);
    await employee.getByRole("button", { name: "Add comment" }).click();
    await waitForText(employee, "#comment-list", (t) => t.includes(`On it ${stamp}`));
    const deletes = employee.getByRole("button", { name: "Delete this comment" });
    assert((await deletes.count()) === 1, `${await deletes.count()} comments offer Delete`);
    await deletes.click();
    await waitForText(employee, "#comment-list", (t) => !t.includes(`On it ${stamp}`));
    assert((await text(employee, "#comment-list")).includes(`Numbers due Friday ${stamp}`), "the manager's comment");
    const [download] = await Promise.all([
      employee.waitForEvent("download"),
      employee.getByRole("button", { name: `Download ${attachment.name}` }).click(),
    ]);
    assert(download.suggestedFilename() === attachment.name, `file name ${download.suggestedFilename()}`);
  });

  await check("the history panel shows only when the API serves a task's history", async () => {
    const openapi = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const served = Object.keys(openapi.paths).some((p) => /\/tasks\/\{[^}]+\}\/history\/?$/.test(p));
    const section = managerTask.locator("#history-section");
    if (served) await section.waitFor({ state: "visible" });
    else assert(await section.isHidden(), "a history panel shows though the API has no history route");
  });

  await check("delete the task: back to the list, gone from it and from the report", async () => {
    await manager.getByRole("button", { name: "Delete", exact: true }).click();
    await manager.waitForSelector("#tasks-view", { state: "visible" });
    await waitForText(manager, "#tasks-summary", (t) => t === "No tasks match these filters.");
    await waitForText(manager, "#report-total", (t) => Number(t.replace(/,/g, "")) === before.total);
  });

  await check("the task pages logged no errors but the one provoked", async () => {
    const unexpected = [...managerErrors.unexpected(), ...employeeErrors.unexpected()];
    assert(unexpected.length === 0, unexpected.join("\n"));
  });

  await managerContext.close();
  await employeeContext.close();
}

// ---- notifications: another user's action, shown live ------------------------------------------------

/** A seeded user's access token, from the API. */
async function tokenOf(base: string, email: string): Promise<string> {
  const login = await fetch(`${base}/api/v1/auth/user/login/`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: SEEDED.password }),
  });
  assert(login.status === 200, `login of ${email} answered ${login.status}`);
  return ((await login.json()) as { access_token: string }).access_token;
}

async function notificationsLive(base: string, browser: Browser): Promise<void> {
  const stamp = Date.now().toString(36);
  const title = `Live notice ${stamp}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors = watchErrors(page);
  // The notification must come over the stream, not a reload of the feed: count the stream's messages.
  let streamFrames = 0;
  page.on("websocket", (socket) => {
    if (/\/notifications\/stream\/\?access_token=/.test(socket.url())) socket.on("framereceived", () => streamFrames++);
  });
  const bell = page.locator("#notifications-toggle");
  const panel = page.locator("#notifications-panel");

  const ready = await check("notifications: the bell opens from the keyboard and marks everything read", async () => {
    // At least one unread notification to clear, whatever earlier steps left.
    await assignToEmployee(base, `Earlier notice ${stamp}`);
    await logIn(page, base, SEEDED.employee.email, SEEDED.password);
    await waitForText(page, "#notifications-summary", (t) => /^[1-9]\d* unread/.test(t));
    assert(Number(await text(page, "#notifications-count")) >= 1, "the bell shows no count");
    await bell.focus();
    await page.keyboard.press("Enter");
    await panel.waitFor({ state: "visible" });
    assert((await bell.getAttribute("aria-expanded")) === "true", "the bell does not say it is expanded");
    await page.getByRole("button", { name: "Mark all read" }).click();
    await waitForText(page, "#notifications-summary", (t) => t.startsWith("0 unread"));
    assert(await page.locator("#notifications-count").isHidden(), "the count still shows");
    assert(
      (await bell.getAttribute("aria-label")) === "Notifications, 0 unread",
      `${await bell.getAttribute("aria-label")}`,
    );
    const api = await fetch(`${base}/api/v1/notifications/?unread=true`, {
      headers: { Authorization: `Bearer ${await tokenOf(base, SEEDED.employee.email)}` },
    });
    assert(((await api.json()) as { count: number }).count === 0, "the API still counts unread notifications");
    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "hidden" });
  });
  if (!ready) {
    await context.close();
    return;
  }

  await check("notifications: a task another user assigns shows at once, without a reload", async () => {
    const framesBefore = streamFrames;
    await assignToEmployee(base, title);
    await waitForText(page, "#notifications-count", (t) => t === "1");
    assert((await bell.getAttribute("aria-label")) === "Notifications, 1 unread", "the bell's label");
    assert(streamFrames > framesBefore, "the notification did not come over the WebSocket");
    await waitForText(page, "#notifications-live", (t) => t === `New notification: You were assigned: ${title}`);
    await bell.click();
    const item = page.locator("#notification-list li").first();
    assert(
      (await item.textContent())?.includes(`You were assigned: ${title}`),
      `first item: ${await item.textContent()}`,
    );
    await page.screenshot({ path: path.join(results, "console-notifications-1280.png"), fullPage: true });
  });

  await check(
    "notifications: marking it read clears the count here and in the API; its link opens the task",
    async () => {
      await page.getByRole("button", { name: `Mark read: You were assigned: ${title}` }).click();
      await waitForText(page, "#notifications-summary", (t) => t.startsWith("0 unread"));
      assert(await page.locator("#notifications-count").isHidden(), "the count still shows");
      const token = await tokenOf(base, SEEDED.employee.email);
      const unread = await fetch(`${base}/api/v1/notifications/?unread=true`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert(((await unread.json()) as { count: number }).count === 0, "the API still counts it unread");
      await page.getByRole("link", { name: `You were assigned: ${title}` }).click();
      await waitForText(page, "#task-title", (t) => t === title);
    },
  );

  await check("notifications: the page logged no errors", async () => {
    const unexpected = errors.unexpected();
    assert(unexpected.length === 0, unexpected.join("\n"));
  });
  await context.close();
}

/** The seeded manager creates a task assigned to the seeded employee (who is notified). */
async function assignToEmployee(base: string, title: string): Promise<void> {
  const created = await fetch(`${base}/api/v1/tasks/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${await tokenOf(base, SEEDED.manager.email)}`,
    },
    body: JSON.stringify({ title, assignees: [await employeeId(base)] }),
  });
  assert(created.status === 201, `the manager's create answered ${created.status}`);
}

/** The seeded employee's user id. */
async function employeeId(base: string): Promise<number> {
  const me = await fetch(`${base}/api/v1/auth/user/me/`, {
    headers: { Authorization: `Bearer ${await tokenOf(base, SEEDED.employee.email)}` },
  });
  return ((await me.json()) as { id: number }).id;
}

/**
 * `/docs` with every host but the API's own unreachable (as on a laptop with no internet): the
 * reference must render the API's operations, and must not even try another host.
 */
async function docsOffline(base: string, browser: Browser): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const own = new URL(base).host;
  const elsewhere: string[] = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.host === own || url.protocol === "data:" || url.protocol === "blob:") return route.continue();
    elsewhere.push(url.href);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  await check("the API reference at /docs renders with no internet", async () => {
    await page.goto(`${base}/docs`);
    // The document's title and a tag, rendered by the reference's script from the OpenAPI document.
    await page.getByRole("heading", { name: "Edge Tasks API" }).waitFor({ state: "visible", timeout: 20_000 });
    await page.getByText("CSV uploads", { exact: true }).first().waitFor({ state: "visible" });
    assert(elsewhere.length === 0, `the page asked other hosts: ${elsewhere.join(", ")}`);
  });
  await context.close();
}

async function main(): Promise<number> {
  mkdirSync(results, { recursive: true });
  let browser: Browser | undefined;
  try {
    const base = process.env.E2E_BASE_URL ?? (await startStack());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    console.log("console e2e");
    await run(base, browser);
    await tasksAsManagerAndEmployee(base, browser);
    await notificationsLive(base, browser);
    await docsOffline(base, browser);
  } catch (error) {
    failed++;
    console.log(`  ✗ setup\n    ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await browser?.close().catch(() => {});
    await stopStack();
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void stopStack().finally(() => process.exit(130));
  });
}

main().then((code) => process.exit(code));
