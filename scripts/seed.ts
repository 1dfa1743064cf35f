/**
 * `npm run seed` (development only): the department "Engineering" and one account per role, all
 * with the password `Passw0rd!Seed`. Safe to run again: every row is upserted, so a second run
 * resets roles, department and passwords to these known values instead of failing.
 *
 * Targets $DATABASE_URL, or the database of the running `npm run dev` (.data/dev-state.json).
 * Refuses production and, unless SEED_ALLOW_REMOTE=1, any database that is not on this machine,
 * because it resets passwords.
 */
import pg from "pg";
import { hashPassword } from "../src/features/auth/password.ts";
import { devDatabaseUrl } from "./lib/dev-state.ts";

const SEED_PASSWORD = "Passw0rd!Seed";
const SEED_DEPARTMENT = "Engineering";
const SEED_USERS = [
  { email: "ceo@example.com", fullName: "Casey CEO", role: "ceo" },
  { email: "hr@example.com", fullName: "Harper HR", role: "hr" },
  { email: "manager@example.com", fullName: "Morgan Manager", role: "manager" },
  { email: "employee@example.com", fullName: "Emery Employee", role: "employee" },
  { email: "employee2@example.com", fullName: "Ellis Employee", role: "employee" },
] as const;

function refuseUnsafeTarget(url: string): void {
  if ([process.env.ENVIRONMENT, process.env.NODE_ENV].includes("production")) {
    throw new Error("Refusing to seed: this is a development tool and the environment says production.");
  }
  const host = new URL(url).hostname;
  const local = ["127.0.0.1", "localhost", "::1", "[::1]"].includes(host);
  if (!local && process.env.SEED_ALLOW_REMOTE !== "1") {
    throw new Error(
      `Refusing to seed ${host}: it resets passwords. Set SEED_ALLOW_REMOTE=1 if this is a dev database.`,
    );
  }
}

async function seed(client: pg.Client): Promise<void> {
  await client.query("begin");
  try {
    const department = await client.query<{ id: number }>(
      `insert into departments (name) values ($1)
       on conflict ((lower(name))) do update set name = excluded.name, updated_at = now()
       returning id`,
      [SEED_DEPARTMENT],
    );
    const departmentId = department.rows[0]?.id;
    if (departmentId === undefined) throw new Error("department upsert returned no row");

    for (const user of SEED_USERS) {
      const passwordHash = await hashPassword(SEED_PASSWORD);
      const result = await client.query<{ id: number; inserted: boolean }>(
        `insert into users (email, full_name, password_hash, role, department_id, is_active)
         values ($1, $2, $3, $4, $5, true)
         on conflict ((lower(email))) do update set
           full_name = excluded.full_name, password_hash = excluded.password_hash, role = excluded.role,
           department_id = excluded.department_id, is_active = true, updated_at = now()
         returning id, (xmax = 0) as inserted`,
        [user.email, user.fullName, passwordHash, user.role, departmentId],
      );
      const row = result.rows[0];
      console.log(`  ${row?.inserted ? "created" : "updated"} ${user.role.padEnd(8)} ${user.email} (id ${row?.id})`);
    }

    await client.query(
      `update departments set manager_id = (select id from users where lower(email) = $1), updated_at = now()
       where id = $2`,
      ["manager@example.com", departmentId],
    );
    await client.query("commit");
    console.log(`  department "${SEED_DEPARTMENT}" (id ${departmentId}) managed by manager@example.com`);
  } catch (error) {
    await client.query("rollback");
    throw error;
  }
}

async function main(): Promise<void> {
  const url = devDatabaseUrl();
  refuseUnsafeTarget(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    console.log(`Seeding ${new URL(url).host}${new URL(url).pathname}:`);
    await seed(client);
    console.log(`Done. Every account's password is ${SEED_PASSWORD}`);
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") {
      throw new Error("The tables do not exist yet: run `npm run db:migrate` (or `npm run dev`) first.");
    }
    throw error;
  } finally {
    await client.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
