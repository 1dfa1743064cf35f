/** Row listing over ingested CSV uploads (GET /csv-data/uploads/{id}/data/). */
export { csvDataRoutes } from "./csv-data.routes.ts";
