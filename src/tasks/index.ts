/** The tasks feature's routes (tasks and /task-assignments), mounted under /api/v1 by app.ts. */
export { tasksRoutes } from "./tasks.routes.ts";
