import { describe, expect, it } from "vitest";
import staticHeaders from "../../public/_headers?raw";
import { eventually, testEnv } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { createUser, PASSWORD, uniqueEmail } from "../support/users.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("error shape", () => {
  it("an unknown route is a 404 JSON {detail}", async () => {
    for (const path of ["http://api.test/api/v1/no-such-thing/", "http://api.test/nowhere", "/users/1/unknown/"]) {
      const response = await api(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
      const body = await json(response);
      expect(Object.keys(body)).toEqual(["detail"]);
      expect(body.detail).toMatch(/No route matches GET/);
    }
  });

  it("an invalid JSON body is a 400 {detail} that says JSON", async () => {
    const response = await api("/auth/user/register/", {
      method: "POST",
      body: '{"email": "a@example.com", "password": ',
      headers: { "Content-Type": "application/json" },
    });
    expect(response.status).toBe(400);
    const body = await json(response);
    expect(body).toEqual({ detail: expect.stringMatching(/JSON/) });
  });

  it("a JSON route sent text/plain or no content type answers 415", async () => {
    const payload = JSON.stringify({ email: uniqueEmail(), password: "Sturdy-Passw0rd!", full_name: "X" });
    const textPlain = await api("/auth/user/register/", {
      method: "POST",
      body: payload,
      headers: { "Content-Type": "text/plain" },
    });
    expect(textPlain.status).toBe(415);
    expect((await json(textPlain)).detail).toMatch(/application\/json.*text\/plain/);

    // Bytes, not a string: a string body would get `text/plain` added by the Request constructor.
    const untyped = await api("/auth/user/register/", { method: "POST", body: new TextEncoder().encode(payload) });
    expect(untyped.status).toBe(415);
    expect((await json(untyped)).detail).toMatch(/no content type/);

    const withCharset = await api("/auth/user/register/", {
      method: "POST",
      body: payload,
      headers: { "Content-Type": "application/json; charset=utf-8" },
    });
    expect(withCharset.status).toBe(201);
  });

  it("validation errors name each field", async () => {
    const response = await api("/auth/user/register/", { json: { email: "nope", full_name: "" } });
    expect(response.status).toBe(400);
    const body = await json<{ detail: string; errors: { field: string; message: string }[] }>(response);
    expect(body.errors.map((e) => e.field).sort()).toEqual(["email", "full_name", "password"]);
  });
});

describe("request id", () => {
  it("every response carries X-Request-Id, success or error", async () => {
    const user = await createUser();
    const responses = [
      await api("/auth/user/me/", { token: user.token }),
      await api("/auth/user/me/"),
      await api("/no-such-route/"),
      await api("/users/", { token: user.token }),
      await api("/auth/user/login/", { method: "POST", body: "x", headers: { "Content-Type": "text/plain" } }),
      await api("http://api.test/api/v1/openapi.json"),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 403, 415, 200]);
    const ids = responses.map((r) => r.headers.get("X-Request-Id"));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("echoes a well-formed incoming X-Request-Id and replaces a malformed one", async () => {
    const mine = `client-${crypto.randomUUID()}`;
    const echoed = await api("/health-check/", { headers: { "X-Request-Id": mine } });
    expect(echoed.headers.get("X-Request-Id")).toBe(mine);
    const replaced = await api("/health-check/", { headers: { "X-Request-Id": "bad id <script>" } });
    expect(replaced.headers.get("X-Request-Id")).toMatch(UUID);
  });
});

describe("routing", () => {
  it("answers with and without the trailing slash, without redirecting", async () => {
    const user = await createUser();
    for (const path of ["/auth/user/me", "/auth/user/me/", `/users/${user.id}`, `/users/${user.id}/`]) {
      const response = await api(path, { token: user.token });
      expect(response.status, path).toBe(200);
      expect((await json(response)).id).toBe(user.id);
    }
    for (const path of ["/departments", "/departments/"]) {
      expect((await api(path, { token: user.token })).status, path).toBe(200);
    }
  });
});

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 and lists the auth, users and departments routes with trailing slashes and schemas", async () => {
    const response = await api("http://api.test/api/v1/openapi.json");
    expect(response.status).toBe(200);
    const doc = await json<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    }>(response);
    expect(doc.openapi).toMatch(/^3\.1\./);
    const expected: Record<string, string[]> = {
      "/api/v1/auth/user/register/": ["post"],
      "/api/v1/auth/user/login/": ["post"],
      "/api/v1/auth/token/refresh/": ["post"],
      "/api/v1/auth/user/me/": ["get"],
      "/api/v1/auth/user/logout/": ["post"],
      "/api/v1/users/": ["get"],
      "/api/v1/users/{id}/": ["get", "patch"],
      "/api/v1/departments/": ["get", "post"],
      "/api/v1/departments/{id}/": ["delete", "get", "patch"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(doc.paths[path], path).toBeDefined();
      expect(Object.keys(doc.paths[path] ?? {}).sort(), path).toEqual(expect.arrayContaining(methods));
    }
    expect(doc.paths["/api/v1/users"]).toBeUndefined();
    expect(doc.paths["/api/v1/auth/user/register/"]?.post?.requestBody).toBeDefined();
    expect(Object.keys(doc.paths["/api/v1/departments/"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["201", "400", "401", "403", "409", "415", "429"]),
    );
    expect(Object.keys(doc.paths["/api/v1/users/{id}/"]?.patch?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "400", "403", "404"]),
    );
    for (const schema of ["User", "UserPage", "Department", "DepartmentPage", "TokenPair", "Error"]) {
      expect(doc.components.schemas[schema], schema).toBeDefined();
    }
    expect(doc.components.securitySchemes.bearerAuth).toBeDefined();
  });
});

/** The relay connections whose client traffic mentions `text`, from now on (see support-server.ts). */
async function watchRelay(text: string): Promise<number> {
  const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/relay/watches`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

async function watchedConnections(id: number): Promise<{ terminated: boolean; closed: boolean }[]> {
  const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/relay/watches/${id}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { connections: { terminated: boolean; closed: boolean }[] }).connections;
}

/**
 * Well below the driver pool's idle timeout (10 s): a pool left to time out would close its
 * connection only after that, so a request that ends its own pool is told from one that leaks it.
 */
const POOL_END_BOUND_MS = 3_000;

describe("Postgres connections", () => {
  it("each request ends its own pool promptly: its connection sends Terminate and closes", async () => {
    for (let i = 0; i < 8; i++) {
      // Registration writes the user and the welcome mail in one interactive transaction: each
      // request opens a WebSocket pool (one connection, the one whose traffic holds its email).
      const email = uniqueEmail("pool");
      const watch = await watchRelay(email);
      const registered = await api("/auth/user/register/", {
        json: { email, password: PASSWORD, full_name: "Pool User" },
      });
      expect(registered.status).toBe(201);
      const connections = await eventually(
        async () => {
          const seen = await watchedConnections(watch);
          return seen[0]?.closed ? seen : undefined;
        },
        POOL_END_BOUND_MS,
        25,
      );
      // The request's own connection: ended by its pool (Terminate), not cut or timed out.
      expect(connections[0]).toEqual({ terminated: true, closed: true });
    }
  });
});

describe("X-Content-Type-Options", () => {
  it("every Worker response says nosniff: success, errors, 404, CSV, docs, the document, health, WebSocket refusals", async () => {
    const user = await createUser();
    const upgrade = { Upgrade: "websocket" };
    const cases: [string, Promise<Response>][] = [
      ["me 200", api("/auth/user/me/", { token: user.token })],
      ["me 401", api("/auth/user/me/")],
      ["unknown route 404", api("/no-such-route/")],
      ["unknown path outside the API 404", api("http://api.test/nowhere")],
      ["415", api("/auth/user/login/", { method: "POST", body: "x", headers: { "Content-Type": "text/plain" } })],
      ["400 validation", api("/auth/user/register/", { json: { email: "nope" } })],
      [
        "400 bad JSON",
        api("/auth/user/login/", { method: "POST", body: "{", headers: { "Content-Type": "application/json" } }),
      ],
      ["403", api("/users/", { token: user.token })],
      ["CSV report", api("http://api.test/user/tasks/get_task_status_report/", { token: user.token })],
      ["JSON report", api("/reports/task-status/", { token: user.token, headers: { Accept: "application/json" } })],
      ["openapi.json", api("http://api.test/api/v1/openapi.json")],
      ["docs", api("http://api.test/docs")],
      ["health", api("/health-check/")],
      [
        "WebSocket upgrade without a token",
        api(`/csv-data/uploads/${crypto.randomUUID()}/progress/`, { headers: upgrade }),
      ],
      [
        "WebSocket upgrade for an unknown upload",
        api(`/csv-data/uploads/${crypto.randomUUID()}/progress/?access_token=${user.token}`, { headers: upgrade }),
      ],
    ];
    const missing: string[] = [];
    const statuses: Record<string, number> = {};
    for (const [label, pending] of cases) {
      const response = await pending;
      await response.body?.cancel();
      statuses[label] = response.status;
      if (response.headers.get("X-Content-Type-Options") !== "nosniff") missing.push(`${label} (${response.status})`);
    }
    expect(missing).toEqual([]);
    // The cases really are the kinds of answer they are named after.
    expect(statuses).toMatchObject({
      "me 200": 200,
      "me 401": 401,
      "unknown route 404": 404,
      "415": 415,
      "400 validation": 400,
      "400 bad JSON": 400,
      "403": 403,
      "CSV report": 200,
      "WebSocket upgrade without a token": 401,
      "WebSocket upgrade for an unknown upload": 404,
    });
  });

  it("static files, served by the platform without the Worker, get it from public/_headers for every path", () => {
    // Workers static assets read `_headers`: a path pattern line, then indented `Name: value` lines.
    const rules = staticHeaders
      .split("\n")
      .filter((line) => line.trim() && !line.trimStart().startsWith("#"))
      .reduce<{ pattern: string; headers: string[] }[]>((acc, line) => {
        if (!/^\s/.test(line)) acc.push({ pattern: line.trim(), headers: [] });
        else acc.at(-1)?.headers.push(line.trim().toLowerCase());
        return acc;
      }, []);
    expect(rules.find((rule) => rule.pattern === "/*")?.headers).toContain("x-content-type-options: nosniff");
  });
});
