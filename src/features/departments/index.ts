/** The departments feature's routes, mounted under /api/v1 by app.ts. */
export { departmentsRoutes } from "./departments.routes.ts";
