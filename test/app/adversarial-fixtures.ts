/**
 * The machinery of the adversarial suite: a pool of CEO actors (so thousands of requests stay
 * under the per-user rate limit), real objects for every kind of path id, the app's own OpenAPI
 * document as the list of operations, and one checker every response goes through.
 */
import { expect } from "vitest";
import { eventually, testEnv } from "../support/env.ts";
import { api, clientIp, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { finished, formUpload } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  [key: string]: unknown;
}

export interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  schema?: JsonSchema;
}

export interface Operation {
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface Op {
  method: string;
  path: string;
  operation: Operation;
  key: string;
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "patch"]);

export async function fetchDocument(): Promise<OpenApiDocument> {
  const response = await api("http://api.test/api/v1/openapi.json");
  expect(response.status).toBe(200);
  return json<OpenApiDocument>(response);
}

export function operations(doc: OpenApiDocument): Op[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.has(method))
      .map(([method, operation]) => ({ method, path, operation, key: `${method.toUpperCase()} ${path}` })),
  );
}

/** Follows `$ref`s (and single-entry `allOf`) until a concrete schema. */
export function resolve(doc: OpenApiDocument, schema: JsonSchema | undefined): JsonSchema {
  let current = schema ?? {};
  for (let depth = 0; depth < 10; depth++) {
    if (current.$ref) {
      const name = current.$ref.replace("#/components/schemas/", "");
      current = doc.components?.schemas?.[name] ?? {};
    } else if (current.allOf?.length === 1 && current.allOf[0]) {
      current = current.allOf[0];
    } else {
      return current;
    }
  }
  return current;
}

export function pathParams(op: Op): Parameter[] {
  return (op.operation.parameters ?? []).filter((p) => p.in === "path");
}

export function queryParams(op: Op): Parameter[] {
  return (op.operation.parameters ?? []).filter((p) => p.in === "query");
}

export function jsonBodySchema(doc: OpenApiDocument, op: Op): JsonSchema | undefined {
  const content = op.operation.requestBody?.content?.["application/json"];
  return content ? resolve(doc, content.schema) : undefined;
}

/** The JSON types a schema admits (`integer` counts as `number`); empty when unconstrained. */
export function admittedTypes(doc: OpenApiDocument, schema: JsonSchema): Set<string> {
  const resolved = resolve(doc, schema);
  const variants = resolved.anyOf ?? resolved.oneOf;
  if (variants) {
    const all = new Set<string>();
    for (const variant of variants) for (const type of admittedTypes(doc, variant)) all.add(type);
    return all;
  }
  const types = Array.isArray(resolved.type) ? resolved.type : resolved.type ? [resolved.type] : [];
  const result = new Set(types.map((t) => (t === "integer" ? "number" : t)));
  if (resolved.nullable === true) result.add("null");
  return result;
}

export function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Free text: a plain string with no format, pattern or enum, so any hostile string may be legal data. */
export function isFreeText(doc: OpenApiDocument, schema: JsonSchema): boolean {
  const resolved = resolve(doc, schema);
  return resolved.type === "string" && !resolved.format && !resolved.pattern && !resolved.enum;
}

// ---------------------------------------------------------------------------------------------
// Actors and objects

export interface Actor extends TestUser {
  uploadId: string;
  jobId: string;
  /** The notification of its upload's completion (notifications are their user's only). */
  notificationId: number;
}

export interface World {
  actors: Actor[];
  /** A user nobody logs in as: the target of PATCH /users/{id}. */
  target: TestUser;
  departmentId: number;
  taskId: number;
  commentId: number;
  attachmentId: number;
  /** A registered user (real password) for login cases. */
  loginEmail: string;
  /** A webhook subscription (to the test receiver) and one of its deliveries (a ping). */
  webhookId: number;
  deliveryId: number;
}

/** Each actor is a CEO with a finished upload of its own (uploads and jobs are owner-only). */
async function makeActor(): Promise<Actor> {
  const member = await createUser({ role: "ceo", via: "sql" });
  const upload = await formUpload(member, "id,name,amount,day\n1,Ada,1.5,2030-01-01\n2,Bob,,\n");
  const done = await finished(member, upload.id);
  if (!done.job) throw new Error("upload without a job");
  // The details may report the end (from the progress object) a moment before its transaction commits.
  const notification = await eventually(async () => {
    const feed = await json<{ results: { id: number }[] }>(await api("/notifications/", { token: member.token }));
    return feed.results[0];
  });
  return { ...member, uploadId: upload.id, jobId: done.job, notificationId: notification.id };
}

export async function makeWorld(actorCount: number): Promise<World> {
  const [org, actors] = await Promise.all([makeOrg(), Promise.all(Array.from({ length: actorCount }, makeActor))]);
  const owner = actors[0] as Actor;
  const task = await makeTask(owner, { assignees: [org.employee.id], department: org.departmentId });
  const comment = await api(`/tasks/${task.id}/comments/`, { token: owner.token, json: { content: "seed" } });
  expect(comment.status).toBe(201);
  const form = new FormData();
  form.set("file", new File(["hello"], "seed.txt", { type: "text/plain" }));
  const attachment = await api(`/tasks/${task.id}/attachments/`, { token: owner.token, body: form });
  expect(attachment.status).toBe(201);
  const registered = await api("/auth/user/register/", {
    json: { email: `adv-login-${crypto.randomUUID()}@example.com`, password: "Sturdy-Passw0rd!", full_name: "L" },
    headers: { "CF-Connecting-IP": clientIp() },
  });
  expect(registered.status).toBe(201);
  const webhook = await api("/webhooks/", {
    token: owner.token,
    json: { url: `${testEnv.TEST_WEBHOOK_RECEIVER_URL}/hooks/adversarial`, events: ["task.deleted"] },
  });
  expect(webhook.status).toBe(201);
  const webhookId = (await json<{ id: number }>(webhook)).id;
  const ping = await api(`/webhooks/${webhookId}/test/`, { method: "POST", token: owner.token });
  expect(ping.status).toBe(202);
  return {
    webhookId,
    deliveryId: (await json<{ id: number }>(ping)).id,
    actors,
    target: org.colleague,
    departmentId: org.departmentId,
    taskId: task.id,
    commentId: (await json<{ id: number }>(comment)).id,
    attachmentId: (await json<{ id: number }>(attachment)).id,
    loginEmail: (await json<{ email: string }>(registered)).email,
  };
}

/**
 * The real object a path's `{id}` names. Uploads, jobs and notifications are visible to their owner only, so
 * those become placeholders that `runCases` fills with the sending actor's own.
 */
export function realId(world: World, path: string): string {
  const families: [string, () => number | string][] = [
    ["/api/v1/users/", () => world.target.id],
    ["/api/v1/departments/", () => world.departmentId],
    ["/api/v1/tasks/", () => world.taskId],
    ["/api/v1/comments/", () => world.commentId],
    ["/api/v1/attachments/", () => world.attachmentId],
    ["/api/v1/csv-data/uploads/", () => "{actor-upload}"],
    ["/api/v1/jobs/", () => "{actor-job}"],
    ["/api/v1/webhooks/", () => world.webhookId],
    ["/api/v1/notifications/", () => "{actor-notification}"],
  ];
  const family = families.find(([prefix]) => path.startsWith(prefix));
  // A new family of ids must be given a real object here; failing loudly keeps coverage honest.
  if (!family) throw new Error(`no real object known for ${path}`);
  return String(family[1]());
}

// ---------------------------------------------------------------------------------------------
// Cases and the response checker

export interface Case {
  label: string;
  method: string;
  /** Absolute (http://api.test/...) URL. */
  url: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  /** Allowed statuses; by default any 2xx-4xx that is not 401 or 429. */
  expect?: number[];
  /** Statuses 401 is a legitimate answer for (auth routes). */
  allow401?: boolean;
  /** Skips the Authorization header (auth routes, WebSocket tokens in the query). */
  anonymous?: boolean;
  /** Called with a 2xx JSON body, for echo checks; returns a problem or null. */
  onSuccess?: (body: unknown) => string | null;
}

/** Postgres or driver text that must never reach a client. */
export const SQL_LEAK =
  /syntax error|relation "|column "|violates|duplicate key|postgres|drizzle|invalid input syntax|SQLSTATE|at character|invalid byte sequence|unterminated|pg_|neon/i;
/** A stack trace or a raw JS error name. */
export const STACK_LEAK = /\n\s+at .+:\d+:\d+|\b(TypeError|RangeError|SyntaxError|ReferenceError)\b/;

function excerpt(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Everything wrong with one response, or an empty list. */
export async function check(c: Case, response: Response): Promise<string[]> {
  const problems: string[] = [];
  let text = "";
  try {
    text = response.status === 101 ? "" : await response.text();
  } catch (error) {
    // A streamed body that dies half-way is a 200 with a truncated answer: as bad as a 500.
    return [`body stream failed: ${c.label} → ${response.status}: ${String(error).slice(0, 300)}`];
  }
  const where = `${c.label} → ${response.status} ${excerpt(text)}`;
  if (response.status >= 500) problems.push(`5xx: ${where}`);
  if (c.expect && !c.expect.includes(response.status)) problems.push(`expected ${c.expect.join("/")}: ${where}`);
  if (!c.expect && (response.status === 429 || (response.status === 401 && !c.allow401))) {
    problems.push(`unexpected ${response.status}: ${where}`);
  }
  // JSON escapes the quotes of `relation "x"`; look at the text as a person would read it.
  const readable = text.replaceAll('\\"', '"');
  if (SQL_LEAK.test(readable)) problems.push(`SQL text: ${where}`);
  if (STACK_LEAK.test(readable.replaceAll("\\n", "\n"))) problems.push(`stack or JS error: ${where}`);
  if (response.status >= 400) {
    if (!/application\/json/i.test(response.headers.get("Content-Type") ?? "")) {
      problems.push(`error not JSON (${response.headers.get("Content-Type")}): ${where}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`error body does not parse: ${where}`);
      return problems;
    }
    const shape = body as { detail?: unknown; errors?: unknown };
    if (typeof shape.detail !== "string" || shape.detail.length === 0) problems.push(`no string detail: ${where}`);
    const extra = Object.keys(body as object).filter((key) => key !== "detail" && key !== "errors");
    if (extra.length) problems.push(`extra keys ${extra.join(",")}: ${where}`);
    if (shape.errors !== undefined) {
      const ok =
        Array.isArray(shape.errors) &&
        shape.errors.every(
          (e: unknown) =>
            typeof e === "object" &&
            e !== null &&
            typeof (e as { field?: unknown }).field === "string" &&
            typeof (e as { message?: unknown }).message === "string",
        );
      if (!ok) problems.push(`malformed errors[]: ${where}`);
    }
  } else if (response.status >= 200 && response.status < 300 && c.onSuccess && text) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`2xx body does not parse: ${where}`);
      return problems;
    }
    const problem = c.onSuccess(body);
    if (problem) problems.push(`${problem}: ${c.label}`);
  }
  return problems;
}

/** Sends every case (at most `parallel` at once), each as the next actor, and returns every problem. */
export async function runCases(cases: Case[], actors: Actor[], parallel = 8): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  let sent = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      const c = cases[index];
      if (!c) return;
      const actor = actors[index % actors.length] as Actor;
      const headers: Record<string, string> = { ...c.headers };
      if (!c.anonymous && !headers.Authorization) headers.Authorization = `Bearer ${actor.token}`;
      const url = c.url
        .replaceAll("{actor-upload}", actor.uploadId)
        .replaceAll("{actor-job}", actor.jobId)
        .replaceAll("{actor-notification}", String(actor.notificationId));
      let response: Response;
      try {
        response = await api(url, { method: c.method, headers, body: c.body });
      } catch (error) {
        problems.push(`request threw: ${c.label}: ${String(error)}`);
        continue;
      }
      sent++;
      problems.push(...(await check(c, response)));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  counters.requests += sent;
  counters.cases += cases.length;
  // The assertion's diff truncates long lists; the log keeps every problem for whoever fixes them.
  for (const problem of problems) console.log(`PROBLEM ${problem}`);
  return problems;
}

export const counters = { requests: 0, cases: 0 };

// ---------------------------------------------------------------------------------------------
// Hostile values

/** Strings a careless layer would mishandle; none has surrounding whitespace, so trimming cannot alter them. */
export const HOSTILE_STRINGS: Record<string, string> = {
  quotes: `O'Brien said "hi" \`there\``,
  "sql-drop": `'; DROP TABLE users; --`,
  "sql-or": `' OR '1'='1`,
  "sql-union": `1 UNION SELECT password_hash FROM users`,
  "sql-dollar": `$$; SELECT 1; $$`,
  semicolons: `a;b;;c;`,
  percent: `%`,
  underscore: `_`,
  "like-mix": `50%_off\\`,
  backslashes: `C:\\new\\table\\x00`,
  html: `<script>alert(1)</script>`,
  "json-text": `{"a":[1,2]}`,
  crlf: `a\r\nb`,
  rtl: `\u202Eevil\u200B`,
  family: "👩‍👩‍👧‍👦",
  nul: `before\u0000after`,
  "nul-only": `\u0000`,
  "lone-high": `a\uD800b`,
  "lone-low": `\uDC00`,
  "astral-100k": "😀".repeat(50_000),
  "bmp-100k": "中".repeat(100_000),
};

/** Strings that cannot be stored as they were sent (Postgres text holds neither): must be 400. */
export const UNSTORABLE = new Set(["nul", "nul-only", "lone-high", "lone-low"]);

/** NUL or an unpaired surrogate: Postgres cannot store the string as sent. */
export function unstorable(text: string): boolean {
  return text.includes("\u0000") || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** Values of every JSON type, in and out of range. */
export const WRONG_TYPES: Record<string, unknown> = {
  zero: 0,
  "minus-one": -1,
  fraction: 1.5,
  "int-max+1": 2_147_483_648,
  "huge-number": 1e300,
  "bool-true": true,
  "empty-string": "",
  "numeric-string": "1",
  "empty-array": [],
  object: { a: 1 },
  null: null,
};

/** For fields that take no strings at all, a few hostile strings say as much as all of them. */
export const HOSTILE_SAMPLE = ["sql-drop", "percent", "nul", "lone-high", "astral-100k"];

/** Query-string values: hostile text and numbers that are not what a parameter expects. */
export const QUERY_VALUES: [string, string][] = [
  ...["quotes", "sql-drop", "percent", "underscore", "nul"].map((label): [string, string] => [
    label,
    HOSTILE_STRINGS[label] as string,
  ]),
  ["astral-10k", "😀".repeat(5_000)],
  ["minus-one", "-1"],
  ["1e309", "1e309"],
  ["20-digits", "99999999999999999999"],
  ["empty", ""],
  ["bad-date", "2030-02-31"],
];

/** The hostile strings for CSV filters: each meets a parser, a type conversion and a LIKE. */
export const FILTER_STRINGS = [
  "quotes",
  "sql-drop",
  "percent",
  "underscore",
  "like-mix",
  "nul",
  "lone-high",
  "json-text",
];

/** Number tokens JSON.stringify cannot produce, spliced into the body text. */
export const RAW_NUMBERS = ["1e309", "-0", "1e-400", "99999999999999999999999"];

export const BAD_DATES = [
  "2030-02-31",
  "2030-13-01",
  "0000-01-01",
  "-000001-01-01",
  "275760-09-14",
  "9999-12-31T23:59:60Z",
  "2030-01-01T25:00:00Z",
  "2030-01-01T10:00:00",
  "2030-01-01T10:00:00+25:00",
  "1e10",
  "yesterday",
  "0001-01-01",
  "9999-12-31T23:59:59.999999Z",
];
