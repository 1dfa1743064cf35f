/**
 * Hostile input against every route of the API. The operations come from the app's own
 * OpenAPI document, so a new route is covered the day it is documented (and the OpenAPI suite
 * fails if it is not). Every response must be a 4xx with a `{"detail"}` error body (or a legitimate
 * 2xx that stored the data exactly as sent), never a 5xx, never SQL or a stack trace.
 *
 * Each test gathers every problem first and asserts the list is empty, so one run names every
 * defect instead of the first.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookSubscriptions } from "../../src/platform/db/schema.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, clientIp } from "../support/http.ts";
import { createUser, PASSWORD } from "../support/users.ts";
import {
  admittedTypes,
  BAD_DATES,
  type Case,
  check,
  counters,
  FILTER_STRINGS,
  fetchDocument,
  HOSTILE_SAMPLE,
  HOSTILE_STRINGS,
  isFreeText,
  type JsonSchema,
  jsonBodySchema,
  jsonType,
  makeWorld,
  type Op,
  type OpenApiDocument,
  operations,
  pathParams,
  QUERY_VALUES,
  queryParams,
  RAW_NUMBERS,
  realId,
  resolve,
  runCases,
  UNSTORABLE,
  unstorable,
  type World,
  WRONG_TYPES,
} from "./adversarial-fixtures.ts";

const ORIGIN = "http://api.test";
/** Enough CEO actors that ~4,000 requests stay far below 600 per user per minute. */
const ACTORS = 10;

let doc: OpenApiDocument;
let ops: Op[];
let world: World;

beforeAll(async () => {
  doc = await fetchDocument();
  ops = operations(doc);
  world = await makeWorld(ACTORS);
}, 60_000);

// Subscriptions see every event of the organisation, and the cases below may widen this one's
// events (PATCH is fuzzed): left behind, it would receive every later suite's task writes.
afterAll(async () => {
  await withDb((db) => db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, world.webhookId)));
});

/** Operations whose success would destroy a fixture or the actor's login: only invalid ids go there. */
function destructive(op: Op): boolean {
  return op.method === "delete" || /\/(cancel|logout)\/$/.test(op.path);
}

/** No security requirement, or an empty one (`{}`: authentication optional, as on the health check). */
function isPublic(op: Op): boolean {
  const security = op.operation.security ?? [];
  return security.length === 0 || security.some((requirement) => Object.keys(requirement ?? {}).length === 0);
}

function urlOf(op: Op, id?: string, query = ""): string {
  const path = op.path
    .replace("{id}", id ?? (pathParams(op).length ? realId(world, op.path) : ""))
    .replace("{delivery_id}", String(world.deliveryId));
  return `${ORIGIN}${path}${query ? `?${query}` : ""}`;
}

/** Public routes (login, register, refresh) are throttled per client IP: each request gets its own. */
function publicHeaders(op: Op): Record<string, string> {
  return isPublic(op) ? { "CF-Connecting-IP": clientIp() } : {};
}

/** A valid body per JSON operation; mutations start from it, so validation reaches every field. */
function baseBody(op: Op): Record<string, unknown> {
  const bodies: Record<string, () => Record<string, unknown>> = {
    "POST /api/v1/auth/user/register/": () => ({
      email: `adv-${crypto.randomUUID()}@example.com`,
      password: PASSWORD,
      full_name: "Adversary",
    }),
    // A fresh address each time: failed logins are throttled per account after 10 a minute.
    "POST /api/v1/auth/user/login/": () => ({
      email: `adv-${crypto.randomUUID()}@example.com`,
      password: "not-the-password",
    }),
    "POST /api/v1/auth/token/refresh/": () => ({ refresh_token: `rt_${"x".repeat(40)}` }),
    "PATCH /api/v1/users/{id}/": () => ({ department: world.departmentId }),
    "POST /api/v1/departments/": () => ({ name: `adv-${crypto.randomUUID()}` }),
    "PATCH /api/v1/departments/{id}/": () => ({ manager: null }),
    "POST /api/v1/tasks/": () => ({ title: "adversarial" }),
    "PUT /api/v1/tasks/{id}/": () => ({ title: "adversarial" }),
    "PATCH /api/v1/tasks/{id}/": () => ({ priority: "low" }),
    "POST /api/v1/tasks/{id}/assign/": () => ({ assignees: [world.target.id] }),
    "POST /api/v1/tasks/{id}/unassign/": () => ({ assignees: [world.target.id] }),
    "POST /api/v1/tasks/{id}/comments/": () => ({ content: "adversarial" }),
    "POST /api/v1/tasks/{id}/attachments/": () => ({ filename: "a.pdf", size_bytes: 10, content_type: "text/plain" }),
    "POST /api/v1/csv-data/uploads/": () => ({ filename: "a.csv", size_bytes: 100 }),
    "POST /api/v1/csv-data/uploads/{id}/complete/": () => ({ parts: [{ part_number: 1, etag: "abc" }] }),
    "POST /api/v1/webhooks/": () => ({
      url: `${testEnv.TEST_WEBHOOK_RECEIVER_URL}/hooks/adversarial`,
      events: ["task.deleted"],
    }),
    "PATCH /api/v1/webhooks/{id}/": () => ({ description: "adversarial" }),
  };
  const make = bodies[op.key];
  if (!make) throw new Error(`no base body for ${op.key}`);
  return make();
}

/**
 * The base bodies are valid, so each answers 2xx, except where the one documented refusal is the
 * answer for some of the actors: a 4xx here that is not listed means the base body itself is
 * refused, and every mutation built on it would prove nothing.
 */
const BASE_REFUSALS: Record<string, number[]> = {
  // The base login names an account with another password, and the base refresh token was never
  // issued: the same 401 a guessed credential gets.
  "POST /api/v1/auth/user/login/": [401],
  "POST /api/v1/auth/token/refresh/": [401],
  // The actors' uploads have completed: completing one again is the documented 409.
  "POST /api/v1/csv-data/uploads/{id}/complete/": [409],
};

function bodyOps(): Op[] {
  return ops.filter((op) => jsonBodySchema(doc, op));
}

function jsonCase(op: Op, label: string, bodyText: string, extra: Partial<Case> = {}): Case {
  return {
    label: `${op.key} ${label}`,
    method: op.method.toUpperCase(),
    url: urlOf(op),
    headers: { "Content-Type": "application/json", ...publicHeaders(op) },
    body: bodyText,
    anonymous: isPublic(op),
    allow401: isPublic(op),
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------

describe("adversarial input, every route", () => {
  it("knows a real object and a valid body for every operation (nothing is skipped silently)", () => {
    expect(ops.length).toBeGreaterThan(50);
    for (const op of ops) {
      if (pathParams(op).length) expect(() => realId(world, op.path), op.key).not.toThrow();
      if (jsonBodySchema(doc, op)) expect(() => baseBody(op), op.key).not.toThrow();
    }
  });

  it("valid base requests work, so every mutation below really reaches validation", async () => {
    const cases = bodyOps().map((op) =>
      jsonCase(op, "base", JSON.stringify(baseBody(op)), { expect: BASE_REFUSALS[op.key] ?? [200, 201, 202, 204] }),
    );
    expect(await runCases(cases, world.actors)).toEqual([]);
  });

  it("hostile path parameters → 400 or 404", async () => {
    const hostile: [string, string][] = [
      ["sql", encodeURIComponent("'; drop table users;--")],
      ["percent-raw", "%"],
      ["underscore", "_"],
      ["nul-escaped", "%00"],
      ["unicode-10k", encodeURIComponent("😀".repeat(5_000))],
      ["minus-one", "-1"],
      ["zero", "0"],
      ["1e309", "1e309"],
      ["20-digits", "99999999999999999999"],
      ["hex", "0x10"],
      ["space", "%201"],
      ["traversal", "..%2f"],
      ["uuid-with-nul", `${crypto.randomUUID()}%00`],
    ];
    const cases: Case[] = [];
    for (const op of ops.filter((o) => pathParams(o).length)) {
      const isInt = resolve(doc, pathParams(op)[0]?.schema).type === "integer";
      const body = jsonBodySchema(doc, op) ? JSON.stringify(baseBody(op)) : undefined;
      const headers = body ? { "Content-Type": "application/json" } : undefined;
      const values: [string, string, number[]][] = [
        ...hostile.map(([label, value]): [string, string, number[]] => [label, value, [400, 404]]),
        // The other id style is malformed; a well-formed id of nothing is a 404.
        ["wrong-id-style", isInt ? crypto.randomUUID() : "42", [400]],
        ["nonexistent", isInt ? "2147483000" : crypto.randomUUID(), [404]],
      ];
      for (const [label, value, expected] of values) {
        cases.push({
          label: `${op.key} id=${label}`,
          method: op.method.toUpperCase(),
          url: urlOf(op, value),
          headers,
          body,
          expect: expected,
        });
      }
    }
    expect(cases.length).toBeGreaterThan(400);
    expect(await runCases(cases, world.actors)).toEqual([]);
  }, 120_000);

  it("hostile query parameters, declared and undeclared → never a 5xx", async () => {
    const values = QUERY_VALUES;
    const cases: Case[] = [];
    for (const op of ops.filter((o) => o.method === "get" && !destructive(o))) {
      const names = [...queryParams(op).map((p) => p.name), "undeclared"];
      for (const name of names) {
        for (const [label, value] of name === "undeclared" ? values.slice(0, 6) : values) {
          cases.push({
            label: `${op.key} ?${name}=${label}`,
            method: "GET",
            url: urlOf(op, undefined, new URLSearchParams({ [name]: value }).toString()),
          });
        }
        // Repeated and bracketed parameters: arrays where scalars are expected.
        cases.push({
          label: `${op.key} ?${name} twice`,
          method: "GET",
          url: urlOf(op, undefined, `${name}=1&${name}=2`),
        });
        cases.push({ label: `${op.key} ?${name}[]`, method: "GET", url: urlOf(op, undefined, `${name}[]=1`) });
        cases.push({ label: `${op.key} ?${name} bad %`, method: "GET", url: urlOf(op, undefined, `${name}=%E0%A4%A`) });
      }
    }
    expect(cases.length).toBeGreaterThan(1000);
    expect(await runCases(cases, world.actors)).toEqual([]);
  }, 120_000);

  it("query values outside a parameter's declared type, range or values → 400", async () => {
    const bad: [string, string][] = [
      ["/api/v1/tasks/", "page=0"],
      ["/api/v1/tasks/", "page_size=101"],
      ["/api/v1/tasks/", "page=abc"],
      ["/api/v1/tasks/", "due_before=2030-02-31"],
      ["/api/v1/tasks/", "status=DONE"],
      ["/api/v1/tasks/", "ordering=title"],
      ["/api/v1/tasks/", "assigned_to=me'--"],
      ["/api/v1/tasks/", `search=${encodeURIComponent("a\u0000b")}`],
      ["/api/v1/users/", "page_size=0"],
      // Ids and counts are digits: no spaces, hex or exponents (they used to coerce to 1, 16, 10).
      ["/api/v1/tasks/", "creator=0x10"],
      ["/api/v1/tasks/", "department=%201"],
      ["/api/v1/task-assignments/", "task=1e1"],
      ["/api/v1/jobs/", "limit=0x10"],
      ["/api/v1/csv-data/uploads/", "page_size=%2010"],
      ["/api/v1/jobs/", "limit=0"],
      ["/api/v1/jobs/", "limit=51"],
      ["/api/v1/jobs/", "status=done"],
      ["/api/v1/reports/completed-per-day/", "from=2030-02-31"],
      ["/api/v1/reports/completed-per-day/", "from=2030-01-02&to=2030-01-01"],
      ["/api/v1/reports/opened-per-day/", "from=2000-01-01&to=2030-01-01"],
      ["/api/v1/dev/outbox/", `to=${encodeURIComponent("\u0000")}`],
      ["/api/v1/csv-data/uploads/", "page=0"],
      ["/api/v1/csv-data/uploads/", "page_size=101"],
      ["/api/v1/csv-data/uploads/{actor-upload}/data/", "page=0"],
      ["/api/v1/csv-data/uploads/{actor-upload}/data/", "page_size=1001"],
      ["/api/v1/csv-data/uploads/{actor-upload}/data/", "pagination=cursor&cursor=garbage"],
    ];
    const cases = bad.map(
      ([path, query]): Case => ({
        label: `GET ${path}?${query}`,
        method: "GET",
        url: `${ORIGIN}${path}?${query}`,
        expect: [400],
      }),
    );
    expect(await runCases(cases, world.actors)).toEqual([]);
  });

  it("CSV row filters: hostile columns, operators and values → 400 naming them, never SQL", async () => {
    const path = `${ORIGIN}/api/v1/csv-data/uploads/{actor-upload}/data/`;
    const cases: Case[] = [];
    const q = (query: Record<string, string>) => new URLSearchParams(query).toString();
    for (const label of FILTER_STRINGS) {
      const value = HOSTILE_STRINGS[label] as string;
      const queries: Record<string, string>[] = [
        { "filter[name][contains]": value },
        { "filter[name][eq]": value },
        { "filter[name][ne]": value },
        { "filter[name][in]": value },
        { "filter[name][in]": JSON.stringify([value, "x"]) },
        { "filter[amount][gt]": value },
        { "filter[id][lte]": value },
        { "filter[day][lt]": value },
        { "filter[name][is_null]": value },
        { [`filter[${value}][eq]`]: "1" },
        { [`filter[name][${value}]`]: "1" },
        { [value]: "1" },
        { name: value },
        { sort_by: value },
        { sort_by: `-${value}` },
        { columns: value },
        { columns: `name,${value}` },
        { search: value },
        { pagination: "cursor", cursor: value },
        { format: "ndjson", search: value },
        { format: "csv", "filter[name][contains]": value },
        { format: value },
        { pagination: value },
      ];
      for (const query of queries) {
        cases.push({
          label: `data ?${label}: ${Object.keys(query).join("&").slice(0, 60)}`,
          method: "GET",
          url: `${path}?${q(query)}`,
        });
      }
    }
    expect(await runCases(cases, world.actors)).toEqual([]);
  }, 120_000);

  it("malformed JSON, wrong content types, empty and oversized bodies", async () => {
    const cases: Case[] = [];
    const malformed: [string, string][] = [
      ["open-brace", "{"],
      ["truncated", '{"a":'],
      ["array", "[]"],
      ["string", '"str"'],
      ["number", "123"],
      ["bool", "true"],
      ["trailing-garbage", '{"a":1}}'],
      ["nul", "\u0000"],
      ["single-quotes", "{'a': 1}"],
      ["comment", '{/* x */"a":1}'],
      ["nan", '{"a": NaN}'],
      ["deep-nesting", `${"[".repeat(100_000)}${"]".repeat(100_000)}`],
      ["deep-object", `${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`],
    ];
    for (const op of bodyOps()) {
      const base = JSON.stringify(baseBody(op));
      const acceptsForm = Boolean(op.operation.requestBody?.content["multipart/form-data"]);
      for (const [label, text] of malformed) cases.push(jsonCase(op, `malformed ${label}`, text, { expect: [400] }));
      cases.push(jsonCase(op, "empty body", "", { expect: [400] }));
      cases.push(jsonCase(op, "BOM then JSON", `\uFEFF${base}`));
      cases.push(jsonCase(op, "unknown field", JSON.stringify({ ...baseBody(op), is_admin: true }), { expect: [400] }));
      cases.push(jsonCase(op, "__proto__ field", `{"__proto__":{"is_admin":true},${base.slice(1)}`, { expect: [400] }));
      cases.push(
        jsonCase(op, "2 MiB body", JSON.stringify({ ...baseBody(op), padding: "x".repeat(2 * 1024 * 1024) }), {
          expect: [413],
        }),
      );
      const stream = new Blob([JSON.stringify({ padding: "y".repeat(3 * 1024 * 1024) })]).stream();
      cases.push(jsonCase(op, "3 MiB streamed body, no length", "", { body: stream, expect: [413] }));
      const wrongTypes: [string, string, string][] = [
        ["text/plain", "text/plain", base],
        ["xml", "application/xml", "<a>1</a>"],
        ["urlencoded", "application/x-www-form-urlencoded", "a=1&b=2"],
        ["octet-stream", "application/octet-stream", base],
        ["jsonx", "application/jsonx", base],
        ["csv", "text/csv", "a,b\n1,2\n"],
        ["garbage", "';drop table--", base],
      ];
      for (const [label, type, text] of wrongTypes) {
        cases.push({
          ...jsonCase(op, `Content-Type ${label}`, text, { expect: [415] }),
          headers: { "Content-Type": type, ...publicHeaders(op) },
        });
      }
      // A body with no content type at all (bytes, so fetch adds none).
      cases.push({
        ...jsonCase(op, "no Content-Type", "", { expect: [415] }),
        headers: publicHeaders(op),
        body: new TextEncoder().encode(base),
      });
      const form = new FormData();
      form.set("json", base);
      cases.push({
        ...jsonCase(op, "multipart without a file", "", { expect: acceptsForm ? [400] : [415] }),
        headers: publicHeaders(op),
        body: form,
      });
      cases.push({
        ...jsonCase(op, "multipart with a broken body", "--nope\r\ngarbage", { expect: acceptsForm ? [400] : [415] }),
        headers: { "Content-Type": "multipart/form-data; boundary=xyz", ...publicHeaders(op) },
      });
      cases.push({
        ...jsonCase(op, "multipart without a boundary", "abc", { expect: acceptsForm ? [400] : [415] }),
        headers: { "Content-Type": "multipart/form-data", ...publicHeaders(op) },
      });
    }
    // Routes that take no body: a hostile one is ignored or refused, never a 5xx.
    for (const op of ops.filter((o) => o.method === "post" && !jsonBodySchema(doc, o) && !destructive(o))) {
      for (const [label, text] of malformed.slice(0, 4)) {
        cases.push({
          label: `${op.key} unexpected body ${label}`,
          method: "POST",
          url: urlOf(op),
          headers: { "Content-Type": "application/json" },
          body: text,
        });
      }
    }
    expect(await runCases(cases, world.actors, 4)).toEqual([]);
  }, 120_000);

  it("multipart files with hostile names and contents, and forms that carry no file", async () => {
    const cases: Case[] = [];
    const formOps = ops.filter((op) => op.operation.requestBody?.content["multipart/form-data"]);
    expect(formOps.map((op) => op.key).sort()).toEqual([
      "POST /api/v1/csv-data/uploads/",
      "POST /api/v1/tasks/{id}/attachments/",
    ]);
    for (const op of formOps) {
      const file = (name: string, text = "a,b\n1,2\n") => {
        const form = new FormData();
        form.set("file", new File([text], name, { type: "text/csv" }));
        return form;
      };
      for (const [label, value] of Object.entries(HOSTILE_STRINGS)) {
        const name = `${value}.csv`;
        // A File's name is a USVString: an unpaired surrogate becomes U+FFFD before it is sent.
        if (unstorable(name) && !name.includes("\u0000")) continue;
        // The multipart encoding (HTML's form rules) sends a quote in a file name as %22.
        const sent = name.replaceAll('"', "%22");
        cases.push({
          label: `${op.key} file named ${label}`,
          method: "POST",
          url: urlOf(op),
          body: file(name),
          // Any 2xx must keep the name exactly; unstorable names must be refused.
          expect: unstorable(name) ? [400] : undefined,
          onSuccess: (body) => {
            const stored = (body as { filename?: unknown }).filename;
            return stored === sent ? null : `file name stored as ${JSON.stringify(String(stored).slice(0, 40))}`;
          },
        });
      }
      for (const [label, text] of [
        ["nul-in-cells", "a,b\n1,\u0000\n"],
        ["lone-surrogate-cells", "a,b\n1,\uD800\n"],
        ["sql-in-header", "'; drop table users;--,b\n1,2\n"],
        ["empty-file", ""],
        ["binary", "\u0000\u0001\u0002\uFFFE"],
      ]) {
        cases.push({ label: `${op.key} file ${label}`, method: "POST", url: urlOf(op), body: file("x.csv", text) });
      }
      const noFile = new FormData();
      noFile.set("file", "just a string");
      cases.push({
        label: `${op.key} file as a text field`,
        method: "POST",
        url: urlOf(op),
        body: noFile,
        expect: [400],
      });
      // Past the documented limits: a real 11 MiB file (attachments allow 10 MiB), and a form
      // that declares 100 MB (uploads allow 90 MiB), refused from its Content-Length alone.
      const big = new FormData();
      big.set("file", new File([new Uint8Array(11 * 1024 * 1024)], "big.csv"));
      cases.push({
        label: `${op.key} 11 MiB file`,
        method: "POST",
        url: urlOf(op),
        body: big,
        expect: op.path.includes("attachments") ? [413] : undefined,
      });
      cases.push({
        label: `${op.key} form declaring 100 MB`,
        method: "POST",
        url: urlOf(op),
        headers: { "Content-Length": "100000000" },
        body: file("declared.csv"),
        expect: [413],
      });
      const twoFiles = file("one.csv");
      twoFiles.append("file", new File(["a\n1\n"], "two.csv"));
      cases.push({ label: `${op.key} two files`, method: "POST", url: urlOf(op), body: twoFiles });
    }
    expect(await runCases(cases, world.actors)).toEqual([]);
  });

  it("every field: wrong types, hostile strings, out-of-range numbers and dates", async () => {
    const cases: Case[] = [];
    for (const op of bodyOps()) {
      const schema = jsonBodySchema(doc, op) as JsonSchema;
      for (const [field, fieldSchema] of Object.entries(schema.properties ?? {})) {
        cases.push(...fieldCases(op, [field], fieldSchema));
        const resolved = resolve(doc, fieldSchema);
        const items = resolved.items ? resolve(doc, resolved.items) : undefined;
        if (items?.type === "object") {
          for (const [inner, innerSchema] of Object.entries(items.properties ?? {})) {
            cases.push(...fieldCases(op, [field, 0, inner], innerSchema));
          }
        } else if (items) {
          cases.push(...fieldCases(op, [field, 0], items));
        }
      }
      for (const field of schema.required ?? []) {
        const body = baseBody(op);
        delete body[field];
        cases.push(jsonCase(op, `missing ${field}`, JSON.stringify(body), { expect: [400] }));
      }
    }
    expect(cases.length).toBeGreaterThan(1000);
    expect(await runCases(cases, world.actors)).toEqual([]);
  }, 120_000);
});

/** Sets `value` at `path` inside a fresh base body; arrays and objects on the way are kept from the base. */
function withValue(op: Op, path: (string | number)[], value: unknown): Record<string, unknown> {
  const body = baseBody(op);
  let node: Record<string | number, unknown> = body;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value;
    } else {
      const next = node[key];
      const container = typeof path[i + 1] === "number" ? [] : {};
      node[key] = next && typeof next === "object" ? next : container;
      const child = node[key] as Record<string | number, unknown> | unknown[];
      if (Array.isArray(child) && child.length === 0) child.push(typeof path[i + 2] === "string" ? {} : null);
      node = child as Record<string | number, unknown>;
    }
  }
  return body;
}

function fieldCases(op: Op, path: (string | number)[], schema: JsonSchema): Case[] {
  const cases: Case[] = [];
  const name = path.join(".");
  const types = admittedTypes(doc, schema);
  const resolved = resolve(doc, schema);
  const freeText = isFreeText(doc, schema);
  const maxLength = typeof resolved.maxLength === "number" ? resolved.maxLength : undefined;
  const field = path.at(-1);

  const add = (label: string, value: unknown) => {
    let expected: number[] | undefined;
    if (types.size && !types.has(jsonType(value))) expected = [400];
    if (typeof value === "string" && maxLength !== undefined && value.length > maxLength) expected = [400];
    if (typeof value === "string" && unstorable(value)) expected = [400];
    const echo =
      freeText && typeof value === "string" && path.length === 1 && typeof field === "string"
        ? (body: unknown) => {
            const stored = (body as Record<string, unknown>)[field];
            if (typeof stored !== "string") return null;
            return stored === value ? null : `stored ${JSON.stringify(stored.slice(0, 40))}, not what was sent`;
          }
        : undefined;
    cases.push(
      jsonCase(op, `${name}=${label}`, JSON.stringify(withValue(op, path, value)), {
        expect: expected,
        onSuccess: echo,
      }),
    );
  };

  for (const [label, value] of Object.entries(WRONG_TYPES)) add(label, value);
  // Free text meets every hostile string; enums, dates and numbers refuse them all at one gate.
  const hostile = Object.entries(HOSTILE_STRINGS).filter(([label]) => freeText || HOSTILE_SAMPLE.includes(label));
  for (const [label, value] of hostile) add(label, value);
  for (const raw of RAW_NUMBERS) {
    const text = JSON.stringify(withValue(op, path, "__RAW__")).replace('"__RAW__"', raw);
    const expected = types.size && !types.has("number") ? [400] : undefined;
    cases.push(jsonCase(op, `${name}=${raw}`, text, { expect: expected }));
  }
  if (resolved.format === "date-time" || resolved.format === "date") {
    for (const date of BAD_DATES) add(`date ${date}`, date);
  }
  if (resolved.enum) {
    for (const value of resolved.enum) {
      if (typeof value === "string") {
        add(`enum-upper ${value}`, value.toUpperCase());
        add(`enum-padded ${value}`, ` ${value} `);
      }
    }
  }
  return cases;
}

describe("adversarial input: auth, headers and the WebSocket", () => {
  it("hostile Authorization headers on every protected route → 401", async () => {
    const headers = [
      "Bearer '; drop table users;--",
      `Bearer ${"a".repeat(100_000)}`,
      "Bearer",
      "Basic YWRtaW46YWRtaW4=",
      "Bearer a.b.c",
      // alg "none", sub 1.
      "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
      // HS256 with another secret.
      "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxJyBPUiAxPTEiLCJzaWQiOiJ4In0.2Qm6b3uI7u6Qq0nX0Q1Yv2bKX7hQw6l8mZ9tJ3kqQ1A",
      "Bearer %00",
    ];
    const cases: Case[] = [];
    for (const op of ops.filter((o) => !isPublic(o))) {
      for (const header of headers) {
        cases.push({
          label: `${op.key} Authorization=${header.slice(0, 30)}`,
          method: op.method.toUpperCase(),
          url: urlOf(op)
            .replaceAll("{actor-upload}", crypto.randomUUID())
            .replaceAll("{actor-job}", crypto.randomUUID())
            .replaceAll("{actor-notification}", "2147483000"),
          headers: { Authorization: header },
          anonymous: true,
          expect: op.path === "/api/v1/dev/outbox/" ? [401, 404] : [401],
        });
      }
    }
    expect(await runCases(cases, world.actors)).toEqual([]);
  });

  it("WebSocket progress: hostile tokens → 401, hostile ids → 400/404, the real upload → 101", async () => {
    const tokens = ["'; drop table users;--", "\u0000", "😀".repeat(5_000), "a.b.c", ""];
    const cases: Case[] = [];
    for (const token of tokens) {
      cases.push({
        label: `ws access_token=${token.slice(0, 20)}`,
        method: "GET",
        url: `${ORIGIN}/api/v1/csv-data/uploads/{actor-upload}/progress/?${new URLSearchParams({ access_token: token })}`,
        headers: { Upgrade: "websocket" },
        anonymous: true,
        expect: [401],
      });
    }
    for (const id of ["%00", encodeURIComponent("'; drop table--"), "42", crypto.randomUUID(), "%"]) {
      cases.push({
        label: `ws id=${id}`,
        method: "GET",
        url: `${ORIGIN}/api/v1/csv-data/uploads/${id}/progress/`,
        headers: { Upgrade: "websocket" },
        expect: [400, 404],
      });
    }
    expect(await runCases(cases, world.actors)).toEqual([]);

    const actor = world.actors[0];
    if (!actor) throw new Error("no actor");
    const response = await api(
      `/csv-data/uploads/${actor.uploadId}/progress/?access_token=${encodeURIComponent(actor.token)}`,
      { headers: { Upgrade: "websocket" } },
    );
    expect(response.status).toBe(101);
    response.webSocket?.accept();
    response.webSocket?.close();
  });

  it("register, login and refresh with hostile input answer 400/401 in the error shape", async () => {
    const cases: Case[] = [];
    const routes: [string, Record<string, unknown>][] = [
      ["/api/v1/auth/user/login/", { email: world.loginEmail, password: PASSWORD }],
      ["/api/v1/auth/token/refresh/", { refresh_token: "rt_x" }],
    ];
    for (const [path, base] of routes) {
      for (const [label, value] of Object.entries(HOSTILE_STRINGS)) {
        for (const field of Object.keys(base)) {
          cases.push({
            label: `POST ${path} ${field}=${label}`,
            method: "POST",
            url: `${ORIGIN}${path}`,
            headers: { "Content-Type": "application/json", "CF-Connecting-IP": clientIp() },
            body: JSON.stringify({ ...base, [field]: value }),
            anonymous: true,
            // Every hostile password is a failed login of one account: after 10 in a minute the
            // per-account throttle answers 429, which is as expected as the 401.
            expect: path.endsWith("/login/") ? [400, 401, 429] : [400, 401],
          });
        }
      }
    }
    // An email that differs from a real one only by SQL wildcards must not log in.
    for (const email of ["%", "_%", world.loginEmail.replace(/^./, "_"), `${world.loginEmail.slice(0, -3)}%`]) {
      cases.push({
        label: `login wildcard email ${email}`,
        method: "POST",
        url: `${ORIGIN}/api/v1/auth/user/login/`,
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": clientIp() },
        body: JSON.stringify({ email, password: PASSWORD }),
        anonymous: true,
        expect: [400, 401],
      });
    }
    expect(await runCases(cases, world.actors)).toEqual([]);
  });

  it("the whole file sent thousands of requests", () => {
    // Recorded for the report; a drop would mean a generator silently produced nothing.
    console.info(`adversarial requests sent: ${counters.requests}`);
    expect(counters.requests).toBeGreaterThan(3000);
  });
});

describe("adversarial strings that are legal data are stored byte for byte", () => {
  const storable = () =>
    Object.entries(HOSTILE_STRINGS).filter(([label, value]) => !UNSTORABLE.has(label) && value.length <= 200);

  it("task title and description, comment, department name, attachment and upload filenames, full name", async () => {
    // Its own user: this test's ~200 requests must not share a rate-limit bucket with the actors.
    const { token } = await createUser({ role: "ceo", via: "sql" });
    const problems: string[] = [];
    const same = (what: string, got: unknown, sent: string) => {
      if (got !== sent) problems.push(`${what}: sent ${JSON.stringify(sent)}, got ${JSON.stringify(got)}`);
    };
    for (const [label, value] of storable()) {
      const created = await api("/tasks/", { token, json: { title: value, description: value } });
      expect(created.status, label).toBe(201);
      const task = (await created.json()) as { id: number; title: string; description: string };
      same(`${label} title (create)`, task.title, value);
      const reread = (await (await api(`/tasks/${task.id}/?nocache=1`, { token })).json()) as typeof task;
      same(`${label} title (re-read)`, reread.title, value);
      same(`${label} description (re-read)`, reread.description, value);
      const found = (await (
        await api(`/tasks/?nocache=1&page_size=100&search=${encodeURIComponent(value)}`, { token })
      ).json()) as { results: { id: number; title: string; description: string }[] };
      if (!found.results.some((t) => t.id === task.id)) problems.push(`${label}: search does not find its own task`);
      const strays = found.results.filter((t) => !t.title.includes(value) && !t.description.includes(value));
      if (strays.length) problems.push(`${label}: search matched tasks without the text (wildcards not escaped?)`);

      const comment = await api(`/tasks/${task.id}/comments/`, { token, json: { content: value } });
      expect(comment.status, label).toBe(201);
      const comments = (await (await api(`/tasks/${task.id}/comments/`, { token })).json()) as {
        results: { content: string }[];
      };
      same(`${label} comment (re-read)`, comments.results[0]?.content, value);

      const name = `${value} ${crypto.randomUUID()}`.slice(-100);
      const department = await api("/departments/", { token, json: { name } });
      expect(department.status, label).toBe(201);
      const { id: departmentId } = (await department.json()) as { id: number };
      const deptRead = (await (await api(`/departments/${departmentId}/`, { token })).json()) as { name: string };
      same(`${label} department name (re-read)`, deptRead.name, name);

      const filename = `${value}.csv`.slice(-255);
      const attachment = await api(`/tasks/${task.id}/attachments/`, {
        token,
        json: { filename, size_bytes: 5, content_type: "text/plain" },
      });
      expect(attachment.status, label).toBe(201);
      same(`${label} attachment filename`, ((await attachment.json()) as { filename: string }).filename, filename);

      const upload = await api("/csv-data/uploads/", { token, json: { filename, size_bytes: 10 } });
      expect(upload.status, label).toBe(201);
      const { id: uploadId } = (await upload.json()) as { id: string };
      const uploadRead = (await (await api(`/csv-data/uploads/${uploadId}/`, { token })).json()) as {
        filename: string;
      };
      same(`${label} upload filename (re-read)`, uploadRead.filename, filename);
    }
    expect(problems).toEqual([]);
  });

  it("register: a hostile full name is kept exactly; login finds only the exact email", async () => {
    const problems: string[] = [];
    for (const [label, value] of storable()) {
      const response = await api("/auth/user/register/", {
        json: { email: `adv-${crypto.randomUUID()}@example.com`, password: PASSWORD, full_name: value },
        headers: { "CF-Connecting-IP": clientIp() },
      });
      const text = await response.text();
      if (response.status !== 201) {
        // Only whitespace-only names may be refused (the name is trimmed, then required).
        if (value.trim() !== "") problems.push(`${label}: register → ${response.status} ${text.slice(0, 200)}`);
        continue;
      }
      const user = JSON.parse(text) as { full_name: string };
      if (user.full_name !== value) problems.push(`${label}: full_name stored as ${JSON.stringify(user.full_name)}`);
    }
    expect(problems).toEqual([]);
  });
});

describe("regressions found by this suite", () => {
  it("an id with a space or in hex is a 400 and never reaches the object it resembles", async () => {
    const { token } = await createUser({ role: "ceo", via: "sql" });
    const created = await api("/departments/", { token, json: { name: `victim-${crypto.randomUUID()}` } });
    const { id } = (await created.json()) as { id: number };
    for (const spelled of [`%20${id}`, `${id}%20`, `0x${id.toString(16)}`, `+${id}`, `${id}.0`, `${id}e0`]) {
      const response = await api(`/departments/${spelled}/`, { token, method: "DELETE" });
      expect(response.status, spelled).toBe(400);
    }
    expect((await api(`/departments/${id}/`, { token })).status).toBe(200);
  });

  it("NUL and unpaired surrogates are a 400 naming the field, in bodies and queries alike", async () => {
    const { token } = await createUser({ role: "ceo", via: "sql" });
    const cases: [string, RequestInit & { json?: unknown }, string][] = [
      ["/tasks/", { json: { title: "a\u0000b" } }, "title"],
      ["/tasks/", { json: { title: "ok", description: "\uD800" } }, "description"],
      ["/tasks/?search=a%00b", {}, "search"],
      ["/dev/outbox/?to=%00", {}, "to"],
    ];
    for (const [path, init, field] of cases) {
      const response = await api(path, { token, json: init.json });
      expect(response.status, path).toBe(400);
      const body = (await response.json()) as { detail: string; errors: { field: string }[] };
      expect(body.errors.map((e) => e.field)).toEqual([field]);
      expect(body.detail).toMatch(/NUL|surrogate/);
    }
  });
});

describe("the checker itself", () => {
  it("flags a 5xx, SQL text, a missing detail and a stack trace", async () => {
    const c: Case = { label: "probe", method: "GET", url: ORIGIN };
    const respond = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    expect(await check(c, respond(500, { detail: "x" }))).toHaveLength(1);
    expect(await check(c, respond(400, { detail: 'relation "users" does not exist' }))).toHaveLength(1);
    expect(await check(c, respond(400, { message: "x" }))).toHaveLength(2);
    expect(await check(c, respond(400, { detail: "TypeError: x\n    at f (a.ts:1:2)" }))).toHaveLength(1);
    expect(await check(c, respond(400, { detail: "fine", errors: [{ field: "a", message: "b" }] }))).toEqual([]);
  });
});
