/** The tasks feature's routes (tasks, their history and /task-assignments), mounted under /api/v1 by app.ts. */
export { historyRoutes } from "./history.routes.ts";
export { tasksRoutes } from "./tasks.routes.ts";
