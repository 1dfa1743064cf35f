/** The uploads feature's routes, mounted under /api/v1 by app.ts. */
export { uploadsRoutes } from "./uploads.routes.ts";
