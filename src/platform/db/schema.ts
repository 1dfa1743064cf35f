/**
 * The whole product's schema. drizzle-kit turns it into SQL migrations in `migrations/`.
 *
 * Integer ids for the organisation's objects (users, departments, tasks and what hangs off them),
 * UUIDs for uploads and jobs, whose ids are handed out before any row work is done.
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const ROLES = ["ceo", "hr", "manager", "employee"] as const;
export type Role = (typeof ROLES)[number];

export const TASK_STATUSES = ["todo", "in_progress", "done"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TASK_PRIORITIES = ["low", "medium", "high", "critical"] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

export const UPLOAD_STATUSES = [
  "awaiting_upload",
  "queued",
  "processing",
  "completed",
  "failed",
  "cancelled",
  "rejected",
] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

/** What an upload's column B-trees hold: values in their column's type, or jsonb scalars (older uploads). */
export const UPLOAD_INDEX_KEYS = ["typed", "jsonb"] as const;
export type UploadIndexKeys = (typeof UPLOAD_INDEX_KEYS)[number];

export const JOB_STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const EMAIL_TEMPLATES = [
  "welcome",
  "task_created",
  "task_assigned",
  "task_completed",
  "upload_completed",
  "upload_failed",
] as const;
export type EmailTemplate = (typeof EMAIL_TEMPLATES)[number];
/** `skipped`: deliberately not sent (`MAIL_DISABLED`, or development without an API key). */
export const EMAIL_STATUSES = ["queued", "sent", "skipped", "retrying", "failed"] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

const inList = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(", ")})`);

export const departments = pgTable(
  "departments",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull(),
    managerId: integer("manager_id").references((): AnyPgColumn => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex("departments_name_lower_idx").on(sql`lower(${t.name})`)],
);

export const users = pgTable(
  "users",
  {
    id: serial("id").primaryKey(),
    email: text("email").notNull(),
    fullName: text("full_name").notNull().default(""),
    /** `pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>`: algorithm and cost travel with the hash. */
    passwordHash: text("password_hash").notNull(),
    role: text("role").$type<Role>().notNull().default("employee"),
    departmentId: integer("department_id").references((): AnyPgColumn => departments.id, { onDelete: "set null" }),
    isActive: boolean("is_active").notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("users_email_lower_idx").on(sql`lower(${t.email})`),
    index("users_department_idx").on(t.departmentId),
    check("users_role_check", inList("role", ROLES)),
  ],
);

/** One row per login. Access tokens carry its id (`sid`); revoking it ends the login everywhere at once. */
export const authSessions = pgTable(
  "auth_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    lastUsedAt: tstz("last_used_at"),
    expiresAt: tstz("expires_at").notNull(),
    revokedAt: tstz("revoked_at"),
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
  },
  (t) => [index("auth_sessions_user_idx").on(t.userId)],
);

/** Refresh tokens are opaque; only their SHA-256 is stored. A spent token presented again revokes its session. */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => authSessions.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    createdAt: createdAt(),
    expiresAt: tstz("expires_at").notNull(),
    usedAt: tstz("used_at"),
  },
  (t) => [uniqueIndex("refresh_tokens_hash_idx").on(t.tokenHash), index("refresh_tokens_session_idx").on(t.sessionId)],
);

export const tasks = pgTable(
  "tasks",
  {
    id: serial("id").primaryKey(),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    status: text("status").$type<TaskStatus>().notNull().default("todo"),
    priority: text("priority").$type<TaskPriority>().notNull().default("medium"),
    dueDate: tstz("due_date"),
    estimateHours: numeric("estimate_hours", { precision: 7, scale: 2 }),
    departmentId: integer("department_id").references(() => departments.id, { onDelete: "set null" }),
    creatorId: integer("creator_id")
      .notNull()
      .references(() => users.id),
    assignedById: integer("assigned_by_id").references(() => users.id, { onDelete: "set null" }),
    completedAt: tstz("completed_at"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: tstz("deleted_at"),
  },
  (t) => [
    index("tasks_department_idx").on(t.departmentId).where(sql`deleted_at is null`),
    index("tasks_creator_idx").on(t.creatorId).where(sql`deleted_at is null`),
    index("tasks_assigned_by_idx").on(t.assignedById).where(sql`deleted_at is null`),
    index("tasks_due_idx").on(t.dueDate).where(sql`deleted_at is null`),
    check("tasks_status_check", inList("status", TASK_STATUSES)),
    check("tasks_priority_check", inList("priority", TASK_PRIORITIES)),
  ],
);

export const taskAssignees = pgTable(
  "task_assignees",
  {
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    assignedAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.userId] }), index("task_assignees_user_idx").on(t.userId)],
);

/** Audit trail: one row per user per assign or unassign action. Never updated. */
export const taskAssignments = pgTable(
  "task_assignments",
  {
    id: serial("id").primaryKey(),
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    assignedToId: integer("assigned_to_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    assignedById: integer("assigned_by_id").references(() => users.id, { onDelete: "set null" }),
    action: text("action").$type<"assigned" | "unassigned">().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("task_assignments_task_idx").on(t.taskId),
    index("task_assignments_to_idx").on(t.assignedToId),
    check("task_assignments_action_check", inList("action", ["assigned", "unassigned"])),
  ],
);

/** What a task history entry records; `changes` maps each changed field to `[old, new]`. */
export const TASK_EVENT_ACTIONS = [
  "created",
  "updated",
  "status_changed",
  "completed",
  "assigned",
  "unassigned",
  "commented",
  "attachment_added",
  "attachment_deleted",
  "deleted",
] as const;
export type TaskEventAction = (typeof TASK_EVENT_ACTIONS)[number];
export type TaskChanges = Record<string, [unknown, unknown]>;

/**
 * A task's history: one row per change to the task or its relations, written by the same
 * transaction as the change (a statement of the write's batch), so it never tells of a change
 * that did not commit nor misses one that did.
 */
export const taskEvents = pgTable(
  "task_events",
  {
    id: serial("id").primaryKey(),
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    actorId: integer("actor_id").references(() => users.id, { onDelete: "set null" }),
    action: text("action").$type<TaskEventAction>().notNull(),
    changes: jsonb("changes").$type<TaskChanges>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index("task_events_task_idx").on(t.taskId, t.id),
    check("task_events_action_check", inList("action", TASK_EVENT_ACTIONS)),
  ],
);

export const taskComments = pgTable(
  "task_comments",
  {
    id: serial("id").primaryKey(),
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    authorId: integer("author_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    content: text("content").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("task_comments_task_idx").on(t.taskId, t.createdAt)],
);

export const taskAttachments = pgTable(
  "task_attachments",
  {
    id: serial("id").primaryKey(),
    taskId: integer("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    uploadedById: integer("uploaded_by_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    r2Key: text("r2_key").notNull(),
    /** `pending` until the presigned PUT is confirmed; pending attachments are invisible. */
    status: text("status").$type<"pending" | "ready">().notNull().default("pending"),
    createdAt: createdAt(),
    completedAt: tstz("completed_at"),
  },
  (t) => [index("task_attachments_task_idx").on(t.taskId)],
);

export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: integer("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    status: text("status").$type<JobStatus>().notNull().default("pending"),
    message: text("message").notNull().default(""),
    resultId: text("result_id"),
    error: text("error"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("jobs_owner_created_idx").on(t.ownerId, t.createdAt),
    check("jobs_status_check", inList("status", JOB_STATUSES)),
  ],
);

export interface UploadColumn {
  key: string;
  name: string;
  type: "integer" | "number" | "boolean" | "date" | "datetime" | "string";
}
export interface UploadRowError {
  line: number;
  reason: string;
}
/** A column statistic's bound: numbers as their exact decimal text, booleans as booleans, the rest as text. */
export type UploadStatBound = string | boolean;
/** One column's statistics over an upload's stored rows (features/uploads/ingest/column-stats.ts). */
export interface UploadColumnStats {
  nulls: number;
  distinct: number;
  min: UploadStatBound | null;
  max: UploadStatBound | null;
}
/** One column's partial statistics over a chunk's stored rows; `distinct` is a mergeable sketch. */
export interface ChunkColumnStats {
  nulls: number;
  min: UploadStatBound | null;
  max: UploadStatBound | null;
  distinct: { exact: string } | { registers: string } | { sparse: string };
}

export const csvUploads = pgTable(
  "csv_uploads",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    ownerId: integer("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
    filename: text("filename").notNull(),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull(),
    contentType: text("content_type"),
    r2Key: text("r2_key").notNull(),
    /** The R2 multipart upload id while parts are being sent. */
    r2UploadId: text("r2_upload_id"),
    partSize: integer("part_size"),
    partCount: integer("part_count"),
    status: text("status").$type<UploadStatus>().notNull().default("awaiting_upload"),
    delimiter: text("delimiter"),
    /** `\n` or `\r\n`, detected from the header; the chunk parser needs it to close quoted fields. */
    newline: text("newline"),
    columns: jsonb("columns").$type<UploadColumn[]>().notNull().default([]),
    /** Byte offset of the first record after the header (BOM and header line skipped). */
    dataOffset: bigint("data_offset", { mode: "number" }),
    chunksTotal: integer("chunks_total"),
    chunksDone: integer("chunks_done").notNull().default(0),
    totalRows: bigint("total_rows", { mode: "number" }).notNull().default(0),
    processedRows: bigint("processed_rows", { mode: "number" }).notNull().default(0),
    errorRows: bigint("error_rows", { mode: "number" }).notNull().default(0),
    processedBytes: bigint("processed_bytes", { mode: "number" }).notNull().default(0),
    errors: jsonb("errors").$type<UploadRowError[]>().notNull().default([]),
    error: text("error"),
    /** Per column, in `columns` order, merged from the chunks' partials when the upload completes. */
    columnStats: jsonb("column_stats").$type<UploadColumnStats[]>(),
    /** Bumped on re-ingestion or delete so cached pages of the old rows are never served. */
    dataVersion: integer("data_version").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: tstz("started_at"),
    completedAt: tstz("completed_at"),
    /** When the completed upload's query indexes were built and its statistics gathered. */
    indexesReadyAt: tstz("indexes_ready_at"),
    /**
     * What its column B-trees hold (features/uploads/ingest/row-layout.ts), written with
     * `indexesReadyAt` by the build that made them, so queries compare what the indexes cover.
     * Null until then, and on uploads indexed before typed keys, whose B-trees hold jsonb.
     */
    indexKeys: text("index_keys").$type<UploadIndexKeys>(),
  },
  (t) => [
    index("csv_uploads_owner_created_idx").on(t.ownerId, t.createdAt),
    check("csv_uploads_status_check", inList("status", UPLOAD_STATUSES)),
    check("csv_uploads_index_keys_check", inList("index_keys", UPLOAD_INDEX_KEYS)),
  ],
);

/** One row per planned chunk: its byte range, first row number and whether its rows are in. */
export const csvUploadChunks = pgTable(
  "csv_upload_chunks",
  {
    uploadId: uuid("upload_id")
      .notNull()
      .references(() => csvUploads.id, { onDelete: "cascade" }),
    chunkIndex: integer("chunk_index").notNull(),
    byteStart: bigint("byte_start", { mode: "number" }).notNull(),
    byteEnd: bigint("byte_end", { mode: "number" }).notNull(),
    firstRowNumber: bigint("first_row_number", { mode: "number" }).notNull(),
    firstLine: bigint("first_line", { mode: "number" }).notNull(),
    rowsInserted: integer("rows_inserted"),
    recordsRead: integer("records_read"),
    errorRows: integer("error_rows"),
    /** The chunk's first rejected records, committed with its rows so a retry can report them. */
    errors: jsonb("errors").$type<UploadRowError[]>().notNull().default([]),
    /**
     * The chunk's column statistics partials, committed with its rows (so a retry never adds twice).
     * Stored uncompressed (migration 0010): base64 hashes and registers do not compress.
     */
    stats: jsonb("stats").$type<ChunkColumnStats[]>(),
    doneAt: tstz("done_at"),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.chunkIndex] })],
);

/**
 * Ingested rows, each a JSONB array of its typed values in the upload's column order (the keys are
 * kept once, in `csv_uploads.columns`). In the database this table is LIST-partitioned by
 * upload (see the migration): each upload gets its own partition, so its indexes are built after
 * the load and deleting an upload drops a partition instead of deleting a million rows.
 */
export const csvRows = pgTable(
  "csv_rows",
  {
    uploadId: uuid("upload_id").notNull(),
    rowNumber: bigint("row_number", { mode: "number" }).notNull(),
    data: jsonb("data").$type<unknown[]>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.rowNumber] })],
);

/**
 * Transactional outbox and delivery log for email: the row is written in the same transaction as
 * the change that causes it, the queue message (its id) is sent after commit, and the consumer
 * records every attempt here.
 */
export const emailLog = pgTable(
  "email_log",
  {
    id: serial("id").primaryKey(),
    toAddress: text("to_address").notNull(),
    toUserId: integer("to_user_id").references(() => users.id, { onDelete: "set null" }),
    subject: text("subject").notNull(),
    template: text("template").$type<EmailTemplate>().notNull(),
    body: text("body").notNull(),
    status: text("status").$type<EmailStatus>().notNull().default("queued"),
    /** `mailchannels`, `outbox` (development without an API key: kept in the dev outbox), or null. */
    provider: text("provider"),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    sentAt: tstz("sent_at"),
  },
  (t) => [
    index("email_log_to_created_idx").on(sql`lower(${t.toAddress})`, t.createdAt),
    index("email_log_created_idx").on(t.createdAt),
    check("email_log_template_check", inList("template", EMAIL_TEMPLATES)),
  ],
);

/** What a webhook subscription can ask for. `ping` is not among them: only the test route sends it. */
export const WEBHOOK_EVENTS = [
  "task.created",
  "task.updated",
  "task.completed",
  "task.assigned",
  "task.unassigned",
  "task.deleted",
  "upload.completed",
  "upload.failed",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const WEBHOOK_DELIVERY_EVENTS = [...WEBHOOK_EVENTS, "ping"] as const;
export type WebhookDeliveryEvent = (typeof WEBHOOK_DELIVERY_EVENTS)[number];
/** `pending` until a receiver answers 2xx (`delivered`) or the last retry is spent (`failed`). */
export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/**
 * Where the organisation's events are sent. `secret` is the Standard Webhooks signing secret
 * (`whsec_` + base64), shown to its creator once; `events` is matched by the write that causes an
 * event (`event = any(events)`), in that write's own transaction.
 */
export const webhookSubscriptions = pgTable(
  "webhook_subscriptions",
  {
    id: serial("id").primaryKey(),
    url: text("url").notNull(),
    events: text("events").array().$type<WebhookEvent[]>().notNull(),
    description: text("description").notNull().default(""),
    secret: text("secret").notNull(),
    active: boolean("active").notNull().default(true),
    createdById: integer("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("webhook_subscriptions_events_idx").using("gin", t.events).where(sql`${t.active}`)],
);

/**
 * One event for one subscription: the transactional outbox of webhooks. Written by the same
 * transaction as the change that causes it; the queue message (its id) is sent after commit, and
 * the consumer records each attempt in `webhook_attempts`. `payload` is the event's `data`.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: serial("id").primaryKey(),
    subscriptionId: integer("subscription_id")
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: "cascade" }),
    event: text("event").$type<WebhookDeliveryEvent>().notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    status: text("status").$type<WebhookDeliveryStatus>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    responseStatus: integer("response_status"),
    createdAt: createdAt(),
    deliveredAt: tstz("delivered_at"),
  },
  (t) => [
    index("webhook_deliveries_subscription_idx").on(t.subscriptionId, t.id),
    index("webhook_deliveries_pending_idx").on(t.createdAt).where(sql`${t.status} = 'pending'`),
    check("webhook_deliveries_event_check", inList("event", WEBHOOK_DELIVERY_EVENTS)),
    check("webhook_deliveries_status_check", inList("status", WEBHOOK_DELIVERY_STATUSES)),
  ],
);

/** Every attempt to deliver: when, the receiver's status or why there was none, how long it took. */
export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    id: serial("id").primaryKey(),
    deliveryId: integer("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attemptedAt: timestamp("attempted_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    responseStatus: integer("response_status"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [index("webhook_attempts_delivery_idx").on(t.deliveryId, t.id)],
);

/**
 * A user's in-app notifications: one row per user recipient of a transactional email, written by
 * the outbox in the same statement as the email row (so it commits or rolls back with the change
 * that causes it). `type` is the email's template; `title` its subject. `task` and `upload` say
 * what it is about; a task or upload removed for good leaves the notification without the link.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: serial("id").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type").$type<EmailTemplate>().notNull(),
    title: text("title").notNull(),
    taskId: integer("task_id").references(() => tasks.id, { onDelete: "set null" }),
    uploadId: uuid("upload_id").references(() => csvUploads.id, { onDelete: "set null" }),
    readAt: tstz("read_at"),
    createdAt: createdAt(),
  },
  (t) => [
    // The feed, newest first, and its unread filter (a small partial index: most rows are read).
    index("notifications_user_idx").on(t.userId, t.createdAt, t.id),
    index("notifications_unread_idx").on(t.userId, t.createdAt, t.id).where(sql`${t.readAt} is null`),
    check("notifications_type_check", inList("type", EMAIL_TEMPLATES)),
  ],
);
