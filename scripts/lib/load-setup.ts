/**
 * What `bench:load` prepares before its measured window: users of every role (roles and
 * departments set in the dev database, as seed.ts does, since only CEO/HR can change roles through
 * the API), some tasks per user, one small completed upload per user for the row queries (uploads
 * are private to their owner), and the big ingestion file already in R2, so that only its
 * `complete` (the start of ingestion) falls inside the window.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { partitionName } from "../../src/features/uploads/ingest/partition-name.ts";
import { type ApiClient, ok, type RetryOptions, scriptClient } from "./api.ts";
import { integer, megabytes, seconds } from "./bench-stats.ts";
import { DEFAULT_GENERATOR, ensureCsv } from "./csv-generator.ts";
import { clientIp, Pacer } from "./load-http.ts";
import { BENCH_DIR } from "./paths.ts";
import { type CompletedPart, createUpload, isTerminal, uploadParts } from "./upload-client.ts";

export type Role = "ceo" | "hr" | "manager" | "employee";

/** 600 requests per 60 s per user (wrangler.toml USER_RATE_LIMITER), minus headroom for clock skew. */
export const USER_LIMIT = 580;
export const WINDOW_MS = 60_000;

export interface Account {
  id: number;
  email: string;
  role: Role;
  departmentId: number | null;
  token: string;
  pacer: Pacer;
}

export interface SetupTask {
  id: number;
  creator: number;
  departmentId: number | null;
  assignees: number[];
}

export interface IngestPlan {
  owner: Account;
  uploadId: string;
  file: string;
  rows: number;
  bytes: number;
  parts: CompletedPart[];
}

export interface Fixture {
  runId: string;
  /** One per client. */
  accounts: Account[];
  setupTasks: SetupTask[];
  /** Each account's own small, completed upload (row queries are private to the owner). */
  uploads: Map<number, string>;
  uploadRows: number;
  ingest: IngestPlan;
}

export interface SetupOptions {
  origin: string;
  clients: number;
  rows: number;
  tasksPerUser: number;
  uploadRows: number;
  log: (line: string) => void;
}

const PRIORITIES = ["low", "medium", "high", "critical"] as const;
const DAY_MS = 86_400_000;

/** Runs `fn` over `items`, `width` at a time. */
export async function eachLimit<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/**
 * Setup requests must succeed (`ok` throws otherwise). A user's own budget can still be spent by a
 * previous run in the same minute: a 429 is waited out, a few times, as its Retry-After says.
 */
const SETUP_RETRY: RetryOptions = { attempts: 5 };

function client(origin: string, token?: string): ApiClient {
  return scriptClient(origin, token, SETUP_RETRY);
}

/**
 * Auth requests each come from a fresh client IP, as the workerd tests do, since login, register
 * and refresh share 30 requests per minute per IP.
 */
const freshIp = () => ({ "CF-Connecting-IP": clientIp() });

/** The role mix for `n` clients: about 4 % CEO, 6 % HR, 10 % managers (one department each), the rest employees. */
export function roleMix(n: number): Role[] {
  const ceo = Math.max(1, Math.round(n * 0.04));
  const hr = Math.max(1, Math.round(n * 0.06));
  const manager = Math.max(1, Math.round(n * 0.1));
  const employee = Math.max(0, n - ceo - hr - manager);
  const roles: Role[] = [
    ...Array<Role>(ceo).fill("ceo"),
    ...Array<Role>(hr).fill("hr"),
    ...Array<Role>(manager).fill("manager"),
    ...Array<Role>(employee).fill("employee"),
  ];
  return roles.slice(0, Math.max(n, 1));
}

async function register(origin: string, email: string, password: string): Promise<number> {
  const user = await ok(
    client(origin).POST("/api/v1/auth/user/register/", {
      body: { email, password, full_name: `Load ${email.split("@")[0]}` },
      headers: freshIp(),
    }),
  );
  return user.id;
}

async function login(origin: string, email: string, password: string): Promise<string> {
  const tokens = await ok(
    client(origin).POST("/api/v1/auth/user/login/", { body: { email, password }, headers: freshIp() }),
  );
  return tokens.access_token;
}

interface NewUser {
  id: number;
  email: string;
  password: string;
  role: Role;
  departmentId: number | null;
}

/** Registers the users through the API, then sets roles, departments and managers in Postgres. */
async function createUsers(options: SetupOptions, db: pg.Client, runId: string): Promise<NewUser[]> {
  const roles = [...roleMix(options.clients), "employee" as const];
  const users: NewUser[] = roles.map((role, i) => ({
    id: 0,
    email: `load-${runId}-${i}-${role}@example.com`,
    password: `Load-${crypto.randomUUID()}`,
    role,
    departmentId: null,
  }));
  await eachLimit(users, 8, async (user) => {
    user.id = await register(options.origin, user.email, user.password);
  });

  const managers = users.filter((u) => u.role === "manager");
  const departmentIds: number[] = [];
  await db.query("begin");
  try {
    for (const [i, manager] of managers.entries()) {
      const inserted = await db.query<{ id: number }>(
        "insert into departments (name, manager_id) values ($1, $2) returning id",
        [`Load ${runId} ${i + 1}`, manager.id],
      );
      const id = inserted.rows[0]?.id;
      if (id === undefined) throw new Error("department insert returned no row");
      departmentIds.push(id);
      manager.departmentId = id;
    }
    // Employees round-robin over the departments; CEO, HR and the ingest owner have none.
    let e = 0;
    for (const user of users.slice(0, options.clients)) {
      if (user.role === "employee" && departmentIds.length > 0)
        user.departmentId = departmentIds[e++ % departmentIds.length] ?? null;
    }
    for (const user of users) {
      await db.query("update users set role = $1, department_id = $2, updated_at = now() where id = $3", [
        user.role,
        user.departmentId,
        user.id,
      ]);
    }
    await db.query("commit");
  } catch (error) {
    await db.query("rollback");
    throw error;
  }
  return users;
}

/** The users this account may assign to a task: employees only themselves. */
export function assignable(account: Account, all: readonly Account[]): number[] {
  if (account.role === "employee") return [account.id];
  const employees = all.filter((a) => a.role === "employee");
  if (account.role === "manager")
    return employees.filter((a) => a.departmentId === account.departmentId).map((a) => a.id);
  return employees.map((a) => a.id);
}

/** A task body: some overdue, some due later, some without a date, so every report has rows. */
export function taskBody(account: Account, all: readonly Account[], label: string, assign: boolean) {
  const r = Math.random();
  const due =
    r < 0.3
      ? new Date(Date.now() - (1 + Math.floor(Math.random() * 20)) * DAY_MS)
      : r < 0.7
        ? new Date(Date.now() + (1 + Math.floor(Math.random() * 30)) * DAY_MS)
        : null;
  const candidates = assignable(account, all);
  const assignee = candidates[Math.floor(Math.random() * candidates.length)];
  return {
    title: `${label} ${crypto.randomUUID().slice(0, 8)}`,
    description: `load test task by ${account.role} ${account.id}`,
    priority: PRIORITIES[Math.floor(Math.random() * PRIORITIES.length)],
    due_date: due?.toISOString() ?? null,
    estimate_hours: Math.round(Math.random() * 400) / 10,
    ...(assign && assignee !== undefined ? { assignees: [assignee] } : {}),
  };
}

async function createSetupTasks(options: SetupOptions, accounts: Account[]): Promise<SetupTask[]> {
  const jobs = accounts.flatMap((account) => Array.from({ length: options.tasksPerUser }, (_, i) => ({ account, i })));
  const created: SetupTask[] = [];
  await eachLimit(jobs, 8, async ({ account, i }) => {
    await account.pacer.take();
    const body = {
      ...taskBody(account, accounts, "Setup", i % 2 === 0),
      ...(i % 4 === 3 ? { status: "done" as const } : {}),
    };
    const task = await ok(client(options.origin, account.token).POST("/api/v1/tasks/", { body }));
    created.push({ id: task.id, creator: task.creator, departmentId: task.department, assignees: task.assignees });
  });
  return created;
}

/** One small completed upload per account, sent as a form (202) and waited for, indexes included. */
async function createSmallUploads(
  options: SetupOptions,
  db: pg.Client,
  accounts: Account[],
): Promise<Map<number, string>> {
  const rows = options.uploadRows;
  const generated = await ensureCsv(path.join(BENCH_DIR, `bench-${rows}.csv`), { ...DEFAULT_GENERATOR, rows });
  const bytes = await readFile(generated.path);
  const uploads = new Map<number, string>();
  await eachLimit(accounts, 6, async (account) => {
    const form = new FormData();
    form.set("file", new Blob([bytes], { type: "text/csv" }), `load-${rows}.csv`);
    await account.pacer.take();
    const created = await ok(
      client(options.origin, account.token).POST("/api/v1/csv-data/uploads/", {
        body: { file: `load-${rows}.csv` },
        bodySerializer: () => form,
      }),
    );
    uploads.set(account.id, created.id);
  });
  const deadline = Date.now() + 300_000;
  for (const account of accounts) {
    const id = uploads.get(account.id) ?? "";
    for (;;) {
      await account.pacer.take();
      const details = await ok(
        client(options.origin, account.token).GET("/api/v1/csv-data/uploads/{id}/", { params: { path: { id } } }),
      );
      if (isTerminal(details.status)) {
        if (details.status !== "completed" || details.total_rows !== rows) {
          throw new Error(
            `setup upload ${id} ended ${details.status} with ${details.total_rows} rows: ${details.error}`,
          );
        }
        break;
      }
      if (Date.now() > deadline) throw new Error(`setup upload ${id} still ${details.status} after 300 s`);
      await sleep(500);
    }
  }
  // The per-upload indexes are built after completion; wait for them so no CREATE INDEX competes
  // with the measured window (10 columns: 10 B-trees and a trigram index per upload).
  const partitions = [...uploads.values()].map(partitionName);
  const expected = partitions.length * 11;
  for (let waited = 0; ; waited += 1000) {
    const result = await db.query<{ n: string }>(
      "select count(*) as n from pg_indexes where tablename = any($1) and indexname like 'cr\\_%'",
      [partitions],
    );
    const present = Number(result.rows[0]?.n ?? 0);
    if (present >= expected) break;
    if (waited > 180_000) {
      options.log(`  only ${present}/${expected} indexes of the small uploads after 180 s; going on`);
      break;
    }
    await sleep(1000);
  }
  return uploads;
}

/** Generates (or reuses) the big file and PUTs its parts to R2; `complete` is left for the window. */
async function prepareIngest(options: SetupOptions, owner: Account): Promise<IngestPlan> {
  const name = options.rows === 1_000_000 ? "bench-1m.csv" : `bench-${options.rows}.csv`;
  const generated = await ensureCsv(path.join(BENCH_DIR, name), { ...DEFAULT_GENERATOR, rows: options.rows });
  options.log(
    `ingestion file ${name}: ${integer(options.rows)} rows, ${megabytes(generated.bytes)} (${generated.reused ? "reused" : `generated in ${seconds(generated.ms)}`})`,
  );
  const session = { api: options.origin, token: owner.token };
  const created = await createUpload(session, name, generated.bytes);
  const started = performance.now();
  const parts = await uploadParts(created.upload, generated.path, generated.bytes, { concurrency: 4 });
  options.log(`  ${parts.length} parts PUT to R2 in ${seconds(performance.now() - started)} (not measured)`);
  return { owner, uploadId: created.id, file: generated.path, rows: options.rows, bytes: generated.bytes, parts };
}

export async function setup(options: SetupOptions, db: pg.Client): Promise<Fixture> {
  const runId = Date.now().toString(36);
  const started = performance.now();
  const users = await createUsers(options, db, runId);
  const accounts: Account[] = [];
  await eachLimit(users, 8, async (user) => {
    const token = await login(options.origin, user.email, user.password);
    accounts.push({
      id: user.id,
      email: user.email,
      role: user.role,
      departmentId: user.departmentId,
      token,
      pacer: new Pacer(USER_LIMIT, WINDOW_MS),
    });
  });
  accounts.sort((a, b) => users.findIndex((u) => u.id === a.id) - users.findIndex((u) => u.id === b.id));
  const owner = accounts.pop();
  if (!owner) throw new Error("no ingest owner");
  const counts = new Map<Role, number>();
  for (const a of accounts) counts.set(a.role, (counts.get(a.role) ?? 0) + 1);
  options.log(
    `users: ${accounts.length} clients (${[...counts].map(([role, n]) => `${n} ${role}`).join(", ")}) + 1 ingest owner, run ${runId}`,
  );

  const setupTasks = await createSetupTasks(options, accounts);
  options.log(`tasks: ${setupTasks.length} created before the window`);
  const uploads = await createSmallUploads(options, db, accounts);
  options.log(`uploads: ${uploads.size} of ${integer(options.uploadRows)} rows each, completed and indexed`);
  const ingest = await prepareIngest(options, owner);
  options.log(`setup took ${seconds(performance.now() - started)}`);
  return { runId, accounts, setupTasks, uploads, uploadRows: options.uploadRows, ingest };
}
