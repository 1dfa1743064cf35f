/** Request and response shapes of the tasks feature; the OpenAPI document is generated from them. */
import { z } from "@hono/zod-openapi";
import { TASK_PRIORITIES, TASK_STATUSES } from "../../platform/db/schema.ts";
import { nocacheParam, queryParams, wholeNumberText } from "../../platform/http/openapi-params.ts";
import { pageQuerySchema, pageSchema } from "../../platform/http/pagination.ts";
import { parseIsoDateTime } from "./dates.ts";

const userId = z.number().int("must be a whole number").positive("must be a positive id").max(2_147_483_647);

/** A strict ISO 8601 date or date-time, parsed into a `Date`. */
export const isoDateTime = z
  .string()
  .transform((text, ctx) => {
    const parsed = parseIsoDateTime(text.trim());
    if (!parsed) {
      ctx.addIssue({
        code: "custom",
        message: "must be an ISO 8601 date (YYYY-MM-DD) or date-time with offset, on the calendar",
      });
      return z.NEVER;
    }
    return parsed;
  })
  .openapi({ type: "string", format: "date-time", example: "2030-09-30T17:00:00Z" });

/** 0..10000 hours; a decimal string such as "8.00" is accepted too, since existing clients send one. */
const estimateHours = z
  .union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*$/, "must be a number")])
  .transform((value) => Number(value))
  .pipe(z.number().min(0, "must be 0 or more").max(10_000, "must be at most 10000"));

const writableFields = {
  title: z.string().trim().min(1, "is required").max(200, "must be at most 200 characters"),
  description: z.string().max(10_000, "must be at most 10000 characters"),
  status: z.enum(TASK_STATUSES),
  priority: z.enum(TASK_PRIORITIES),
  // The inner schemas override their OpenAPI type (a transform has none of its own), which hid
  // `null` and the decimal-string form from the document: both are declared here as accepted.
  due_date: isoDateTime.nullable().openapi({
    type: ["string", "null"],
    format: "date-time",
    example: "2030-09-30T17:00:00Z",
  }),
  estimate_hours: estimateHours.nullable().openapi({
    anyOf: [
      { type: "number", minimum: 0, maximum: 10_000 },
      { type: "string", pattern: "^\\s*\\d+(\\.\\d+)?\\s*$", description: 'A decimal string such as "8.00".' },
      { type: "null" },
    ],
    example: 8,
  }),
  department: z.number().int().positive().max(2_147_483_647).nullable(),
  assignees: z.array(userId).max(100, "at most 100 assignees"),
};

/** Unknown keys (creator, completed_at, deleted_at, ...) are rejected, never ignored. */
export const CreateTaskSchema = z
  .object({
    ...optionalFields(Object.keys(writableFields) as (keyof typeof writableFields)[]),
    title: writableFields.title,
  })
  .strict()
  .openapi("TaskCreate", {
    example: {
      title: "Quarterly Report",
      description: "Compile Q3",
      priority: "high",
      due_date: "2030-09-30T17:00:00Z",
      estimate_hours: "8.00",
      assignees: [5],
    },
  });

/** PUT: `title` is required; omitted optional fields keep their values (as DRF's PUT does). */
export const ReplaceTaskSchema = CreateTaskSchema.openapi("TaskReplace");

/** PATCH: every field optional, at least one given. */
export const PatchTaskSchema = z
  .object(optionalFields(Object.keys(writableFields) as (keyof typeof writableFields)[]))
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: "at least one field is required" })
  .openapi("TaskPatch", { example: { status: "in_progress", priority: "medium" } });

function optionalFields<K extends keyof typeof writableFields>(keys: K[]) {
  const shape = {} as { [P in K]: z.ZodOptional<(typeof writableFields)[P]> };
  for (const key of keys) (shape as Record<string, z.ZodType>)[key] = writableFields[key].optional();
  return shape;
}

export type TaskInput = z.infer<typeof PatchTaskSchema>;

export const AssignSchema = z
  .object({ assignees: z.array(userId).min(1, "must name at least one user").max(100, "at most 100 users") })
  .strict()
  .openapi("AssignRequest", { example: { assignees: [5, 6] } });

export const TaskSchema = z
  .object({
    id: z.number().int(),
    title: z.string(),
    description: z.string(),
    status: z.enum(TASK_STATUSES),
    priority: z.enum(TASK_PRIORITIES),
    due_date: z.string().nullable().openapi({ format: "date-time" }),
    estimate_hours: z.number().nullable(),
    department: z.number().int().nullable(),
    creator: z.number().int(),
    assigned_by: z.number().int().nullable(),
    assignees: z.array(z.number().int()),
    completed_at: z.string().nullable().openapi({ format: "date-time" }),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Task");

export type TaskResponse = z.infer<typeof TaskSchema>;
export const TaskPageSchema = pageSchema(TaskSchema, "TaskPage");

export const ORDERINGS = ["due_date", "priority", "created_at", "updated_at"] as const;
const orderingValues = ORDERINGS.flatMap((field) => [field, `-${field}`] as const);

const queryDate = (name: string, description: string) =>
  isoDateTime.optional().openapi({ param: { name, in: "query" }, description, type: "string" });
const queryId = (name: string, description: string) =>
  wholeNumberText(1, 2_147_483_647, "must be positive")
    .optional()
    .openapi({ param: { name, in: "query" }, description, type: "integer" });

export const STATUS_FILTERS = [...TASK_STATUSES, "pending", "completed"] as const;

export const TaskListQuerySchema = queryParams({
  ...pageQuerySchema().shape,
  status: z
    .enum(STATUS_FILTERS, { error: `must be one of ${STATUS_FILTERS.join(", ")}` })
    .optional()
    .openapi({ param: { name: "status", in: "query" }, description: "`pending` = not done, `completed` = done." }),
  task_status: z
    .enum(STATUS_FILTERS, { error: `must be one of ${STATUS_FILTERS.join(", ")}` })
    .optional()
    .openapi({
      param: { name: "task_status", in: "query" },
      description: "Alias of `status`, for clients that send `task_status`; the two must not disagree.",
    }),
  priority: z
    .enum(TASK_PRIORITIES, { error: `must be one of ${TASK_PRIORITIES.join(", ")}` })
    .optional()
    .openapi({ param: { name: "priority", in: "query" } }),
  assigned_to: z
    .union([z.literal("me"), z.string().regex(/^\d{1,10}$/, "must be a user id or 'me'")], {
      error: "must be a user id or 'me'",
    })
    .optional()
    .openapi({ param: { name: "assigned_to", in: "query" }, description: "A user id, or `me`." }),
  department: queryId("department", "Department id."),
  creator: queryId("creator", "Creator's user id."),
  due_before: queryDate("due_before", "Due strictly before this instant (a date means midnight UTC)."),
  due_after: queryDate("due_after", "Due strictly after this instant (a date means midnight UTC)."),
  search: z
    .string()
    .max(200, "must be at most 200 characters")
    .optional()
    .openapi({ param: { name: "search", in: "query" }, description: "Case-insensitive, in title and description." }),
  ordering: z
    .enum(orderingValues, { error: `must be one of ${orderingValues.join(", ")}` })
    .optional()
    .openapi({ param: { name: "ordering", in: "query" }, description: "`-` for descending. Default `-created_at`." }),
  nocache: nocacheParam,
});

export type TaskListQuery = z.infer<typeof TaskListQuerySchema>;

export const NoCacheQuerySchema = queryParams({ nocache: nocacheParam });

export const CompleteResponseSchema = z
  .object({ status: z.literal("done"), completed_at: z.string().openapi({ format: "date-time" }) })
  .openapi("TaskCompleted");

export const AssignResponseSchema = z
  .object({ status: z.enum(["assigned", "unassigned"]), assignees: z.array(z.number().int()) })
  .openapi("AssignResult");

export const AssignmentSchema = z
  .object({
    id: z.number().int(),
    task: z.number().int(),
    assigned_to: z.number().int(),
    assigned_by: z.number().int().nullable(),
    action: z.enum(["assigned", "unassigned"]),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("TaskAssignment");
export const AssignmentPageSchema = pageSchema(AssignmentSchema, "TaskAssignmentPage");

export const AssignmentQuerySchema = queryParams({
  ...pageQuerySchema().shape,
  task: queryId("task", "Only this task's records."),
  user: queryId("user", "Only records assigning or unassigning this user."),
});
