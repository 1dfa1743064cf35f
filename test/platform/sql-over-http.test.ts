/**
 * The SQL-over-HTTP stand-in (scripts/lib/sql-over-http.ts) against the REAL driver, inside workerd:
 * `neon()` from `@neondatabase/serverless` and drizzle's `neon-http` send their own requests to it
 * and parse its answers with their own code, so what passes here is what the driver accepts from
 * Neon. Each test names what it proves about the protocol; tables are throwaway, one per test.
 */
import { env } from "cloudflare:workers";
import { neon, neonConfig } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { beforeAll, describe, expect, it } from "vitest";
import { isConnectionError } from "../../src/platform/db/client.ts";

const testEnv = env as Env & {
  PG_HTTP: string;
  DATABASE_URL: string;
  TEST_CLOSED_PORT: string;
  TEST_SUPPORT_URL: string;
};

const unique = () => `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;

/** A connection string with its own application name: its own pool, recognisable in pg_stat_activity. */
function urlWithApp(app: string): string {
  const url = new URL(testEnv.DATABASE_URL);
  url.searchParams.set("application_name", app);
  return url.toString();
}

const sql = () => neon(testEnv.DATABASE_URL);

/** The rejection of `promise`, failing the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected the query to fail, but it succeeded");
}

/** Runs `body` while a table `name` (id int primary key, label text not null unique) exists, dropping it afterwards. */
async function withTable(name: string, body: () => Promise<void>): Promise<void> {
  await sql().query(`create table ${name} (id int primary key, label text not null unique)`);
  try {
    await body();
  } finally {
    await sql().query(`drop table if exists ${name}`);
  }
}

beforeAll(() => {
  expect(testEnv.PG_HTTP).toMatch(/^127\.0\.0\.1:\d+$/);
  neonConfig.fetchEndpoint = () => `http://${testEnv.PG_HTTP}/sql`;
});

describe("SQL over HTTP: single queries through neon()", () => {
  it("returns Postgres text that the driver parses into its usual types", async () => {
    const [row] = await sql()`
      select 42::int4 as int, 9007199254740993::int8 as big, 12.50::numeric(6,2) as num,
             true as yes, false as no, '2024-05-06T07:08:09.123Z'::timestamptz as at,
             '{"a": [1, "x", null], "b": {"c": true}}'::jsonb as doc,
             array[1, 2, 3]::int4[] as ints, array['a', 'b c', null]::text[] as texts,
             null::text as nothing, 'é ✓ "quoted"'::text as words`;
    expect(row).toEqual({
      int: 42,
      big: "9007199254740993",
      num: "12.50",
      yes: true,
      no: false,
      at: new Date("2024-05-06T07:08:09.123Z"),
      doc: { a: [1, "x", null], b: { c: true } },
      ints: [1, 2, 3],
      texts: ["a", "b c", null],
      nothing: null,
      words: 'é ✓ "quoted"',
    });
    expect(row?.at).toBeInstanceOf(Date);
  });

  it("passes parameters through as the driver serialised them", async () => {
    const at = new Date("2030-01-02T03:04:05.678Z");
    const [row] = await sql()`
      select ${41}::int + 1 as answer, ${"O'Reilly; drop table users --"}::text as name,
             ${null}::text as missing, ${at}::timestamptz as at, ${JSON.stringify({ k: [1, 2] })}::jsonb as doc,
             ${[1, 2, 3]}::int[] as arr, ${true}::boolean as flag`;
    expect(row).toEqual({
      answer: 42,
      name: "O'Reilly; drop table users --",
      missing: null,
      at,
      doc: { k: [1, 2] },
      arr: [1, 2, 3],
      flag: true,
    });
  });

  it("round-trips bytea: bytes go out as \\x hex and come back as the same bytes", async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const [row] = await sql()`select ${bytes}::bytea as data, octet_length(${bytes}::bytea) as length`;
    expect(row?.length).toBe(256);
    expect(Array.from(row?.data as Uint8Array)).toEqual(Array.from(bytes));
  });

  it("answers fullResults with fields, command and rowCount as Neon does", async () => {
    const select = await sql().query("select generate_series(1, 3) as n, 'x'::text as t", [], { fullResults: true });
    expect(select.command).toBe("SELECT");
    expect(select.rowCount).toBe(3);
    expect(select.rows).toEqual([
      { n: 1, t: "x" },
      { n: 2, t: "x" },
      { n: 3, t: "x" },
    ]);
    expect(select.fields.map((f) => [f.name, f.dataTypeID, f.format])).toEqual([
      ["n", 23, "text"],
      ["t", 25, "text"],
    ]);

    const table = `soh_full_${unique()}`;
    await withTable(table, async () => {
      const insert = await sql().query(`insert into ${table} (id, label) values (1, 'a'), (2, 'b')`, [], {
        fullResults: true,
      });
      expect(insert).toMatchObject({ command: "INSERT", rowCount: 2, rows: [], fields: [] });
      const update = await sql().query(`update ${table} set label = label || '!' where id > $1`, [0], {
        fullResults: true,
      });
      expect(update).toMatchObject({ command: "UPDATE", rowCount: 2 });
      const tableColumns = await sql().query(`select id, label from ${table} order by id`, [], { fullResults: true });
      // Column identity comes from Postgres: the table's oid and the columns' attribute numbers.
      const [{ oid }] = (await sql().query("select $1::regclass::oid::int as oid", [table])) as [{ oid: number }];
      expect(tableColumns.fields.map((f) => [f.tableID, f.columnID])).toEqual([
        [oid, 1],
        [oid, 2],
      ]);
    });
  });

  it("answers array mode with rows as arrays", async () => {
    const rows = await sql().query("select 1 as a, 'x' as b union all select 2, null", [], { arrayMode: true });
    expect(rows).toEqual([
      [1, "x"],
      [2, null],
    ]);
  });

  it("runs every statement through the extended protocol: two statements in one query fail, as on Neon", async () => {
    const error = await rejectionOf(sql().query("select 1; select 2"));
    expect(error.code).toBe("42601");
    expect(error.message).toMatch(/multiple commands/);
  });

  it("answers a syntax error with 400 and the error's fields, position included", async () => {
    const error = await rejectionOf(sql().query("select 1 as one, frobnicate( from nowhere"));
    expect(error.name).toBe("NeonDbError");
    expect(error).toMatchObject({ code: "42601", severity: "ERROR", position: "30" });
    expect(error.message).toMatch(/syntax error at or near "from"/);
    expect(typeof error.routine).toBe("string");
    expect(typeof error.file).toBe("string");
  });

  it("names the table, column and constraint of a constraint violation", async () => {
    const table = `soh_viol_${unique()}`;
    await withTable(table, async () => {
      const error = await rejectionOf(sql().query(`insert into ${table} (id, label) values (1, null)`));
      expect(error).toMatchObject({ code: "23502", table, column: "label", schema: "public" });
    });
  });
});

describe("SQL over HTTP: batches through sql.transaction()", () => {
  it("runs a batch in one transaction and returns the results in order", async () => {
    const table = `soh_batch_${unique()}`;
    await withTable(table, async () => {
      const db = sql();
      const results = await db.transaction([
        db`select 1 as n`,
        db.query(`insert into ${table} (id, label) values (1, 'one'), (2, 'two') returning id`),
        db.query(`select count(*)::int as n from ${table}`),
        db`select txid_current() as tx`,
        db`select txid_current() as tx`,
        db`select 3 as n`,
      ]);
      expect(results.slice(0, 3)).toEqual([[{ n: 1 }], [{ id: 1 }, { id: 2 }], [{ n: 2 }]]);
      expect(results[3]).toEqual(results[4]);
      expect(results[5]).toEqual([{ n: 3 }]);
      expect(await db.query(`select label from ${table} order by id`)).toEqual([{ label: "one" }, { label: "two" }]);
    });
  });

  it("commits nothing of a batch whose later statement fails, and answers the error's code", async () => {
    const table = `soh_rollback_${unique()}`;
    await withTable(table, async () => {
      const db = sql();
      const error = await rejectionOf(
        db.transaction([
          db.query(`insert into ${table} (id, label) values (1, 'a')`),
          db.query(`insert into ${table} (id, label) values (2, 'b')`),
          db.query(`insert into ${table} (id, label) values (3, 'a')`),
          db.query(`insert into ${table} (id, label) values (4, 'c')`),
        ]),
      );
      expect(error).toMatchObject({ name: "NeonDbError", code: "23505", constraint: `${table}_label_key` });
      expect(error.detail).toMatch(/\(label\)=\(a\) already exists/);
      expect(await db.query(`select count(*)::int as n from ${table}`)).toEqual([{ n: 0 }]);
    });
  });

  it("opens the batch's transaction with the isolation level, READ ONLY and DEFERRABLE asked for", async () => {
    const db = sql();
    const levels = {
      ReadUncommitted: "read uncommitted",
      ReadCommitted: "read committed",
      RepeatableRead: "repeatable read",
      Serializable: "serializable",
    } as const;
    for (const [level, shown] of Object.entries(levels)) {
      const [isolation, readOnly, deferrable] = await db.transaction(
        [db`show transaction_isolation`, db`show transaction_read_only`, db`show transaction_deferrable`],
        { isolationLevel: level as keyof typeof levels, readOnly: true, deferrable: level === "Serializable" },
      );
      expect(isolation).toEqual([{ transaction_isolation: shown }]);
      expect(readOnly).toEqual([{ transaction_read_only: "on" }]);
      expect(deferrable).toEqual([{ transaction_deferrable: level === "Serializable" ? "on" : "off" }]);
    }
    // Without options: Postgres's defaults, read-write.
    const [readOnly] = await db.transaction([db`show transaction_read_only`]);
    expect(readOnly).toEqual([{ transaction_read_only: "off" }]);
  });

  it("refuses a write inside a readOnly batch with 25006", async () => {
    const table = `soh_ro_${unique()}`;
    await withTable(table, async () => {
      const db = sql();
      const error = await rejectionOf(
        db.transaction([db`select 1`, db.query(`insert into ${table} (id, label) values (1, 'a')`)], {
          readOnly: true,
        }),
      );
      expect(error.code).toBe("25006");
      expect(await db.query(`select count(*)::int as n from ${table}`)).toEqual([{ n: 0 }]);
    });
  });

  it("never hands a later request a connection left inside a failed transaction", async () => {
    const app = `soh-leak-${unique()}`;
    const table = `soh_leak_${unique()}`;
    await withTable(table, async () => {
      const db = neon(urlWithApp(app));
      await rejectionOf(
        db.transaction([
          db.query(`insert into ${table} values (1, 'a')`),
          db.query(`insert into ${table} values (1, 'b')`),
        ]),
      );
      await rejectionOf(db.transaction([db.query(`insert into ${table} values (2, 'c')`)], { readOnly: true }));
      // A statement that leaves its session inside a transaction: that connection must be dropped.
      // Nobody else uses this application name's pool, so its one idle connection serves each call.
      const pid = async () => ((await db`select pg_backend_pid() as pid`) as [{ pid: number }])[0].pid;
      const before = await pid();
      expect(await pid()).toBe(before);
      await db.query("begin");
      const after = await pid();
      expect(after).not.toBe(before);
      expect(await pid()).toBe(after);
      // Two requests are two transactions.
      const [first] = await db`select txid_current() as tx`;
      const [second] = await db`select txid_current() as tx`;
      expect(first).not.toEqual(second);
      const stuck = await sql().query(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 and state <> 'idle'",
        [app],
      );
      expect(stuck).toEqual([{ n: 0 }]);
    });
  });

  it("reuses pooled connections across requests", async () => {
    const db = neon(urlWithApp(`soh-pool-${unique()}`));
    const pids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const [row] = (await db`select pg_backend_pid() as pid`) as [{ pid: number }];
      pids.add(row.pid);
    }
    expect(pids.size).toBe(1);
  });
});

describe("SQL over HTTP: drizzle neon-http", () => {
  it("runs db.batch([...]) as one transaction with each query's result mapped", async () => {
    const name = `soh_drizzle_${unique()}`;
    const items = pgTable(name, {
      id: integer("id").primaryKey(),
      label: text("label").notNull().unique(),
    });
    const db = drizzle({ client: sql() });
    await withTable(name, async () => {
      const [inserted, updated, all] = await db.batch([
        db
          .insert(items)
          .values([
            { id: 1, label: "one" },
            { id: 2, label: "two" },
          ])
          .returning(),
        db.update(items).set({ label: "TWO" }).where(eq(items.id, 2)).returning({ id: items.id }),
        db.select().from(items).orderBy(items.id),
      ]);
      expect(inserted).toEqual([
        { id: 1, label: "one" },
        { id: 2, label: "two" },
      ]);
      expect(updated).toEqual([{ id: 2 }]);
      expect(all).toEqual([
        { id: 1, label: "one" },
        { id: 2, label: "TWO" },
      ]);

      const error = await rejectionOf(
        db.batch([
          db.insert(items).values({ id: 3, label: "three" }),
          db.insert(items).values({ id: 4, label: "one" }),
        ]),
      );
      expect(JSON.stringify(error.cause ?? error)).toContain("23505");
      expect(await db.select().from(items).orderBy(items.id)).toHaveLength(2);
    });
  });
});

describe("SQL over HTTP: failures the product must tell apart", () => {
  it("answers an unreachable database with a 500 the product recognises as a connection error", async () => {
    const closed = testEnv.DATABASE_URL.replace(/:(\d+)\//, `:${testEnv.TEST_CLOSED_PORT}/`);
    const error = await rejectionOf(neon(closed)`select 1`);
    expect(error.message).toMatch(/^Server error \(HTTP status 500\): .*could not connect to the database/);
    expect(isConnectionError(error)).toBe(true);
  });

  it("does not count a query error as a connection error", async () => {
    const error = await rejectionOf(sql().query("select * from soh_no_such_table"));
    expect(error.code).toBe("42P01");
    expect(isConnectionError(error)).toBe(false);
  });

  it("accepts loopback databases only", async () => {
    const error = await rejectionOf(neon("postgres://user:secret@db.example.com:5432/app")`select 1`);
    expect(error.message).toMatch(/loopback/);
    const response = await fetch(`http://${testEnv.PG_HTTP}/sql`, {
      method: "POST",
      headers: {
        "Neon-Connection-String": "postgres://user:secret@10.0.0.1:5432/app",
        "Neon-Raw-Text-Output": "true",
        "Neon-Array-Mode": "true",
      },
      body: JSON.stringify({ query: "select 1", params: [] }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toMatch(/loopback/);
  });

  it("refuses an isolation level the driver would never send", async () => {
    const response = await fetch(`http://${testEnv.PG_HTTP}/sql`, {
      method: "POST",
      headers: {
        "Neon-Connection-String": testEnv.DATABASE_URL,
        "Neon-Raw-Text-Output": "true",
        "Neon-Array-Mode": "true",
        "Neon-Batch-Isolation-Level": "Chaos",
      },
      body: JSON.stringify({ queries: [{ query: "select 1", params: [] }] }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ message: "invalid isolation level", code: null });
  });

  it("cancels the statement of a client that went away", async () => {
    const app = `soh-abort-${unique()}`;
    const db = neon(urlWithApp(app));
    const controller = new AbortController();
    const sleeping = rejectionOf(db.query("select pg_sleep(30)", [], { fetchOptions: { signal: controller.signal } }));
    const active = () =>
      sql().query(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 and query like '%pg_sleep%' and state = 'active'",
        [app],
      );
    for (let i = 0; i < 50 && (await active())[0]?.n !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await active()).toEqual([{ n: 1 }]);
    controller.abort();
    await sleeping;
    let left = 1;
    for (let i = 0; i < 50 && left > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = ((await active())[0] as { n: number }).n;
    }
    expect(left).toBe(0);
  });
});

describe("SQL over HTTP: injected outages (support server, /sql-over-http/faults)", () => {
  async function injectFault(fault: Record<string, unknown>): Promise<number> {
    const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/sql-over-http/faults`, {
      method: "POST",
      body: JSON.stringify(fault),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: number }).id;
  }

  async function faultState(id: number): Promise<{ fired: boolean; cut: number }> {
    return (await (await fetch(`${testEnv.TEST_SUPPORT_URL}/sql-over-http/faults/${id}`)).json()) as {
      fired: boolean;
      cut: number;
    };
  }

  it("fails the scope's requests as an unreachable database for the window, and only them", async () => {
    const scope = `soh-outage-${unique()}`;
    const id = await injectFault({ trigger: [scope, "first"], skip: 1, scope, outageMs: 1500 });
    const db = sql();
    // The first matching request is skipped; the second one triggers the outage.
    expect(await db`select ${scope}::text as s, 'first' as k`).toEqual([{ s: scope, k: "first" }]);
    expect(await faultState(id)).toEqual({ fired: false, cut: 0 });
    const triggered = await rejectionOf(db`select ${scope}::text as s, 'first' as k`);
    expect(triggered.message).toMatch(/HTTP status 500.*could not connect to the database/);
    expect(isConnectionError(triggered)).toBe(true);

    // During the window: the scope's requests fail (batches too), everyone else's pass.
    expect(isConnectionError(await rejectionOf(db.transaction([db`select 1`, db`select ${scope}::text`])))).toBe(true);
    expect(await db`select 'unrelated' as s`).toEqual([{ s: "unrelated" }]);
    expect(await faultState(id)).toEqual({ fired: true, cut: 2 });

    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect(await db`select ${scope}::text as s`).toEqual([{ s: scope }]);
    expect((await faultState(id)).cut).toBe(2);
  });

  it("at: 'answer' commits the batch and loses its answer, so the caller cannot know", async () => {
    const table = `soh_lost_${unique()}`;
    await withTable(table, async () => {
      const id = await injectFault({ trigger: [table, "lost"], scope: table, outageMs: 0, at: "answer" });
      const db = sql();
      const error = await rejectionOf(
        db.transaction([db.query(`insert into ${table} (id, label) values (1, 'lost')`), db`select 1`]),
      );
      expect(isConnectionError(error)).toBe(true);
      expect(await faultState(id)).toEqual({ fired: true, cut: 1 });
      expect(await db.query(`select label from ${table}`)).toEqual([{ label: "lost" }]);
    });
  });
});
