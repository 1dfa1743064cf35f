import { z } from "@hono/zod-openapi";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, requireJson } from "../../platform/http/openapi-bodies.ts";
import { IntIdParam } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { PageQuerySchema, pageSchema, paginate } from "../../platform/http/pagination.ts";
import { addComment, deleteComment, listComments } from "./comments.service.ts";

const route = routesTagged("Comments");

const CommentSchema = z
  .object({
    id: z.number().int(),
    task: z.number().int(),
    author: z.number().int(),
    content: z.string(),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Comment");

const CreateCommentSchema = z
  .object({ content: z.string().trim().min(1, "is required").max(10_000, "must be at most 10000 characters") })
  .strict()
  .openapi("CommentCreate", { example: { content: "Started work on this" } });

const listRoute = route.get("/tasks/{id}/comments", "listTaskComments", "Comments on a task", {
  description: "Anyone who can read the task; oldest first.",
  request: { params: IntIdParam, query: PageQuerySchema },
  responses: {
    200: jsonContent(pageSchema(CommentSchema, "CommentPage"), "A page of comments."),
    ...errorResponses(400, 401, 404, 429),
  },
});

const createCommentRoute = route.post("/tasks/{id}/comments", "createTaskComment", "Comment on a task", {
  description: "Anyone who can read the task, assignees included.",
  middleware: [requireJson] as const,
  request: { params: IntIdParam, body: jsonBody(CreateCommentSchema) },
  responses: { 201: jsonContent(CommentSchema, "The comment."), ...errorResponses(400, 401, 404, 413, 415, 409, 429) },
});

const deleteRoute = route.delete("/comments/{id}", "deleteComment", "Delete a comment", {
  description: "Its author, HR or the CEO.",
  request: { params: IntIdParam },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 403, 404, 409, 429) },
});

export const commentsRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const query = c.req.valid("query");
    const listing = await listComments(c.var.db(), c.var.user, c.req.valid("param").id, query);
    return c.json(paginate(c.req.url, query, listing), 200);
  })
  .openapi(createCommentRoute, async (c) => {
    const comment = await addComment(c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("json").content);
    return c.json(comment, 201);
  })
  .openapi(deleteRoute, async (c) => {
    await deleteComment(c.var.db(), c.var.user, c.req.valid("param").id);
    return c.body(null, 204);
  });
