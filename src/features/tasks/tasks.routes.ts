import type { Context } from "hono";
import { cachedJson } from "../../platform/cache/http.ts";
import type { AppEnv } from "../../platform/context/types.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, requireJson } from "../../platform/http/openapi-bodies.ts";
import { IfMatchHeaders, IfNoneMatchHeaders, IntIdParam } from "../../platform/http/openapi-params.ts";
import { errorResponses, etagHeader, jsonContent, notModifiedResponse } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { paginate } from "../../platform/http/pagination.ts";
import { afterCommit, committedValue } from "./after-commit.ts";
import { listAssignments, setAssignment } from "./assignments.service.ts";
import { listTasks } from "./task-list.ts";
import { getTask, toTaskResponse } from "./task-record.ts";
import {
  AssignmentPageSchema,
  AssignmentQuerySchema,
  AssignResponseSchema,
  AssignSchema,
  CompleteResponseSchema,
  CreateTaskSchema,
  NoCacheQuerySchema,
  PatchTaskSchema,
  ReplaceTaskSchema,
  type TaskListQuery,
  TaskListQuerySchema,
  TaskPageSchema,
  TaskSchema,
} from "./tasks.schemas.ts";
import { completeTask, createTask, deleteTask, updateTask } from "./tasks.service.ts";

const route = routesTagged("Tasks");
const cacheHeaders = {
  "X-Cache": {
    description: "HIT, MISS or BYPASS (`nocache=1` or `Cache-Control: no-cache`).",
    schema: { type: "string" as const },
  },
  ...etagHeader,
};

/** The task list and the caller's own tasks take the same filters and answer the same page. */
const taskListing = {
  request: { query: TaskListQuerySchema, headers: IfNoneMatchHeaders },
  responses: {
    200: { ...jsonContent(TaskPageSchema, "A page of tasks."), headers: cacheHeaders },
    ...notModifiedResponse,
    ...errorResponses(400, 401, 429),
  },
};

const listRoute = route.get("/tasks", "listTasks", "List the tasks you can see", {
  description:
    "The tasks you may read (CEO and HR: all; a manager also their department's and those they assigned; everyone those they created and those assigned to them), filtered, searched, ordered and paginated. Cached per user; any write you could see makes the next read fresh.",
  ...taskListing,
});

const myTasksRoute = route.get("/tasks/my_tasks", "listMyTasks", "Tasks assigned to you", {
  description: "The same filters as the list, restricted to tasks assigned to the caller.",
  ...taskListing,
});

const createTaskRoute = route.post("/tasks", "createTask", "Create a task", {
  description:
    "Any role may create. Without `department` the creator's is used. `assignees` makes it an assignment (employees may assign only themselves). Emails the department's manager and the creator, and each assignee.",
  middleware: [requireJson] as const,
  request: { body: jsonBody(CreateTaskSchema) },
  responses: { 201: jsonContent(TaskSchema, "The task."), ...errorResponses(400, 401, 403, 413, 415, 409, 429) },
});

const getRoute = route.get("/tasks/{id}", "getTask", "Get a task", {
  request: { params: IntIdParam, query: NoCacheQuerySchema, headers: IfNoneMatchHeaders },
  responses: {
    200: { ...jsonContent(TaskSchema, "The task."), headers: cacheHeaders },
    ...notModifiedResponse,
    ...errorResponses(400, 401, 404, 429),
  },
});

/** A replace and a partial update differ only in their body and what an omitted field means. */
const taskWrite = {
  middleware: [requireJson],
  responses: {
    200: { ...jsonContent(TaskSchema, "The task."), headers: etagHeader },
    ...errorResponses(400, 401, 403, 404, 409, 412, 413, 415, 429),
  },
};

const putRoute = route.put("/tasks/{id}", "replaceTask", "Replace a task", {
  description:
    "`title` is required; omitted optional fields keep their values. An assignee without other rights may change only `status` (403 otherwise).",
  request: { params: IntIdParam, headers: IfMatchHeaders, body: jsonBody(ReplaceTaskSchema) },
  ...taskWrite,
});

const patchRoute = route.patch("/tasks/{id}", "updateTask", "Update some fields of a task", {
  description:
    "An assignee without other rights may change only `status` (403 otherwise). Setting `status` to `done` completes the task (sets `completed_at`, emails once).",
  request: { params: IntIdParam, headers: IfMatchHeaders, body: jsonBody(PatchTaskSchema) },
  ...taskWrite,
});

const deleteRoute = route.delete("/tasks/{id}", "deleteTask", "Delete a task (soft)", {
  description: "The task, its comments and attachments disappear from every read.",
  request: { params: IntIdParam, headers: IfMatchHeaders },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 403, 404, 409, 412, 429) },
});

const completeRoute = (path: string, operationId: string, summary: string) =>
  route.post(path, operationId, summary, {
    description:
      "Idempotent: a second call returns the same `completed_at` and sends no second email. Creator and assignees are emailed once.",
    request: { params: IntIdParam },
    responses: { 200: jsonContent(CompleteResponseSchema, "Done."), ...errorResponses(400, 401, 404, 409, 429) },
  });

const assignRoute = (action: "assign" | "unassign") =>
  route.post(`/tasks/{id}/${action}`, `${action}Task`, action === "assign" ? "Assign users" : "Unassign users", {
    description:
      "The task's creator, its managers, HR or the CEO; employees may only name themselves. One audit row per user whose assignment changed. `assignees` in the answer: the task's assignees afterwards.",
    middleware: [requireJson] as const,
    request: { params: IntIdParam, body: jsonBody(AssignSchema) },
    responses: {
      200: jsonContent(AssignResponseSchema, "The task's assignees now."),
      ...errorResponses(400, 401, 403, 404, 413, 415, 409, 429),
    },
  });

const assignmentsRoute = route.get("/task-assignments", "listTaskAssignments", "Assignment audit trail", {
  description:
    "CEO/HR: all; managers: their department's tasks and records naming them; employees: records where they were assigned or assigned someone. Newest first.",
  request: { query: AssignmentQuerySchema },
  responses: { 200: jsonContent(AssignmentPageSchema, "A page of records."), ...errorResponses(400, 401, 429) },
});

/** A page of the tasks `query` (with `narrowed` laid over it) selects, cached per caller under `scope`. */
function cachedTaskPage(c: Context<AppEnv>, scope: string, query: TaskListQuery, narrowed: Partial<TaskListQuery>) {
  const db = c.var.db();
  return cachedJson(c, {
    scope,
    params: { ...query, nocache: undefined },
    ttlSeconds: c.var.config.CACHE_TTL_SECONDS,
    load: async () => {
      return paginate(c.req.url, query, await listTasks(db, c.var.user, { ...query, ...narrowed }, query));
    },
  });
}

/** Assigns or unassigns `targets`; once committed, the task's assignees afterwards. */
function changeAssignees(c: Context<AppEnv>, taskId: number, action: "assign" | "unassign", targets: number[]) {
  return committedValue(c, setAssignment(c.var.db(), c.var.user, taskId, action, targets));
}

export const tasksRoutes = createRouter()
  .openapi(listRoute, async (c) => cachedTaskPage(c, "tasks:list", c.req.valid("query"), {}))
  .openapi(myTasksRoute, async (c) => {
    const query = c.req.valid("query");
    if (query.assigned_to && query.assigned_to !== "me" && Number(query.assigned_to) !== c.var.user.id) {
      return c.json(paginate(c.req.url, query, { count: 0, results: [] }), 200);
    }
    return cachedTaskPage(c, "tasks:mine", query, { assigned_to: "me" });
  })
  .openapi(createTaskRoute, async (c) =>
    c.json(await committedValue(c, createTask(c.var.db(), c.var.user, c.req.valid("json"))), 201),
  )
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const db = c.var.db();
    return cachedJson(c, {
      scope: "tasks:detail",
      params: { id },
      ttlSeconds: c.var.config.CACHE_TTL_SECONDS,
      load: async () => toTaskResponse(await getTask(db, c.var.user, id)),
    });
  })
  .openapi(putRoute, async (c) => {
    const { id } = c.req.valid("param");
    const write = updateTask(c.var.db(), c.var.user, id, c.req.valid("json"), c.req.valid("header")["if-match"]);
    return c.json(await committedValue(c, write), 200);
  })
  .openapi(patchRoute, async (c) => {
    const { id } = c.req.valid("param");
    const write = updateTask(c.var.db(), c.var.user, id, c.req.valid("json"), c.req.valid("header")["if-match"]);
    return c.json(await committedValue(c, write), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const result = await deleteTask(c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("header")["if-match"]);
    await afterCommit(c, result);
    return c.body(null, 204);
  })
  .openapi(completeRoute("/tasks/{id}/complete", "completeTask", "Complete a task"), async (c) =>
    c.json(await committedValue(c, completeTask(c.var.db(), c.var.user, c.req.valid("param").id)), 200),
  )
  .openapi(
    completeRoute(
      "/tasks/{id}/mark_done",
      "markTaskDone",
      "Complete a task (the same as /complete, under the name some clients call)",
    ),
    async (c) => c.json(await committedValue(c, completeTask(c.var.db(), c.var.user, c.req.valid("param").id)), 200),
  )
  .openapi(assignRoute("assign"), async (c) => {
    const assignees = await changeAssignees(c, c.req.valid("param").id, "assign", c.req.valid("json").assignees);
    return c.json({ status: "assigned" as const, assignees }, 200);
  })
  .openapi(assignRoute("unassign"), async (c) => {
    const assignees = await changeAssignees(c, c.req.valid("param").id, "unassign", c.req.valid("json").assignees);
    return c.json({ status: "unassigned" as const, assignees }, 200);
  })
  .openapi(assignmentsRoute, async (c) => {
    const query = c.req.valid("query");
    const page = await listAssignments(c.var.db(), c.var.user, { task: query.task, user: query.user }, query);
    const results = page.results.map((row) => ({
      id: row.id,
      task: row.taskId,
      assigned_to: row.assignedToId,
      assigned_by: row.assignedById,
      action: row.action,
      created_at: row.createdAt.toISOString(),
    }));
    return c.json(paginate(c.req.url, query, { count: page.count, results }), 200);
  });
