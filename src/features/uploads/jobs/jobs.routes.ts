/** The background-job routes: the caller's own jobs, which follow their uploads. */
import { createRouter } from "../../../platform/http/openapi.ts";
import { NoQueryParams, UuidIdParam } from "../../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../../platform/http/openapi-route.ts";
import { JobListQuery, JobListSchema, JobSchema } from "./jobs.schemas.ts";
import { toJobResponse } from "./jobs.serializer.ts";
import { cancelJob, deleteJob, getOwnJob, listJobs } from "./jobs.service.ts";

const route = routesTagged("Background jobs");

const listRoute = route.get("/jobs", "listJobs", "The caller's jobs, newest first", {
  description:
    "A JSON array (not a page). `status` filters by pending, running, completed, failed or cancelled; `limit` is 1..50 (default 10), anything else is a 400.",
  request: { query: JobListQuery },
  responses: { 200: jsonContent(JobListSchema, "The jobs."), ...errorResponses(400, 401, 429) },
});

const getRoute = route.get("/jobs/{id}", "getJob", "A job", {
  request: { params: UuidIdParam, query: NoQueryParams },
  responses: { 200: jsonContent(JobSchema, "The job."), ...errorResponses(400, 401, 404, 429) },
});

const cancelRoute = route.post("/jobs/{id}/cancel", "cancelJob", "Cancel a job", {
  description:
    "202 while pending or running; a `csv_ingest` job cancels its upload (no further rows, status `cancelled`). 409 once it has ended.",
  request: { params: UuidIdParam },
  responses: { 202: jsonContent(JobSchema, "Cancelled."), ...errorResponses(400, 401, 404, 409, 429) },
});

const deleteRoute = route.delete("/jobs/{id}", "deleteJob", "Delete a job", {
  description:
    "Removes the job record (204). A pending or running job is cancelled first, so its upload ends `cancelled`; the upload itself is kept.",
  request: { params: UuidIdParam },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 404, 429) },
});

export const jobsRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const query = c.req.valid("query");
    const rows = await listJobs(c.var.db(), c.var.user.id, query);
    return c.json(rows.map(toJobResponse), 200);
  })
  .openapi(getRoute, async (c) => {
    const job = await getOwnJob(c.var.db(), c.var.user.id, c.req.valid("param").id);
    return c.json(toJobResponse(job), 200);
  })
  .openapi(cancelRoute, async (c) => {
    const job = await getOwnJob(c.var.db(), c.var.user.id, c.req.valid("param").id);
    return c.json(toJobResponse(await cancelJob(c.var.pool(), c.env, job)), 202);
  })
  .openapi(deleteRoute, async (c) => {
    const job = await getOwnJob(c.var.db(), c.var.user.id, c.req.valid("param").id);
    await deleteJob(c.var.pool(), c.env, job);
    return c.body(null, 204);
  });
