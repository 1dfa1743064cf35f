/**
 * The access matrix: every route with an id (enumerated from the OpenAPI document, so a new one
 * cannot be missed) × every user of the world × every object of the route's kind. Expected
 * statuses come from the API's rules, written out independently in the oracle of `access-fixtures.ts`:
 * 404 for an object the caller may not see (the very body an unknown id gets, so nothing leaks),
 * 403 for one it may see but not change, 200/409 for reads and non-mutating calls it may make.
 * Writes the caller is allowed to make are not sent (they would change the world under the other
 * cases); the feature suites exercise them.
 *
 * Layout: one test per (route, user), named "<user> <METHOD path>", whose assertions are named
 * "<user> <METHOD path> [<object>]", so a failure says exactly which case broke.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ATTACHMENT_KEYS,
  ATTACHMENT_SPECS,
  buildWorld,
  COMMENT_KEYS,
  COMMENT_SPECS,
  canSeeUser,
  documentedOperations,
  isAdmin,
  JOB_KEYS,
  JOB_SPECS,
  TASK_KEYS,
  taskRight,
  UPLOAD_KEYS,
  UPLOAD_SPECS,
  USER_KEYS,
  USER_SPECS,
  type UserKey,
  urlOf,
  type World,
} from "../support/access-fixtures.ts";
import { api } from "../support/http.ts";

/** A status to assert, or WRITE: allowed and mutating, so not sent. */
const WRITE = "write" as const;
type Expected = number | typeof WRITE;

const UNKNOWN = "unknown";
const UNKNOWN_INT = 2_147_483_000;
const UNKNOWN_UUID = crypto.randomUUID();

type Body = { kind: "none" } | { kind: "json"; value: (w: World, actor: UserKey) => unknown } | { kind: "form" };

interface Variant {
  /** `METHOD /api/v1/path/{id}/` as in the OpenAPI document. */
  route: string;
  /** Distinguishes variants of one route (body, upgrade). */
  label?: string;
  objects: readonly string[];
  id: (w: World, object: string) => number | string;
  body?: Body;
  websocket?: boolean;
  /** Refused with 403 to everyone but CEO and HR, whatever the id: the 403 tells nothing about which ids exist. */
  adminOnly?: boolean;
  expect: (actor: UserKey, object: string) => Expected;
}

type VariantSpec = Omit<Variant, "objects" | "id">;
const family = (objects: readonly string[], id: Variant["id"], specs: VariantSpec[]): Variant[] =>
  specs.map((spec) => ({ ...spec, objects, id }));

const isEmployee = (u: UserKey): boolean => USER_SPECS[u].role === "employee";

const taskObjects = [...TASK_KEYS, UNKNOWN];
const taskId = (w: World, o: string) => (o === UNKNOWN ? UNKNOWN_INT : w.tasks[o as keyof World["tasks"]]);
const right = (actor: UserKey, o: string) =>
  o === UNKNOWN ? "none" : taskRight(actor, o as (typeof TASK_KEYS)[number]);

/** Reads: anyone who can read the task. */
const readTask = (actor: UserKey, o: string): Expected => (right(actor, o) === "none" ? 404 : 200);
/** Writes any reader may make (complete, comment). */
const readerWrite = (actor: UserKey, o: string): Expected => (right(actor, o) === "none" ? 404 : WRITE);
/** Writes that need the right to manage the task; an assignee is refused with 403. */
const manageWrite = (actor: UserKey, o: string): Expected => {
  const r = right(actor, o);
  return r === "none" ? 404 : r === "assignee" ? 403 : WRITE;
};
/** Assign/unassign someone else: managers of the task, but an employee only themselves (403). */
const assignOther = (actor: UserKey, o: string): Expected => {
  const r = manageWrite(actor, o);
  return r === WRITE && isEmployee(actor) ? 403 : r;
};
const otherUser = (w: World, actor: UserKey) => [(actor === "empNone" ? w.users.empA : w.users.empNone).id];

const taskVariants = family(taskObjects, taskId, [
  { route: "GET /api/v1/tasks/{id}/", expect: readTask },
  {
    route: "PUT /api/v1/tasks/{id}/",
    body: { kind: "json", value: () => ({ title: "renamed" }) },
    expect: manageWrite,
  },
  {
    route: "PATCH /api/v1/tasks/{id}/",
    body: { kind: "json", value: () => ({ title: "renamed" }) },
    expect: manageWrite,
  },
  { route: "DELETE /api/v1/tasks/{id}/", expect: manageWrite },
  { route: "POST /api/v1/tasks/{id}/complete/", expect: readerWrite },
  { route: "POST /api/v1/tasks/{id}/mark_done/", expect: readerWrite },
  {
    route: "POST /api/v1/tasks/{id}/assign/",
    body: { kind: "json", value: (w, actor) => ({ assignees: otherUser(w, actor) }) },
    expect: assignOther,
  },
  {
    route: "POST /api/v1/tasks/{id}/unassign/",
    body: { kind: "json", value: (w, actor) => ({ assignees: otherUser(w, actor) }) },
    expect: assignOther,
  },
  { route: "GET /api/v1/tasks/{id}/comments/", expect: readTask },
  { route: "GET /api/v1/tasks/{id}/history/", expect: readTask },
  {
    route: "POST /api/v1/tasks/{id}/comments/",
    body: { kind: "json", value: () => ({ content: "intruding" }) },
    expect: readerWrite,
  },
  { route: "GET /api/v1/tasks/{id}/attachments/", expect: readTask },
  {
    route: "POST /api/v1/tasks/{id}/attachments/",
    label: "presigned",
    body: { kind: "json", value: () => ({ filename: "x.txt", size_bytes: 3, content_type: "text/plain" }) },
    expect: manageWrite,
  },
  { route: "POST /api/v1/tasks/{id}/attachments/", label: "multipart", body: { kind: "form" }, expect: manageWrite },
]);

const commentVariants: Variant[] = [
  {
    route: "DELETE /api/v1/comments/{id}/",
    objects: [...COMMENT_KEYS, UNKNOWN],
    id: (w, o) => (o === UNKNOWN ? UNKNOWN_INT : w.comments[o as keyof World["comments"]]),
    expect: (actor, o) => {
      if (o === UNKNOWN) return 404;
      const spec = COMMENT_SPECS[o as keyof typeof COMMENT_SPECS];
      if (taskRight(actor, spec.task) === "none") return 404;
      return spec.author === actor || isAdmin(actor) ? WRITE : 403;
    },
  },
];

/**
 * Attachments. A pending one (registered, bytes not confirmed) is 404 and unlisted for everyone
 * but its uploader; only its uploader can complete it (here 409: nothing was PUT) or delete it (a write, not
 * sent here). A ready one is readable by the task's readers and changed by its managers.
 */
const attachmentObjects = [...ATTACHMENT_KEYS, UNKNOWN];
const attachment = (o: string) => ATTACHMENT_SPECS[o as keyof typeof ATTACHMENT_SPECS];
const attachmentId = (w: World, o: string) =>
  o === UNKNOWN ? UNKNOWN_INT : w.attachments[o as keyof World["attachments"]];
const attachmentVariants = family(attachmentObjects, attachmentId, [
  {
    route: "GET /api/v1/attachments/{id}/",
    expect: (actor: UserKey, o: string) =>
      o === UNKNOWN || attachment(o).pending ? 404 : readTask(actor, attachment(o).task),
  },
  {
    route: "DELETE /api/v1/attachments/{id}/",
    expect: (actor: UserKey, o: string): Expected => {
      if (o === UNKNOWN) return 404;
      const spec = attachment(o);
      if (spec.pending) return spec.uploader === actor ? WRITE : 404;
      return manageWrite(actor, spec.task);
    },
  },
  {
    route: "POST /api/v1/attachments/{id}/complete/",
    expect: (actor: UserKey, o: string): Expected => {
      if (o === UNKNOWN) return 404;
      const spec = attachment(o);
      if (spec.pending) return spec.uploader === actor ? 409 : 404;
      // Completing a ready attachment is an idempotent no-op: its managers get it back.
      const r = manageWrite(actor, spec.task);
      return r === WRITE ? 200 : r;
    },
  },
]);

/** Uploads and their jobs are their owner's alone: every other user gets the 404 of an unknown id. */
const uploadObjects = [...UPLOAD_KEYS, UNKNOWN];
const uploadId = (w: World, o: string) => (o === UNKNOWN ? UNKNOWN_UUID : w.uploads[o as keyof World["uploads"]]);
const owns = (actor: UserKey, o: string) =>
  o !== UNKNOWN && UPLOAD_SPECS[o as keyof typeof UPLOAD_SPECS].owner === actor;
const pendingUpload = (o: string) => o !== UNKNOWN && UPLOAD_SPECS[o as keyof typeof UPLOAD_SPECS].presigned;
const ownerOnly =
  (forOwner: (o: string) => Expected) =>
  (actor: UserKey, o: string): Expected =>
    owns(actor, o) ? forOwner(o) : 404;
const uploadVariants = family(uploadObjects, uploadId, [
  { route: "GET /api/v1/csv-data/uploads/{id}/", expect: ownerOnly(() => 200) },
  { route: "GET /api/v1/csv-data/uploads/{id}/progress/", expect: ownerOnly(() => 200) },
  {
    route: "GET /api/v1/csv-data/uploads/{id}/progress/",
    label: "WebSocket upgrade",
    websocket: true,
    expect: ownerOnly(() => 101),
  },
  { route: "GET /api/v1/csv-data/uploads/{id}/data/", expect: ownerOnly(() => 200) },
  {
    route: "POST /api/v1/csv-data/uploads/{id}/complete/",
    body: { kind: "json", value: () => ({ parts: [{ part_number: 1, etag: "0123456789abcdef" }] }) },
    // An ended upload cannot be completed again (409); a pending one would be (not sent).
    expect: ownerOnly((o) => (pendingUpload(o) ? WRITE : 409)),
  },
  {
    route: "POST /api/v1/csv-data/uploads/{id}/cancel/",
    expect: ownerOnly((o) => (pendingUpload(o) ? WRITE : 409)),
  },
  { route: "DELETE /api/v1/csv-data/uploads/{id}/", expect: ownerOnly(() => WRITE) },
  { route: "DELETE /api/v1/csv-data/uploads/{id}/delete/", expect: ownerOnly(() => WRITE) },
]);

const jobObjects = [...JOB_KEYS, UNKNOWN];
const ownsJob = (actor: UserKey, o: string) =>
  o !== UNKNOWN && UPLOAD_SPECS[JOB_SPECS[o as keyof typeof JOB_SPECS].upload].owner === actor;
const jobPending = (o: string) => pendingUpload(JOB_SPECS[o as keyof typeof JOB_SPECS].upload);
const jobVariants = family(jobObjects, (w, o) => (o === UNKNOWN ? UNKNOWN_UUID : w.jobs[o as keyof World["jobs"]]), [
  { route: "GET /api/v1/jobs/{id}/", expect: (actor: UserKey, o: string) => (ownsJob(actor, o) ? 200 : 404) },
  {
    route: "POST /api/v1/jobs/{id}/cancel/",
    expect: (actor: UserKey, o: string) => (!ownsJob(actor, o) ? 404 : jobPending(o) ? WRITE : 409),
  },
  { route: "DELETE /api/v1/jobs/{id}/", expect: (actor: UserKey, o: string) => (ownsJob(actor, o) ? WRITE : 404) },
]);

/** Notifications: each user's are theirs alone, whatever the role (marking one's own read is harmless: 204). */
const notificationVariants = family(
  [...USER_KEYS, UNKNOWN],
  (w, o) => (o === UNKNOWN ? UNKNOWN_INT : w.notifications[o as UserKey]),
  [
    {
      route: "POST /api/v1/notifications/{id}/read/",
      expect: (actor: UserKey, o: string) => (actor === o ? 204 : 404),
    },
  ],
);

/**
 * Webhooks are the organisation's: CEO and HR manage them (the test ping of a paused subscription
 * is a 409), everyone else gets 403 for any id, known or not.
 */
const webhookObjects = ["hook", UNKNOWN];
const webhookId = (w: World, o: string) => (o === UNKNOWN ? UNKNOWN_INT : w.webhook.id);
const adminOr403 =
  (forAdmin: Expected) =>
  (actor: UserKey, o: string): Expected =>
    !isAdmin(actor) ? 403 : o === UNKNOWN ? 404 : forAdmin;
const webhookVariants = family(webhookObjects, webhookId, [
  { route: "GET /api/v1/webhooks/{id}/", adminOnly: true, expect: adminOr403(200) },
  {
    route: "PATCH /api/v1/webhooks/{id}/",
    adminOnly: true,
    body: { kind: "json", value: () => ({ description: "renamed by the access matrix" }) },
    expect: adminOr403(WRITE),
  },
  { route: "DELETE /api/v1/webhooks/{id}/", adminOnly: true, expect: adminOr403(WRITE) },
  { route: "GET /api/v1/webhooks/{id}/deliveries/", adminOnly: true, expect: adminOr403(200) },
  { route: "GET /api/v1/webhooks/{id}/deliveries/{delivery_id}/", adminOnly: true, expect: adminOr403(200) },
  { route: "POST /api/v1/webhooks/{id}/test/", adminOnly: true, expect: adminOr403(409) },
]);

/**
 * Users: CEO/HR see anyone, a manager their department, anyone themselves; changing role or
 * department is CEO/HR only, with its two guards (HR cannot make a CEO, nobody changes their own role).
 */
const userObjects = [...USER_KEYS, UNKNOWN];
const seeUser = (actor: UserKey, o: string) => o !== UNKNOWN && canSeeUser(actor, o as UserKey);
/** Giving user `o` the role `role`: admins only; nobody changes their own role; HR neither grants nor removes the CEO role. */
const roleChange =
  (role: "manager" | "ceo") =>
  (actor: UserKey, o: string): Expected => {
    if (!seeUser(actor, o)) return 404;
    if (!isAdmin(actor)) return 403;
    const target = o as UserKey;
    if (USER_SPECS[target].role === role) return WRITE; // no change
    if (target === actor) return 403;
    if (USER_SPECS[actor].role === "hr" && (role === "ceo" || USER_SPECS[target].role === "ceo")) return 403;
    return WRITE;
  };
const userVariants = family(userObjects, (w, o) => (o === UNKNOWN ? UNKNOWN_INT : w.users[o as UserKey].id), [
  { route: "GET /api/v1/users/{id}/", expect: (actor: UserKey, o: string) => (seeUser(actor, o) ? 200 : 404) },
  {
    route: "PATCH /api/v1/users/{id}/",
    label: "department",
    body: { kind: "json", value: (w: World) => ({ department: w.departments.B }) },
    expect: (actor: UserKey, o: string) => (!seeUser(actor, o) ? 404 : isAdmin(actor) ? WRITE : 403),
  },
  {
    route: "PATCH /api/v1/users/{id}/",
    label: "role → manager",
    body: { kind: "json", value: () => ({ role: "manager" }) },
    expect: roleChange("manager"),
  },
  {
    route: "PATCH /api/v1/users/{id}/",
    label: "role → ceo",
    body: { kind: "json", value: () => ({ role: "ceo" }) },
    expect: roleChange("ceo"),
  },
]);

const departmentVariants = family(
  ["A", "B", UNKNOWN],
  (w, o) => (o === UNKNOWN ? UNKNOWN_INT : w.departments[o as "A" | "B"]),
  [
    { route: "GET /api/v1/departments/{id}/", expect: (_: UserKey, o: string) => (o === UNKNOWN ? 404 : 200) },
    {
      route: "PATCH /api/v1/departments/{id}/",
      body: { kind: "json", value: () => ({ name: `renamed ${crypto.randomUUID()}` }) },
      expect: (actor: UserKey, o: string) => (o === UNKNOWN ? 404 : isAdmin(actor) ? WRITE : 403),
    },
    {
      route: "DELETE /api/v1/departments/{id}/",
      expect: (actor: UserKey, o: string) => (o === UNKNOWN ? 404 : isAdmin(actor) ? WRITE : 403),
    },
  ],
);

const VARIANTS: Variant[] = [
  ...webhookVariants,
  ...taskVariants,
  ...commentVariants,
  ...attachmentVariants,
  ...uploadVariants,
  ...jobVariants,
  ...userVariants,
  ...departmentVariants,
  ...notificationVariants,
];

const nameOf = (v: Variant) => (v.label ? `${v.route} (${v.label})` : v.route);

async function send(w: World, actor: UserKey, v: Variant, object: string): Promise<Response> {
  const [method, path] = v.route.split(" ") as [string, string];
  const token = w.users[actor].token;
  const url = urlOf(path, v.id(w, object), w.webhook.delivery);
  if (v.websocket) {
    return api(`${url}?access_token=${encodeURIComponent(token)}`, { headers: { Upgrade: "websocket" } });
  }
  const body = v.body ?? { kind: "none" };
  if (body.kind === "json") return api(url, { method, token, json: body.value(w, actor) });
  if (body.kind === "form") {
    const form = new FormData();
    form.set("file", new File(["intruder"], "intruder.txt", { type: "text/plain" }));
    return api(url, { method, token, body: form });
  }
  return api(url, { method, token });
}

/** Consumes a response so no body or socket is left open; returns the body text (empty for 101). */
async function drain(response: Response): Promise<string> {
  if (response.status === 101) {
    const socket = response.webSocket;
    socket?.accept();
    socket?.close(1000, "done");
    return "";
  }
  return response.text();
}

let world: World;
/** Per variant: the 404 body of an unknown id, which every hidden object must answer with too. */
const unknownBodies = new Map<string, string>();
const unknownBodiesOfEmployee = new Map<string, string>();

beforeAll(async () => {
  world = await buildWorld();
  await Promise.all(
    VARIANTS.map(async (v) => {
      const [ceo, employee] = await Promise.all(
        (["ceo", "empNone"] as const).map(async (actor) => drain(await send(world, actor, v, UNKNOWN))),
      );
      unknownBodies.set(nameOf(v), ceo ?? "");
      unknownBodiesOfEmployee.set(nameOf(v), employee ?? "");
    }),
  );
}, 60_000);

describe("the matrix covers every route with an id in the OpenAPI document", () => {
  it("each documented {id} operation has a variant", async () => {
    const documented = (await documentedOperations())
      .filter((op) => op.idFormat !== null)
      .map((op) => `${op.method.toUpperCase()} ${op.path}`);
    expect(documented.length).toBeGreaterThan(20);
    const covered = new Set(VARIANTS.map((v) => v.route));
    expect(documented.filter((route) => !covered.has(route))).toEqual([]);
  });

  it("a method a path does not document answers the same 404 for a visible, a hidden and an unknown object", async () => {
    const documented = (await documentedOperations()).filter((op) => op.idFormat !== null);
    const paths = [...new Set(documented.map((op) => op.path))];
    // empA sees the first object of each pair and not the second.
    const pairs: [string, string][] = [
      ["/tasks/", "tA|tB"],
      ["/comments/", "cA|cB"],
      ["/attachments/", "aA|aB"],
      ["/csv-data/", "uEmpA|uMgrA"],
      ["/jobs/", "jEmpA|jPendingB"],
      ["/users/", "empA|empB"],
      ["/departments/", "A|B"],
      ["/notifications/", "empA|empB"],
      ["/webhooks/", "hook|hook"],
    ];
    for (const path of paths) {
      const variant = VARIANTS.find((v) => v.route.endsWith(` ${path}`));
      const pair = pairs.find(([prefix]) => path.startsWith(`/api/v1${prefix}`));
      if (!variant || !pair) throw new Error(`no objects for ${path}`);
      const methods = ["GET", "PUT", "PATCH", "POST", "DELETE"].filter(
        (m) => !documented.some((op) => op.path === path && op.method.toUpperCase() === m),
      );
      for (const method of methods) {
        const bodies = await Promise.all(
          [...pair[1].split("|"), UNKNOWN].map(async (object) => {
            const id = variant.id(world, object);
            const response = await api(urlOf(path, id, world.webhook.delivery), {
              method,
              token: world.users.empA.token,
            });
            return `${response.status} ${(await response.text()).replace(`/${id}/`, "/{id}/")}`;
          }),
        );
        expect(new Set(bodies).size, `${method} ${path}: ${bodies.join(" / ")}`).toBe(1);
        expect(bodies[0], `${method} ${path}`).toMatch(/^404 \{"detail":/);
      }
    }
  });

  it("an unknown id answers the same 404 in the error shape on every variant, to the CEO and an employee", () => {
    for (const v of VARIANTS) {
      const body = unknownBodies.get(nameOf(v)) ?? "";
      expect(body, nameOf(v)).toMatch(/^\{"detail":"[^"]+ not found\."\}$/);
      if (v.adminOnly) expect(unknownBodiesOfEmployee.get(nameOf(v)), nameOf(v)).toMatch(/^\{"detail":"[^"]+"\}$/);
      else expect(unknownBodiesOfEmployee.get(nameOf(v)), nameOf(v)).toBe(body);
    }
  });
});

for (const v of VARIANTS) {
  describe.concurrent(nameOf(v), () => {
    for (const actor of USER_KEYS) {
      it(`${actor} ${nameOf(v)}`, async ({ expect }) => {
        // The objects of one case are independent reads or refused writes: sent together.
        const cases = v.objects
          .filter((object) => object !== UNKNOWN)
          .map((object) => ({ object, expected: v.expect(actor, object) }))
          .filter((c): c is { object: string; expected: number } => c.expected !== WRITE);
        const answers = await Promise.all(
          cases.map(async ({ object }) => {
            const response = await send(world, actor, v, object);
            return { status: response.status, text: await drain(response) };
          }),
        );
        cases.forEach(({ object, expected }, i) => {
          const { status, text } = answers[i] as { status: number; text: string };
          const label = `${actor} ${nameOf(v)} [${object}]`;
          expect.soft(status, `${label}: ${text.slice(0, 200)}`).toBe(expected);
          // A hidden object is indistinguishable from one that does not exist.
          if (expected === 404) expect.soft(text, `${label} body`).toBe(unknownBodies.get(nameOf(v)));
          if (expected === 403) expect.soft(JSON.parse(text).detail, `${label} body`).toEqual(expect.any(String));
        });
      });
    }
  });
}

/** How many (user, route, object) cases the matrix asserts and how many allowed writes it leaves out. */
function matrixSize(): { asserted: number; writes: number } {
  let asserted = 0;
  let writes = 0;
  for (const v of VARIANTS) {
    for (const actor of USER_KEYS) {
      for (const object of v.objects) {
        if (object === UNKNOWN) continue;
        if (v.expect(actor, object) === WRITE) writes++;
        else asserted++;
      }
    }
  }
  return { asserted, writes };
}

describe("matrix size", () => {
  // Pinned, so a matrix that silently shrinks (a variant or object dropped) fails here. 8 users ×
  // (14 task variants × 9 tasks + 5 comments + 3 × 6 attachments + 8 × 4 uploads + 3 × 2 jobs +
  // 4 × 8 users + 3 × 2 departments + 1 × 8 users' notifications + 6 × 1 webhook) = 1,912 cases,
  // plus each variant's unknown id for 2 users.
  it("asserts 1,552 (user, route, object) cases and leaves out 360 allowed writes", () => {
    expect(matrixSize()).toEqual({ asserted: 1552, writes: 360 });
  });
});
