import { userChanged } from "../../platform/edge-state/user-state.client.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, requireJson } from "../../platform/http/openapi-bodies.ts";
import { IntIdParam, NoQueryParams } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { PageQuerySchema, paginate } from "../../platform/http/pagination.ts";
import { UpdateUserSchema, UserPageSchema } from "./users.schemas.ts";
import { UserSchema } from "./users.serializer.ts";
import { getVisibleUser, listUsers, updateUser } from "./users.service.ts";

const route = routesTagged("Users");

const listRoute = route.get("/users", "listUsers", "List users", {
  description: "CEO and HR see everyone; a manager sees their own department (and themselves); employees get 403.",
  request: { query: PageQuerySchema },
  responses: { 200: jsonContent(UserPageSchema, "A page of users, by id."), ...errorResponses(400, 401, 403, 429) },
});

const getRoute = route.get("/users/{id}", "getUser", "Get a user", {
  description: "CEO and HR see anyone, a manager their department, everyone themselves; otherwise 404.",
  request: { params: IntIdParam, query: NoQueryParams },
  responses: { 200: jsonContent(UserSchema, "The user."), ...errorResponses(400, 401, 404, 429) },
});

const updateRoute = route.patch("/users/{id}", "updateUser", "Change a user's role or department", {
  description:
    "CEO and HR only (403 for others who can see the user, 404 for those who cannot). HR cannot grant or remove the CEO role; nobody changes their own role. An unknown department is a 400. Takes effect on the user's very next request.",
  middleware: [requireJson] as const,
  request: { params: IntIdParam, body: jsonBody(UpdateUserSchema) },
  responses: {
    200: jsonContent(UserSchema, "The updated user."),
    ...errorResponses(400, 401, 403, 404, 413, 415, 429),
  },
});

export const usersRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const params = c.req.valid("query");
    return c.json(paginate(c.req.url, params, await listUsers(c.var.db(), c.var.user, params)), 200);
  })
  .openapi(getRoute, async (c) => c.json(await getVisibleUser(c.var.db(), c.var.user, c.req.valid("param").id), 200))
  .openapi(updateRoute, async (c) => {
    const user = await updateUser(c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("json"));
    // Before answering: the user's next request anywhere sees the new role and department.
    await userChanged(c.env, [user.id]);
    return c.json(user, 200);
  });
