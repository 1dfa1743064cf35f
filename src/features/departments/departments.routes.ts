import { bumpCacheVersions, userChanged } from "../../platform/edge-state/user-state.client.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, requireJson } from "../../platform/http/openapi-bodies.ts";
import { IntIdParam, NoQueryParams } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { PageQuerySchema, paginate } from "../../platform/http/pagination.ts";
import {
  CreateDepartmentSchema,
  DepartmentPageSchema,
  DepartmentSchema,
  UpdateDepartmentSchema,
} from "./departments.schemas.ts";
import {
  createDepartment,
  deleteDepartment,
  getDepartment,
  listDepartments,
  updateDepartment,
} from "./departments.service.ts";

const route = routesTagged("Departments");

const listRoute = route.get("/departments", "listDepartments", "List departments", {
  description: "Any authenticated user.",
  request: { query: PageQuerySchema },
  responses: {
    200: jsonContent(DepartmentPageSchema, "A page of departments, by id."),
    ...errorResponses(400, 401, 429),
  },
});

const createDepartmentRoute = route.post("/departments", "createDepartment", "Create a department", {
  description: "CEO and HR only. Names are unique, case-insensitively (409); an unknown manager id is a 400.",
  middleware: [requireJson] as const,
  request: { body: jsonBody(CreateDepartmentSchema) },
  responses: {
    201: jsonContent(DepartmentSchema, "The new department."),
    ...errorResponses(400, 401, 403, 409, 413, 415, 429),
  },
});

const getRoute = route.get("/departments/{id}", "getDepartment", "Get a department", {
  request: { params: IntIdParam, query: NoQueryParams },
  responses: { 200: jsonContent(DepartmentSchema, "The department."), ...errorResponses(400, 401, 404, 429) },
});

const updateRoute = route.patch("/departments/{id}", "updateDepartment", "Rename a department or change its manager", {
  description: "CEO and HR only (403 for others).",
  middleware: [requireJson] as const,
  request: { params: IntIdParam, body: jsonBody(UpdateDepartmentSchema) },
  responses: {
    200: jsonContent(DepartmentSchema, "The updated department."),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
});

const deleteRoute = route.delete("/departments/{id}", "deleteDepartment", "Delete a department", {
  description: "CEO and HR only (403 for others). Its users and tasks are left without a department.",
  request: { params: IntIdParam },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 403, 404, 429) },
});

export const departmentsRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const params = c.req.valid("query");
    return c.json(paginate(c.req.url, params, await listDepartments(c.var.db(), params)), 200);
  })
  .openapi(createDepartmentRoute, async (c) =>
    c.json(await createDepartment(c.var.db(), c.var.user, c.req.valid("json")), 201),
  )
  .openapi(getRoute, async (c) => c.json(await getDepartment(c.var.db(), c.req.valid("param").id), 200))
  .openapi(updateRoute, async (c) =>
    c.json(await updateDepartment(c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(deleteRoute, async (c) => {
    const deletion = await deleteDepartment(c.var.db(), c.var.user, c.req.valid("param").id);
    await Promise.all([
      userChanged(c.env, deletion.memberIds),
      bumpCacheVersions(c.env, deletion.viewerIds, ["tasks"]),
    ]);
    return c.body(null, 204);
  });
