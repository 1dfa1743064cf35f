/**
 * The request contract every route shares: unknown query parameters are refused by name, every
 * validation message reads "<field> <sentence>" (no library text), the documented password rule is
 * the enforced one, and a report asked for in a type it does not offer answers 406.
 */
import { describe, expect, it } from "vitest";
import { api, clientIp, json } from "../support/http.ts";
import { createUser, uniqueEmail } from "../support/users.ts";

interface ErrorBody {
  detail: string;
  errors?: { field: string; message: string }[];
}

const UUID = "0b6f1c4e-8a51-4a43-9d0c-3f2a9c1e7b11";
/** Zod's own wording, which must never reach a client. */
const LIBRARY_TEXT = /Invalid input:|expected \w+, received|Unrecognized key|Too (small|big)/;

async function ceo() {
  return createUser({ role: "ceo" });
}

describe("unknown query parameters", () => {
  it("are a 400 naming the parameter and what the route takes, on every JSON list and detail route", async () => {
    const user = await ceo();
    const routes = [
      "/tasks/",
      "/tasks/my_tasks/",
      "/tasks/1/",
      "/task-assignments/",
      "/tasks/1/comments/",
      "/tasks/1/attachments/",
      "/attachments/1/",
      "/users/",
      `/users/${user.id}/`,
      "/departments/",
      "/departments/1/",
      "/jobs/",
      `/jobs/${UUID}/`,
      "/reports/task-status/",
      "/reports/overdue/",
      "/reports/completed-per-day/",
      "/reports/opened-per-day/",
      "http://api.test/user/tasks/get_task_status_report/",
      "/dev/outbox/",
      "/csv-data/uploads/",
      `/csv-data/uploads/${UUID}/`,
      "/auth/user/me/",
      "/notifications/",
    ];
    const wrong: string[] = [];
    for (const route of routes) {
      const response = await api(`${route}?stauts=done`, { token: user.token });
      const body = await json<ErrorBody>(response);
      const named = body.errors?.some((e) => e.field === "stauts");
      if (response.status !== 400 || !named || !/stauts/.test(body.detail) || !/it takes/.test(body.detail)) {
        wrong.push(`${route} → ${response.status} ${JSON.stringify(body)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the uploads list pages like every other list: past the end, `previous` is the last real page", async () => {
    const user = await createUser();
    for (const name of ["a.csv", "b.csv", "c.csv"]) {
      const created = await api("/csv-data/uploads/", { token: user.token, json: { filename: name, size_bytes: 10 } });
      expect(created.status).toBe(201);
    }
    const past = await json<{ count: number; next: string | null; previous: string | null; results: unknown[] }>(
      await api("/csv-data/uploads/?page=99&page_size=2", { token: user.token }),
    );
    expect(past).toMatchObject({ count: 3, next: null, results: [] });
    expect(new URL(past.previous ?? "").searchParams.get("page")).toBe("2");
    const bad = await api("/csv-data/uploads/?page_size=101", { token: user.token });
    expect(bad.status).toBe(400);
  });

  it("a typo in a task filter no longer returns every task", async () => {
    const user = await ceo();
    const response = await api("/tasks/?stauts=done", { token: user.token });
    expect(response.status).toBe(400);
    const body = await json<ErrorBody>(response);
    expect(body.errors).toEqual([{ field: "stauts", message: expect.stringMatching(/not a query parameter/) }]);
    // The sentence lists the real names, so the fix is obvious.
    expect(body.detail).toMatch(/status/);
    expect(body.detail).toMatch(/task_status/);
  });

  it("names every unknown parameter, and documented ones keep working", async () => {
    const user = await ceo();
    const both = await json<ErrorBody>(await api("/users/?foo=1&bar=2", { token: user.token }));
    expect(both.errors?.map((e) => e.field).sort()).toEqual(["bar", "foo"]);

    const documented = [
      "/tasks/?page=1&page_size=5&status=done&priority=high&assigned_to=me&ordering=-due_date&search=x&nocache=1",
      "/tasks/my_tasks/?page=1&task_status=pending&nocache=1",
      "/task-assignments/?page_size=5",
      "/users/?page=1&page_size=5",
      "/departments/?page=2",
      "/jobs/?status=running&limit=5",
      "/reports/completed-per-day/?from=2030-01-01&to=2030-01-31&nocache=1",
      "/reports/task-status/?nocache=1",
      "/dev/outbox/?template=welcome&page_size=5",
      `/users/${user.id}/`,
    ];
    for (const route of documented) {
      const response = await api(route, { token: user.token });
      await response.body?.cancel();
      expect(response.status, route).toBe(200);
    }
  });
});

describe("validation messages", () => {
  it("missing fields say 'is required' and wrong types name the type, on several routes, never library text", async () => {
    const user = await ceo();
    const cases: { path: string; body: unknown; field: string; message: string }[] = [
      { path: "/tasks/", body: {}, field: "title", message: "is required" },
      { path: "/tasks/", body: { title: 5 }, field: "title", message: "must be a string" },
      { path: "/tasks/", body: { title: "t", assignees: "x" }, field: "assignees", message: "must be a list" },
      { path: "/tasks/", body: { title: "t", department: "2" }, field: "department", message: "must be a number" },
      {
        path: "/tasks/",
        body: { title: "t", priority: "urgent" },
        field: "priority",
        message: "must be one of low, medium, high, critical",
      },
      { path: "/tasks/", body: { title: "t", creator: 1 }, field: "creator", message: "is not a known field" },
      { path: "/departments/", body: {}, field: "name", message: "is required" },
      { path: "/auth/user/login/", body: { email: 1, password: "x" }, field: "email", message: "must be a string" },
      { path: "/auth/user/login/", body: { email: "a@example.com" }, field: "password", message: "is required" },
      { path: "/auth/token/refresh/", body: {}, field: "refresh_token", message: "is required" },
      {
        path: "/auth/user/register/",
        body: { email: "a@example.com", full_name: "A" },
        field: "password",
        message: "is required",
      },
    ];
    for (const { path, body, field, message } of cases) {
      const response = await api(path, { json: body, token: user.token, headers: { "CF-Connecting-IP": clientIp() } });
      expect(response.status, path).toBe(400);
      const answer = await json<ErrorBody>(response);
      expect(answer.errors, `${path} ${JSON.stringify(body)}`).toContainEqual({ field, message });
      expect(answer.detail).not.toMatch(LIBRARY_TEXT);
      for (const error of answer.errors ?? []) expect(error.message).not.toMatch(LIBRARY_TEXT);
    }
  });

  it("the sentence names the field with its message", async () => {
    const user = await ceo();
    const response = await api("/tasks/", { json: { description: "d" }, token: user.token });
    expect(await json<ErrorBody>(response)).toEqual({
      detail: "Invalid input in title: is required.",
      errors: [{ field: "title", message: "is required" }],
    });
  });

  it("with several fields wrong, the sentence gives each field its own message", async () => {
    const response = await api("/auth/user/login/", {
      json: { email: 1 },
      headers: { "CF-Connecting-IP": clientIp() },
    });
    expect(response.status).toBe(400);
    expect(await json<ErrorBody>(response)).toEqual({
      detail: "Invalid input in email: must be a string; password: is required.",
      errors: [
        { field: "email", message: "must be a string" },
        { field: "password", message: "is required" },
      ],
    });
  });

  it("a query parameter given twice is named as given twice, whatever its values", async () => {
    const user = await ceo();
    for (const [path, field] of [
      ["/tasks/?priority=high&priority=low", "priority"],
      ["/tasks/?status=done&status=done", "status"],
      ["/users/?page=1&page=2", "page"],
    ] as const) {
      const response = await api(path, { token: user.token });
      expect(response.status, path).toBe(400);
      expect(await json<ErrorBody>(response), path).toEqual({
        detail: `Invalid input in ${field}: may be given only once.`,
        errors: [{ field, message: "may be given only once" }],
      });
    }
    // Given once, the same values are accepted.
    expect((await api("/tasks/?priority=high", { token: user.token })).status).toBe(200);
    // A parameter the route does not take stays unknown however often it is given, and other
    // problems of the same query are still named.
    const mixed = await json<ErrorBody>(await api("/tasks/?colour=1&colour=2&page=0", { token: user.token }));
    expect(mixed.errors?.map((e) => e.field).sort()).toEqual(["colour", "page"]);
    expect(mixed.errors).toContainEqual({ field: "page", message: "must be 1 or more" });
    expect(mixed.errors?.find((e) => e.field === "colour")?.message).toMatch(/^is not a query parameter/);
  });

  it("a number past what a double holds exactly is answered with the route's own limit", async () => {
    const user = await ceo();
    const page = await json<ErrorBody>(await api("/tasks/?page=99999999999999999999", { token: user.token }));
    expect(page).toEqual({
      detail: "Invalid input in page: must be at most 1000000.",
      errors: [{ field: "page", message: "must be at most 1000000" }],
    });
    const id = await json<ErrorBody>(await api("/tasks/99999999999999999999/", { token: user.token }));
    expect(id.errors).toEqual([{ field: "id", message: "is out of range" }]);
  });

  it("a comment without content, and a body that is not an object", async () => {
    const user = await ceo();
    const task = await json<{ id: number }>(await api("/tasks/", { json: { title: "t" }, token: user.token }));
    const empty = await json<ErrorBody>(await api(`/tasks/${task.id}/comments/`, { json: {}, token: user.token }));
    expect(empty.errors).toEqual([{ field: "content", message: "is required" }]);
    const list = await json<ErrorBody>(await api(`/tasks/${task.id}/comments/`, { json: [], token: user.token }));
    expect(list.errors).toEqual([{ field: "body", message: "must be an object" }]);
  });
});

describe("password rule", () => {
  it("the document's minimum length is the one the server enforces, on both sides of it", async () => {
    const doc = await json<{
      components: { schemas: Record<string, { properties: Record<string, { minLength?: number }> }> };
    }>(await api("http://api.test/api/v1/openapi.json"));
    const minLength = doc.components.schemas.RegisterRequest?.properties.password?.minLength;
    expect(minLength).toBe(8);
    const register = (password: string) =>
      api("/auth/user/register/", {
        json: { email: uniqueEmail("pw"), password, full_name: "Pat" },
        headers: { "CF-Connecting-IP": clientIp() },
      });
    const short = await register("Kq7#vZp"); // 7 characters
    expect(short.status).toBe(400);
    expect((await json<ErrorBody>(short)).errors).toEqual([
      { field: "password", message: "must be at least 8 characters" },
    ]);
    expect((await register("Kq7#vZpw")).status).toBe(201); // 8 characters
  });
});

describe("report content negotiation", () => {
  const reports = ["/reports/task-status/", "/reports/overdue/", "/reports/completed-per-day/"];

  it("Accept naming only types a report does not offer is a 406 that lists the offered types", async () => {
    const user = await ceo();
    for (const path of reports) {
      for (const accept of ["application/xml", "text/html", "text/csv;q=0, application/json;q=0"]) {
        const response = await api(path, { token: user.token, headers: { Accept: accept } });
        expect(response.status, `${path} ${accept}`).toBe(406);
        const body = await json<ErrorBody>(response);
        expect(body.detail).toMatch(/text\/csv/);
        expect(body.detail).toMatch(/application\/json/);
      }
    }
  });

  it("no Accept, */*, text/* and a wildcard fallback give CSV; JSON when preferred", async () => {
    const user = await ceo();
    const cases: [string | undefined, RegExp][] = [
      [undefined, /^text\/csv/],
      ["*/*", /^text\/csv/],
      ["text/*", /^text\/csv/],
      ["application/xml, */*;q=0.1", /^text\/csv/],
      ["application/json", /^application\/json/],
      ["application/*", /^application\/json/],
      ["application/json, text/csv", /^application\/json/],
      ["text/csv, application/json", /^text\/csv/],
      ["application/json;q=0.5, text/csv", /^text\/csv/],
      ["text/csv;q=0, */*", /^application\/json/],
    ];
    for (const path of reports) {
      for (const [accept, type] of cases) {
        const response = await api(path, { token: user.token, headers: accept ? { Accept: accept } : {} });
        await response.body?.cancel();
        expect(response.status, `${path} ${accept}`).toBe(200);
        expect(response.headers.get("Content-Type"), `${path} ${accept}`).toMatch(type);
      }
    }
  });
});
