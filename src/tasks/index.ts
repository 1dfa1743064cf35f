/** The tasks feature's routes, mounted under /api/v1 by app.ts. */
import { createRouter } from "../lib/openapi.ts";

export const tasksRoutes = createRouter();
