/** The email feature's routes, mounted under /api/v1 by app.ts. */
export { emailRoutes } from "./email.routes.ts";
