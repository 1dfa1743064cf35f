/** The users feature's routes, mounted under /api/v1 by app.ts. */
export { usersRoutes } from "./users.routes.ts";
