/** The jobs feature's routes, mounted under /api/v1 by app.ts. */
export { jobsRoutes } from "./jobs.routes.ts";
