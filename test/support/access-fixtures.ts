/**
 * Fixtures of the access suites: the routes the OpenAPI document declares (so a new route cannot
 * slip past the access matrix or the auth checks unnoticed), and a small organisation with
 * tasks, comments, attachments, uploads and jobs spread over every role.
 *
 * The people and the two departments come from the shared organisation builder (`buildOrganisation`,
 * users inserted straight into Postgres: eight registrations would spend the per-IP auth limit and
 * eight PBKDF2 hashes). Everything else is made through the API.
 */
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import {
  notifications,
  type Role,
  tasks,
  webhookDeliveries,
  webhookSubscriptions,
} from "../../src/platform/db/schema.ts";
import { withDb } from "./env.ts";
import { api, json } from "./http.ts";
import { buildOrganisation } from "./org.ts";
import { finished, formUpload, sampleCsv, startPresignedUpload } from "./uploads.ts";
import type { TestUser } from "./users.ts";

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "patch"]);

export interface Operation {
  method: string;
  /** As the document spells it, e.g. `/api/v1/tasks/{id}/`. */
  path: string;
  /** Whether the operation declares bearer auth. */
  bearer: boolean;
  /** The `{id}` parameter's format: `uuid`, `integer`, or null when the path has no id. */
  idFormat: "uuid" | "integer" | null;
}

interface DocParameter {
  name: string;
  in: string;
  schema?: { type?: string; format?: string };
}
interface DocOperation {
  security?: Record<string, string[]>[];
  parameters?: DocParameter[];
}
interface DocumentShape {
  paths: Record<string, Record<string, DocOperation>>;
  security?: Record<string, string[]>[];
}

/** Every operation of `/openapi.json`. */
export async function documentedOperations(): Promise<Operation[]> {
  const response = await api("http://api.test/api/v1/openapi.json");
  expect(response.status).toBe(200);
  const doc = await json<DocumentShape>(response);
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      const security = operation.security ?? doc.security ?? [];
      const id = operation.parameters?.find((p) => p.in === "path" && p.name === "id");
      const idFormat = !id ? null : id.schema?.format === "uuid" ? "uuid" : "integer";
      // Bearer required: declared, and no empty requirement (`{}` makes authentication optional).
      const bearer = security.some((s) => "bearerAuth" in s) && !security.some((s) => Object.keys(s).length === 0);
      operations.push({ method, path, bearer, idFormat });
    }
  }
  return operations;
}

/** The document's path with `{id}` filled in, as a full URL the test runtime can fetch. */
export function urlOf(path: string, id?: string | number, deliveryId?: number): string {
  let filled = id === undefined ? path : path.replace("{id}", String(id));
  if (deliveryId !== undefined) filled = filled.replace("{delivery_id}", String(deliveryId));
  return `http://api.test${filled}`;
}

export interface ErrorBody {
  detail: string;
  errors?: unknown[];
}

/** The API's error shape: `{"detail": "<sentence>"}`, nothing else (validation errors add `errors`). */
export async function expectErrorShape(response: Response, label: string): Promise<ErrorBody> {
  expect(response.headers.get("Content-Type"), label).toMatch(/^application\/json/);
  const body = await json<ErrorBody>(response);
  expect(typeof body.detail, label).toBe("string");
  expect(body.detail.length, label).toBeGreaterThan(5);
  expect(
    Object.keys(body).filter((key) => key !== "detail" && key !== "errors"),
    label,
  ).toEqual([]);
  return body;
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

export const USER_KEYS = ["ceo", "hr", "mgrA", "mgrB", "empA", "empA2", "empB", "empNone"] as const;
export type UserKey = (typeof USER_KEYS)[number];

export const COMMENT_KEYS = ["cA", "cAtoB", "cB", "cHr", "cDeleted"] as const;
export type CommentKey = (typeof COMMENT_KEYS)[number];

export const ATTACHMENT_KEYS = ["aA", "aB", "aPendingA", "aPendingAtoB", "aHr", "aDeleted"] as const;
export type AttachmentKey = (typeof ATTACHMENT_KEYS)[number];

export const UPLOAD_KEYS = ["uEmpA", "uMgrA", "uCeo", "uPendingB"] as const;
export type UploadKey = (typeof UPLOAD_KEYS)[number];

export const JOB_KEYS = ["jEmpA", "jPendingB"] as const;
export type JobKey = (typeof JOB_KEYS)[number];

/** What the world is made of, independent of the ids it gets: the spec the oracle reads. */
export interface TaskSpec {
  creator: UserKey;
  /** "A", "B" or null (no department). */
  department: "A" | "B" | null;
  assignees: UserKey[];
  /** Who the task records as its last assigner (creator when created with assignees). */
  assignedBy: UserKey | null;
  deleted: boolean;
  overdue: boolean;
  done: boolean;
}

export const USER_SPECS: Record<UserKey, { role: Role; department: "A" | "B" | null }> = {
  ceo: { role: "ceo", department: null },
  hr: { role: "hr", department: null },
  mgrA: { role: "manager", department: "A" },
  mgrB: { role: "manager", department: "B" },
  empA: { role: "employee", department: "A" },
  empA2: { role: "employee", department: "A" },
  empB: { role: "employee", department: "B" },
  empNone: { role: "employee", department: null },
};

const task = (spec: Partial<TaskSpec> & Pick<TaskSpec, "creator" | "department">): TaskSpec => ({
  assignees: [],
  assignedBy: spec.assignees?.length ? spec.creator : null,
  deleted: false,
  overdue: false,
  done: false,
  ...spec,
});

export const TASK_SPECS = {
  tA: task({ creator: "empA", department: "A", overdue: true }),
  // A manager's task in their department assigned across departments.
  tAtoB: task({ creator: "mgrA", department: "A", assignees: ["empB"] }),
  tB: task({ creator: "empB", department: "B", overdue: true, done: true }),
  // A manager who is only an assignee outside their department.
  tBtoMgrA: task({ creator: "mgrB", department: "B", assignees: ["mgrA"], overdue: true }),
  // Another department's task whose last assigner was mgrA (e.g. before a transfer).
  tBbyMgrA: task({ creator: "empB", department: "B", assignedBy: "mgrA" }),
  tNone: task({ creator: "empNone", department: null }),
  tHrToNone: task({ creator: "hr", department: null, assignees: ["empNone"], overdue: true }),
  tCeoA: task({ creator: "ceo", department: "A", assignees: ["empA2"] }),
  tDeleted: task({ creator: "empA", department: "A", deleted: true }),
} satisfies Record<string, TaskSpec>;
export type TaskKey = keyof typeof TASK_SPECS;
/** The tasks in the order the world creates them. */
export const TASK_KEYS = Object.keys(TASK_SPECS) as TaskKey[];

export const COMMENT_SPECS: Record<CommentKey, { task: TaskKey; author: UserKey }> = {
  cA: { task: "tA", author: "empA" },
  cAtoB: { task: "tAtoB", author: "empB" },
  cB: { task: "tB", author: "empB" },
  cHr: { task: "tHrToNone", author: "hr" },
  cDeleted: { task: "tDeleted", author: "empA" },
};

export const ATTACHMENT_SPECS: Record<AttachmentKey, { task: TaskKey; uploader: UserKey; pending: boolean }> = {
  aA: { task: "tA", uploader: "empA", pending: false },
  aB: { task: "tB", uploader: "empB", pending: false },
  aPendingA: { task: "tA", uploader: "empA", pending: true },
  // Pending on a task with an assignee (empB), who may read the task but not this attachment.
  aPendingAtoB: { task: "tAtoB", uploader: "mgrA", pending: true },
  aHr: { task: "tHrToNone", uploader: "hr", pending: false },
  aDeleted: { task: "tDeleted", uploader: "empA", pending: false },
};

export const UPLOAD_SPECS: Record<UploadKey, { owner: UserKey; presigned: boolean }> = {
  uEmpA: { owner: "empA", presigned: false },
  uMgrA: { owner: "mgrA", presigned: false },
  uCeo: { owner: "ceo", presigned: false },
  uPendingB: { owner: "empB", presigned: true },
};

export const JOB_SPECS: Record<JobKey, { upload: UploadKey }> = {
  jEmpA: { upload: "uEmpA" },
  jPendingB: { upload: "uPendingB" },
};

export interface World {
  /** A word in every task's title, so list assertions can ignore other suites' tasks. */
  tag: string;
  /** A word only in tB's description (search must not find it for those who cannot see tB). */
  secret: string;
  departments: { A: number; B: number };
  users: Record<UserKey, TestUser>;
  tasks: Record<TaskKey, number>;
  comments: Record<CommentKey, number>;
  attachments: Record<AttachmentKey, number>;
  uploads: Record<UploadKey, string>;
  jobs: Record<JobKey, string>;
  /** Every upload's job (the jobs above are the ones the matrix targets). */
  uploadJobs: Record<UploadKey, string>;
  /** One notification of each user. */
  notifications: Record<UserKey, number>;
  /**
   * A paused webhook subscription (so other suites' events never reach it) and one delivery of it.
   * Webhooks are the organisation's, managed by CEO and HR alone.
   */
  webhook: { id: number; delivery: number };
}

async function created<T>(response: Response, what: string): Promise<T> {
  if (response.status !== 201) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return json<T>(response);
}

export async function buildWorld(): Promise<World> {
  const tag = `w${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const secret = `s${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const { departments: deptIds, users } = await buildOrganisation(USER_SPECS, { A: `A ${tag}`, B: `B ${tag}` });
  const deptOf = (d: "A" | "B" | null) => (d === null ? null : deptIds[d]);

  const past = new Date(Date.now() - 3 * 86_400_000).toISOString();
  const taskIds = {} as Record<TaskKey, number>;
  for (const key of TASK_KEYS) {
    const spec = TASK_SPECS[key];
    const body = await created<{ id: number }>(
      await api("/tasks/", {
        token: users[spec.creator].token,
        json: {
          title: `${key} ${tag}`,
          description: key === "tB" ? `holds ${secret}` : "",
          department: deptOf(spec.department),
          assignees: spec.assignees.map((u) => users[u].id),
          ...(spec.overdue ? { due_date: past } : {}),
        },
      }),
      `task ${key}`,
    );
    taskIds[key] = body.id;
  }
  // The assigner recorded for a transfer; the API sets it to the caller, so the database does it.
  await withDb((db) => db.update(tasks).set({ assignedById: users.mgrA.id }).where(eq(tasks.id, taskIds.tBbyMgrA)));
  const done = await api(`/tasks/${taskIds.tB}/complete/`, { method: "POST", token: users.empB.token });
  expect(done.status).toBe(200);

  const comments = {} as Record<CommentKey, number>;
  for (const key of COMMENT_KEYS) {
    const spec = COMMENT_SPECS[key];
    const body = await created<{ id: number }>(
      await api(`/tasks/${taskIds[spec.task]}/comments/`, {
        token: users[spec.author].token,
        json: { content: `comment ${key}` },
      }),
      `comment ${key}`,
    );
    comments[key] = body.id;
  }

  const attachments = {} as Record<AttachmentKey, number>;
  for (const key of ATTACHMENT_KEYS) {
    const spec = ATTACHMENT_SPECS[key];
    const path = `/tasks/${taskIds[spec.task]}/attachments/`;
    const token = users[spec.uploader].token;
    let response: Response;
    if (spec.pending) {
      response = await api(path, {
        token,
        json: { filename: `${key}.txt`, size_bytes: 5, content_type: "text/plain" },
      });
    } else {
      const form = new FormData();
      form.set("file", new File([`file ${key}`], `${key}.txt`, { type: "text/plain" }));
      response = await api(path, { token, body: form });
    }
    attachments[key] = (await created<{ id: number }>(response, `attachment ${key}`)).id;
  }

  const deleted = await api(`/tasks/${taskIds.tDeleted}/`, { method: "DELETE", token: users.empA.token });
  expect(deleted.status).toBe(204);

  const uploads = {} as Record<UploadKey, string>;
  const uploadJobs = {} as Record<UploadKey, string>;
  await Promise.all(
    UPLOAD_KEYS.map(async (key) => {
      const spec = UPLOAD_SPECS[key];
      const owner = users[spec.owner];
      const upload = spec.presigned
        ? await startPresignedUpload(owner, 100, `${key}.csv`)
        : await formUpload(owner, sampleCsv(3), `${key}.csv`);
      if (!spec.presigned) await finished(owner, upload.id);
      uploads[key] = upload.id;
      if (!upload.job) throw new Error(`upload ${key} has no job`);
      uploadJobs[key] = upload.job;
    }),
  );
  const jobs = Object.fromEntries(JOB_KEYS.map((key) => [key, uploadJobs[JOB_SPECS[key].upload]])) as Record<
    JobKey,
    string
  >;

  // One notification per user, whatever the world's events gave them (the matrix needs one each).
  const notes = await withDb((db) =>
    db
      .insert(notifications)
      .values(USER_KEYS.map((key) => ({ userId: users[key].id, type: "welcome" as const, title: `welcome ${key}` })))
      .returning({ id: notifications.id }),
  );
  const notificationIds = Object.fromEntries(USER_KEYS.map((key, i) => [key, notes[i]?.id])) as Record<UserKey, number>;

  const webhook = await withDb(async (db) => {
    const [subscription] = await db
      .insert(webhookSubscriptions)
      .values({
        url: "http://127.0.0.1:9/access-matrix",
        events: ["task.deleted"],
        description: `access ${tag}`,
        secret: "whsec_YWNjZXNzLW1hdHJpeC1zZWNyZXQtMDEyMzQ1Njc4OQ==",
        active: false,
      })
      .returning({ id: webhookSubscriptions.id });
    if (!subscription) throw new Error("webhook subscription not created");
    const [delivery] = await db
      .insert(webhookDeliveries)
      .values({ subscriptionId: subscription.id, event: "ping", payload: {}, status: "failed" })
      .returning({ id: webhookDeliveries.id });
    if (!delivery) throw new Error("webhook delivery not created");
    return { id: subscription.id, delivery: delivery.id };
  });

  return {
    tag,
    secret,
    webhook,
    departments: deptIds,
    users,
    tasks: taskIds,
    comments,
    attachments,
    uploads,
    jobs,
    uploadJobs,
    notifications: notificationIds,
  };
}

// ---------------------------------------------------------------------------------------------
// The oracle: the API's access rules, written from the contract (not from the implementation's policy)
// ---------------------------------------------------------------------------------------------

export type TaskRight = "manage" | "assignee" | "none";

const isAdminRole = (role: Role): boolean => role === "ceo" || role === "hr";

/** CEO and HR, whose rights reach over every department. */
export const isAdmin = (user: UserKey): boolean => isAdminRole(USER_SPECS[user].role);

/** The uploads `user` made; each upload's job is its owner's too. */
export const uploadsOf = (user: UserKey): UploadKey[] => UPLOAD_KEYS.filter((k) => UPLOAD_SPECS[k].owner === user);

/**
 * Who may do what with a task: CEO/HR and the creator manage it, a manager also the tasks of their
 * department and those they assigned; an assignee with no other right has the assignee's rights.
 */
export function taskRight(user: UserKey, taskKey: TaskKey): TaskRight {
  const spec = TASK_SPECS[taskKey];
  if (spec.deleted) return "none";
  const me = USER_SPECS[user];
  if (isAdminRole(me.role)) return "manage";
  if (spec.creator === user) return "manage";
  if (me.role === "manager") {
    if (me.department !== null && spec.department === me.department) return "manage";
    if (spec.assignedBy === user) return "manage";
  }
  return spec.assignees.includes(user) ? "assignee" : "none";
}

/** Who sees a user: CEO/HR anyone, a manager their department, anyone themselves. */
export function canSeeUser(viewer: UserKey, target: UserKey): boolean {
  const me = USER_SPECS[viewer];
  if (isAdminRole(me.role) || viewer === target) return true;
  return me.role === "manager" && me.department !== null && USER_SPECS[target].department === me.department;
}

export const visibleTaskKeys = (user: UserKey): TaskKey[] => TASK_KEYS.filter((t) => taskRight(user, t) !== "none");
