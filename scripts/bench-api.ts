/**
 * `npm run bench:api [-- --api http://localhost:8787 --tasks 200 --duration 10 --rate 8]`
 *
 * Measures the task list read path against a running API (`npm run dev`): registers and logs in a
 * fresh user, creates `--tasks` tasks, then runs autocannon twice for `--duration` seconds on
 * `GET /api/v1/tasks/`: once served from the KV cache (HIT) and once with `nocache=1` (BYPASS:
 * Postgres every time). Prints p50/p95/p99 latency of each.
 *
 * Requests are paced (`--rate` per second, default 8) because the API limits each user to 600
 * requests per 60 s; a faster run would measure 429s instead of the read path.
 */
import { createRequire } from "node:module";

/** The slice of autocannon's API used here (the package ships no types, and @types is not installed). */
interface AutocannonInstance extends PromiseLike<unknown> {
  on(
    event: "response",
    listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void,
  ): void;
}
type Autocannon = (options: {
  url: string;
  headers: Record<string, string>;
  connections: number;
  overallRate: number;
  duration: number;
}) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

interface Options {
  api: string;
  tasks: number;
  duration: number;
  rate: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { api: "http://localhost:8787", tasks: 200, duration: 10, rate: 8 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, "");
    const value = argv[i + 1];
    if (!name || value === undefined) throw new Error(`missing value for ${argv[i]}`);
    if (name === "api") options.api = value.replace(/\/$/, "");
    else if (name === "tasks" || name === "duration" || name === "rate") options[name] = Number(value);
    else throw new Error(`unknown option --${name}`);
  }
  return options;
}

async function call(api: string, path: string, init: { method?: string; token?: string; json?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${api}/api/v1${path}`, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? "POST"} ${path}: ${response.status} ${text}`);
  return { response, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function setup(options: Options): Promise<string> {
  const email = `bench-${Date.now().toString(36)}@example.com`;
  const password = `Qz7-${crypto.randomUUID()}`;
  await call(options.api, "/auth/user/register/", { json: { email, password, full_name: "Bench" } });
  const { body } = await call(options.api, "/auth/user/login/", { json: { email, password } });
  const token = String(body.access_token);
  const priorities = ["low", "medium", "high", "critical"];
  let next = 0;
  const worker = async () => {
    while (next < options.tasks) {
      const i = next++;
      await call(options.api, "/tasks/", {
        token,
        json: { title: `Bench task ${i}`, description: "load test", priority: priorities[i % 4] },
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return token;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** autocannon reports p97.5 but not p95, so every response time is kept and ranked here. */
async function measure(options: Options, token: string, title: string, path: string): Promise<void> {
  const times: number[] = [];
  const statuses = new Map<number, number>();
  const instance = autocannon({
    url: `${options.api}/api/v1${path}`,
    headers: { Authorization: `Bearer ${token}` },
    connections: 1,
    overallRate: options.rate,
    duration: options.duration,
  });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    if (statusCode === 200) times.push(responseTime);
  });
  await instance;
  times.sort((a, b) => a - b);
  const codes = [...statuses].map(([code, n]) => `${code}×${n}`).join(" ");
  console.log(
    `${title.padEnd(28)} p50 ${percentile(times, 50).toFixed(1)} ms  p95 ${percentile(times, 95).toFixed(1)} ms  max ${(times.at(-1) ?? Number.NaN).toFixed(1)} ms  (${codes})`,
  );
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  console.log(`API ${options.api}: creating ${options.tasks} tasks...`);
  const started = Date.now();
  const token = await setup(options);
  console.log(`created in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const warm = await call(options.api, "/tasks/", { token });
  await call(options.api, "/tasks/", { token });
  console.log(
    `list count ${String(warm.body.count)}; second read X-Cache: ${(await call(options.api, "/tasks/", { token })).response.headers.get("X-Cache")}`,
  );

  await measure(options, token, "cached list (X-Cache HIT)", "/tasks/");
  await measure(options, token, "uncached list (nocache=1)", "/tasks/?nocache=1");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
