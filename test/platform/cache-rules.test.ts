/**
 * What the read cache promises: every way of asking for a fresh answer is honoured, cached answers
 * tell browsers and proxies to keep them to the one user and to check back, a task moved to
 * another department leaves the old department's cached answers, and a write answers only once
 * everyone's cached answers it changed are invalidated, so the writer's next read is fresh.
 */
import { createExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { testEnv } from "../support/env.ts";
import { api, BASE, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import type { TestUser } from "../support/users.ts";

interface TaskPage {
  results: { id: number; title: string }[];
}

async function list(user: TestUser, query = "") {
  const response = await api(`/tasks/${query}`, { token: user.token });
  expect(response.status).toBe(200);
  const page = await json<TaskPage>(response);
  return { cache: response.headers.get("X-Cache"), control: response.headers.get("Cache-Control"), page };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("asking for a fresh answer", () => {
  it("nocache=1, nocache=true and Cache-Control: no-cache all bypass; nocache=0 does not", async () => {
    const org = await makeOrg();
    await makeTask(org.manager, { department: org.departmentId });
    expect((await list(org.manager)).cache).toBe("MISS");
    expect((await list(org.manager)).cache).toBe("HIT");
    expect((await list(org.manager, "?nocache=1")).cache).toBe("BYPASS");
    expect((await list(org.manager, "?nocache=true")).cache).toBe("BYPASS");
    expect((await list(org.manager, "?nocache=0")).cache).toBe("HIT");
    const header = await api("/tasks/", { token: org.manager.token, headers: { "Cache-Control": "no-cache" } });
    expect(header.headers.get("X-Cache")).toBe("BYPASS");
  });
});

describe("what a cached answer tells browsers and proxies", () => {
  it("private, no-cache on a miss and on a hit, for lists, details and reports", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { department: org.departmentId });
    for (const path of [`/tasks/`, `/tasks/${task.id}/`, "/reports/task-status/"]) {
      for (const expected of ["MISS", "HIT"]) {
        const response = await api(path, { token: org.manager.token });
        expect(response.status, path).toBe(200);
        expect(response.headers.get("X-Cache"), path).toBe(expected);
        expect(response.headers.get("Cache-Control"), `${path} ${expected}`).toBe("private, no-cache");
      }
    }
  });
});

describe("invalidation", () => {
  it("a task moved to another department leaves the old department manager's cached list and detail", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, { department: org.departmentId });
    expect((await list(org.manager)).page.results.map((t) => t.id)).toContain(task.id);
    const cached = await list(org.manager);
    expect(cached.cache).toBe("HIT");
    expect((await api(`/tasks/${task.id}/`, { token: org.manager.token })).status).toBe(200);

    const moved = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      json: { department: org.otherDepartmentId },
      token: org.hr.token,
    });
    expect(moved.status).toBe(200);

    const after = await list(org.manager);
    expect(after.cache).toBe("MISS");
    expect(after.page.results.map((t) => t.id)).not.toContain(task.id);
    expect((await api(`/tasks/${task.id}/`, { token: org.manager.token })).status).toBe(404);
    expect((await list(org.otherManager)).page.results.map((t) => t.id)).toContain(task.id);
  });

  it("a write answers only after the caches it changed are invalidated, however slow that is", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { department: org.departmentId, title: "before" });
    await list(org.manager);
    expect((await list(org.manager)).cache).toBe("HIT");

    // Every user's object takes 300 ms longer to take a new cache version.
    const slowStates = new Proxy(testEnv.USER_STATE, {
      get(namespace, property) {
        const value: unknown = Reflect.get(namespace, property, namespace);
        if (property !== "get") return typeof value === "function" ? value.bind(namespace) : value;
        return (id: DurableObjectId) => {
          const stub = namespace.get(id);
          return new Proxy(stub, {
            get(target, name) {
              if (name !== "bump") return Reflect.get(target, name, target);
              return async (...args: Parameters<typeof stub.bump>) => {
                await new Promise((resolve) => setTimeout(resolve, 300));
                return target.bump(...args);
              };
            },
          });
        };
      },
    });
    const response = await worker.fetch(
      new Request(`${BASE}/tasks/${task.id}/`, {
        method: "PATCH",
        headers: { Authorization: `Bearer ${org.manager.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ title: "after" }),
      }),
      { ...testEnv, USER_STATE: slowStates } as Env,
      createExecutionContext(),
    );
    expect(response.status).toBe(200);
    // Read at once, without waiting for anything the write left running.
    const next = await list(org.manager);
    expect(next.page.results.find((t) => t.id === task.id)?.title).toBe("after");
  });
});
