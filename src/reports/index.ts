/** The reports feature's routes: `reportsRoutes` under /api/v1, `legacyReportRoutes` at the root (seed 000's path). */
export { legacyReportRoutes, reportsRoutes } from "./reports.routes.ts";
