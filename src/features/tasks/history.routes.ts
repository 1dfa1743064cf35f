/** `GET /tasks/{id}/history/`: a task's changes, newest first. */
import { z } from "@hono/zod-openapi";
import { TASK_EVENT_ACTIONS } from "../../platform/db/schema.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { IfNoneMatchHeaders, IntIdParam } from "../../platform/http/openapi-params.ts";
import { errorResponses, etagHeader, jsonContent, notModifiedResponse } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { PageQuerySchema, pageSchema, paginate } from "../../platform/http/pagination.ts";
import { listHistory } from "./history.service.ts";

const route = routesTagged("Tasks");

const TaskEventSchema = z
  .object({
    id: z.number().int(),
    actor: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Who made the change (null once that user is deleted)." }),
    action: z.enum(TASK_EVENT_ACTIONS),
    changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).openapi({
      description:
        "Each changed field as `[old, new]`, in the representation `GET /tasks/{id}/` uses (`due_date` and `completed_at` as ISO 8601 UTC, `assignees` as sorted ids). `created` lists the initial values as `[null, value]`; `commented` and `attachment_added` name the new comment or attachment id as `[null, id]`, `attachment_deleted` as `[id, null]`; `deleted` is `{}`.",
      example: { status: ["todo", "in_progress"] },
    }),
    created_at: z.string().datetime(),
  })
  .openapi("TaskEvent");

const historyRoute = route.get("/tasks/{id}/history", "listTaskHistory", "A task's history", {
  description:
    "Every change to the task and its relations (assignees, comments, attachments), newest first, each written in the same transaction as the change. Visible to whoever may read the task; 404 otherwise and once the task is deleted.",
  request: { params: IntIdParam, query: PageQuerySchema, headers: IfNoneMatchHeaders },
  responses: {
    200: {
      ...jsonContent(pageSchema(TaskEventSchema, "TaskEventPage"), "A page of history entries."),
      headers: etagHeader,
    },
    ...notModifiedResponse,
    ...errorResponses(400, 401, 404, 429),
  },
});

export const historyRoutes = createRouter().openapi(historyRoute, async (c) => {
  const query = c.req.valid("query");
  const listing = await listHistory(c.var.db(), c.var.user, c.req.valid("param").id, query);
  return c.json(paginate(c.req.url, query, listing), 200);
});
