/** The attachments feature's routes, mounted under /api/v1 by app.ts. */
export { attachmentsRoutes } from "./attachments.routes.ts";
