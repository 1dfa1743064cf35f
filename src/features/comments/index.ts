/** The comments feature's routes, mounted under /api/v1 by app.ts. */
export { commentsRoutes } from "./comments.routes.ts";
