/** The reports feature's routes: `reportsRoutes` under /api/v1, `legacyReportRoutes` at the root (seed 000's path). */
import { createRouter } from "../lib/openapi.ts";

export const reportsRoutes = createRouter();
export const legacyReportRoutes = createRouter();
