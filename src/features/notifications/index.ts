/** The notifications feature's routes, mounted under /api/v1 by app.ts. */
export { notificationsRoutes } from "./notifications.routes.ts";
