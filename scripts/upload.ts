/**
 * `npm run upload -- <file.csv> [--api URL] [--email E --password P]`: uploads a CSV straight to R2
 * through the API's presigned part URLs, then follows the ingestion live over the WebSocket.
 * On a terminal it draws two bars (upload, ingestion); without one (CI) it prints a line every few
 * seconds. Exit code: 0 completed, 1 failed or rejected or any error, 130 cancelled.
 */
import { basename } from "node:path";
import { createInterface } from "node:readline";
import cliProgress from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import {
  ApiError,
  type CompletedPart,
  type CreatedUpload,
  cancelUpload,
  checkUploadFile,
  completeUpload,
  createUpload,
  followProgress,
  getUpload,
  isTerminal,
  login,
  type Progress,
  resolveUserPath,
  type Session,
  uploadParts,
} from "./lib/upload-client.ts";

interface Options {
  api: string;
  email?: string;
  password?: string;
  token?: string;
  concurrency: number;
}

const integer = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new InvalidArgumentError("a whole number from 1 to 32");
  return n;
};

const program = new Command()
  .name("npm run upload --")
  .description("Upload a CSV file to the Edge Tasks API and watch it being ingested.")
  .argument("<file>", "the CSV file to upload")
  .option("--api <url>", "the API origin (or $EDGE_TASKS_API)", process.env.EDGE_TASKS_API ?? "http://localhost:8787")
  .option("--email <email>", "log in as this user (or $EDGE_TASKS_EMAIL)", process.env.EDGE_TASKS_EMAIL)
  .option("--password <password>", "the user's password (or $EDGE_TASKS_PASSWORD)", process.env.EDGE_TASKS_PASSWORD)
  .option("--token <token>", "an access token instead of email and password (or $EDGE_TASKS_TOKEN)")
  .option("--concurrency <n>", "parts uploaded at once", integer, 4)
  .showHelpAfterError();

const numberFormat = new Intl.NumberFormat("en-US");
const fmt = (n: number) => numberFormat.format(Math.round(n));
const mb = (bytes: number) => (bytes / 1_000_000).toFixed(1);
/** Sizes in decimal units, the unit chosen so small files do not read "0.0 MB". */
function size(bytes: number): string {
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  if (bytes < 1_000_000_000) return `${mb(bytes)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(2)} GB`;
}
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
function eta(secondsLeft: number | null): string {
  if (secondsLeft === null || !Number.isFinite(secondsLeft)) return "ETA --";
  const s = Math.max(0, Math.round(secondsLeft));
  return s >= 60 ? `ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `ETA ${s}s`;
}

/** What the two progress views have in common: the TTY bars and the CI line printer. */
interface Display {
  /** `finished` once every part is acknowledged (bytes handed to the socket reach the total earlier). */
  upload(sent: number, total: number, elapsedMs: number, finished: boolean): void;
  ingest(progress: Progress): void;
  log(line: string): void;
  /** Stops drawing (before a prompt or the summary); `resume` starts again where it was. */
  suspend(): void;
  resume(): void;
}

interface UploadFigures {
  sent: number;
  total: number;
  elapsedMs: number;
}

function uploadText({ sent, total, elapsedMs }: UploadFigures) {
  const rate = elapsedMs > 0 ? sent / (elapsedMs / 1000) : 0;
  return {
    pct: `${total > 0 ? ((sent / total) * 100).toFixed(1) : "0.0"}%`.padStart(6),
    detail: `${size(sent)} / ${size(total)} | ${(rate / 1_000_000).toFixed(1)} MB/s | ${eta(rate > 0 ? (total - sent) / rate : null)}`,
  };
}

function ingestText(p: Progress) {
  const rate = p.rows_per_second === null ? "-- rows/s" : `${fmt(p.rows_per_second)} rows/s`;
  return {
    pct: `${p.percent.toFixed(1)}%`.padStart(6),
    detail: `${fmt(p.processed_rows)} rows | ${rate} | ${eta(p.eta_seconds)} | ${p.status}`,
  };
}

class BarDisplay implements Display {
  private multibar: cliProgress.MultiBar | null = null;
  private uploadBar: cliProgress.SingleBar | null = null;
  private ingestBar: cliProgress.SingleBar | null = null;
  private uploadState: UploadFigures | null = null;
  private ingestState: Progress | null = null;
  /** While a prompt owns the terminal, updates are only remembered. */
  private suspended = false;

  private ensure(): cliProgress.MultiBar {
    this.multibar ??= new cliProgress.MultiBar(
      {
        format: "{label} {bar} {pct} | {detail}",
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    return this.multibar;
  }

  upload(sent: number, total: number, elapsedMs: number): void {
    this.uploadState = { sent, total, elapsedMs };
    this.drawUpload();
  }

  private drawUpload(): void {
    if (!this.uploadState || this.suspended) return;
    const value = this.uploadState.total > 0 ? (this.uploadState.sent / this.uploadState.total) * 1000 : 0;
    const payload = { label: "Upload   ", ...uploadText(this.uploadState) };
    if (!this.uploadBar) this.uploadBar = this.ensure().create(1000, value, payload);
    else this.uploadBar.update(value, payload);
  }

  ingest(progress: Progress): void {
    this.ingestState = progress;
    this.drawIngest();
  }

  private drawIngest(): void {
    if (!this.ingestState || this.suspended) return;
    const payload = { label: "Ingestion", ...ingestText(this.ingestState) };
    const value = this.ingestState.percent * 10;
    if (!this.ingestBar) this.ingestBar = this.ensure().create(1000, value, payload);
    else this.ingestBar.update(value, payload);
  }

  log(line: string): void {
    if (this.multibar) this.multibar.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  suspend(): void {
    this.suspended = true;
    this.multibar?.stop();
    this.multibar = null;
    this.uploadBar = null;
    this.ingestBar = null;
  }

  resume(): void {
    this.suspended = false;
    this.drawUpload();
    this.drawIngest();
  }
}

/** Without a terminal: one line per phase change and at most one every few seconds in between. */
class LineDisplay implements Display {
  private lastUpload = 0;
  private uploadDone = false;
  private lastIngest = 0;
  private lastStatus: string | null = null;
  private readonly everyMs: number;
  constructor(everyMs: number) {
    this.everyMs = everyMs;
  }

  upload(sent: number, total: number, elapsedMs: number, finished: boolean): void {
    const now = Date.now();
    if (this.uploadDone || (!finished && now - this.lastUpload < this.everyMs)) return;
    this.lastUpload = now;
    this.uploadDone = finished;
    const text = uploadText({ sent, total, elapsedMs });
    this.log(`upload    ${text.pct.trim()} | ${text.detail}`);
  }

  ingest(progress: Progress): void {
    const now = Date.now();
    if (progress.status === this.lastStatus && now - this.lastIngest < this.everyMs) return;
    this.lastIngest = now;
    this.lastStatus = progress.status;
    const text = ingestText(progress);
    this.log(`ingestion ${text.pct.trim()} | ${text.detail}`);
  }

  log(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  suspend(): void {}
  resume(): void {}
}

type Phase = "starting" | "uploading" | "ingesting" | "ended";

async function authenticate(options: Options): Promise<Session> {
  const token = options.token ?? process.env.EDGE_TASKS_TOKEN;
  if (token) return { api: options.api, token };
  if (!options.email || !options.password) {
    throw new Error(
      "Give --email and --password (or $EDGE_TASKS_EMAIL/$EDGE_TASKS_PASSWORD), or a token in $EDGE_TASKS_TOKEN.",
    );
  }
  // The auth limit counts per client address: a busy address waits rather than failing the upload.
  return login(options.api, options.email, options.password, {
    onRateLimited: (seconds) => process.stderr.write(`Logging in: rate limited, retrying in ${seconds} s\n`),
  });
}

function ask(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    // A second Ctrl-C at the prompt means "no, just keep going" rather than killing the process mid-way.
    rl.on("SIGINT", () => {
      rl.close();
      resolve(false);
    });
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

async function main(): Promise<number> {
  program.parse();
  const file = resolveUserPath(program.args[0] as string);
  const options = program.opts<Options>();
  const info = await checkUploadFile(file);

  const interactive = Boolean(process.stderr.isTTY);
  const display: Display = interactive ? new BarDisplay() : new LineDisplay(3000);
  const started = Date.now();
  let phase: Phase = "starting";
  let upload: CreatedUpload | null = null;
  let session: Session | null = null;
  let cancelRequested = false;
  let prompting = false;
  const abortParts = new AbortController();

  async function requestCancel(): Promise<void> {
    if (!session || !upload || cancelRequested) return;
    cancelRequested = true;
    abortParts.abort();
    try {
      await cancelUpload(session, upload.id);
      display.log("Cancellation requested.");
    } catch (error) {
      // 409: it ended meanwhile; the final state the watcher gets says how.
      display.log(`Could not cancel: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  process.on("SIGINT", () => {
    if (phase === "starting" || phase === "ended") process.exit(130);
    if (prompting) return;
    // Without a terminal to answer on (CI), an interrupt means stop: cancel without asking.
    if (!process.stdin.isTTY) {
      void requestCancel();
      return;
    }
    prompting = true;
    display.suspend();
    const what = phase === "uploading" ? "upload" : "ingestion";
    void ask(`\nCancel the ${what}? (y/N) `).then(async (yes) => {
      prompting = false;
      if (yes) await requestCancel();
      // The final state may have arrived meanwhile and the summary been printed: no bars after it.
      if (phase !== "ended") display.resume();
    });
  });

  session = await authenticate(options);
  upload = await createUpload(session, basename(file), info.size);
  const plan = upload.upload;
  display.log(
    `Upload ${upload.id}: ${basename(file)}, ${size(info.size)} in ${plan.parts.length} part(s) of ${size(plan.part_size)}`,
  );

  phase = "uploading";
  const uploadStarted = Date.now();
  let sent = 0;
  display.upload(0, info.size, 0, false);
  let parts: CompletedPart[];
  try {
    parts = await uploadParts(plan, file, info.size, {
      concurrency: options.concurrency,
      signal: abortParts.signal,
      onBytes: (delta) => {
        sent += delta;
        display.upload(sent, info.size, Date.now() - uploadStarted, false);
      },
      onRetry: (part, attempt, error) =>
        display.log(
          `Part ${part} failed (attempt ${attempt}): ${error instanceof Error ? error.message : error}; retrying`,
        ),
    });
  } catch (error) {
    if (cancelRequested) {
      display.suspend();
      process.stdout.write(`Cancelled during the upload (${upload.id}).\n`);
      return 130;
    }
    throw error;
  }
  const uploadMs = Date.now() - uploadStarted;
  display.upload(info.size, info.size, uploadMs, true);

  let completed: Awaited<ReturnType<typeof completeUpload>>;
  try {
    completed = await completeUpload(session, upload.id, parts);
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      display.suspend();
      process.stdout.write(`Rejected: ${error.detail}\n`);
      return 1;
    }
    throw error;
  }

  phase = "ingesting";
  const ingestStarted = Date.now();
  const final = await followProgress(session, completed.id, { onProgress: (p) => display.ingest(p) });
  const ingestMs = Date.now() - ingestStarted;
  phase = "ended";
  display.suspend();

  const details = await getUpload(session, completed.id);
  // The stored upload is the record of what happened; the last live message only says what was seen.
  const status = isTerminal(details.status) ? details.status : final.status;
  const totalMs = Date.now() - started;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out("");
  out(`${status[0]?.toUpperCase()}${status.slice(1)}: ${basename(file)} (${details.id})`);
  out(
    `  rows: ${fmt(details.total_rows)} stored, ${fmt(details.error_rows)} rejected, ${fmt(details.processed_rows)} records read`,
  );
  // The server's own start and end stamps measure ingestion without the queue wait before it.
  const serverMs =
    status === "completed" && details.started_at && details.completed_at
      ? Date.parse(details.completed_at) - Date.parse(details.started_at)
      : null;
  const ingestRate = details.processed_rows / Math.max((serverMs ?? ingestMs) / 1000, 0.001);
  out(
    `  time: upload ${seconds(uploadMs)} (${(info.size / 1_000_000 / Math.max(uploadMs / 1000, 0.001)).toFixed(1)} MB/s), ` +
      `ingestion ${seconds(serverMs ?? ingestMs)} (${fmt(ingestRate)} rows/s), total ${seconds(totalMs)} wall clock`,
  );
  for (const e of details.errors.slice(0, 5)) out(`  line ${e.line}: ${e.reason}`);
  if (details.errors.length > 5) out(`  … and ${fmt(details.error_rows - 5)} more rejected records`);
  if (details.error) out(`  error: ${details.error}`);
  if (status === "completed") return 0;
  return status === "cancelled" ? 130 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`\nupload failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
