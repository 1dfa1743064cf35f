/** The reports feature's routes: `reportsRoutes` under /api/v1, `legacyReportRoutes` at the root (the path older clients call, without /api/v1). */
export { legacyReportRoutes, reportsRoutes } from "./reports.routes.ts";
