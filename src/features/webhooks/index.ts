/** The webhooks feature's routes, mounted under /api/v1 by app.ts. */
export { webhooksRoutes } from "./webhooks.routes.ts";
