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
import { Command } from "commander";
import { type ApiClient, login, ok, scriptClient } from "./lib/api.ts";
import { percentile, wholeNumber } from "./lib/bench-stats.ts";

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

const program = new Command()
  .name("npm run bench:api --")
  .description("Latency of the task list, served from the KV cache and from Postgres, against a running API.")
  .option("--api <url>", "the API origin", "http://localhost:8787")
  .option("--tasks <n>", "tasks created before measuring", wholeNumber(1), 200)
  .option("--duration <s>", "seconds each measurement runs", wholeNumber(1), 10)
  .option("--rate <n>", "requests per second (the per-user limit is 600 per 60 s)", wholeNumber(1), 8)
  .showHelpAfterError();

async function setup(options: Options): Promise<{ client: ApiClient; token: string }> {
  const email = `bench-${Date.now().toString(36)}@example.com`;
  const password = `Qz7-${crypto.randomUUID()}`;
  const log = { onRateLimited: (s: number) => console.log(`  rate limited, waiting ${s} s`) };
  await ok(
    scriptClient(options.api, undefined, log).POST("/api/v1/auth/user/register/", {
      body: { email, password, full_name: "Bench" },
    }),
  );
  const { token } = await login(options.api, email, password, log);
  const client = scriptClient(options.api, token, log);
  const priorities = ["low", "medium", "high", "critical"] as const;
  let next = 0;
  const worker = async () => {
    while (next < options.tasks) {
      const i = next++;
      await ok(
        client.POST("/api/v1/tasks/", {
          body: { title: `Bench task ${i}`, description: "load test", priority: priorities[i % 4] },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { client, token };
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
  const parsed = program.parse().opts<Options>();
  const options = { ...parsed, api: parsed.api.replace(/\/+$/, "") };
  console.log(`API ${options.api}: creating ${options.tasks} tasks...`);
  const started = Date.now();
  const { client, token } = await setup(options);
  console.log(`created in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const list = () => client.GET("/api/v1/tasks/");
  const warm = await ok(list());
  await ok(list());
  const third = await list();
  console.log(`list count ${warm.count}; second read X-Cache: ${third.response.headers.get("X-Cache")}`);

  await measure(options, token, "cached list (X-Cache HIT)", "/tasks/");
  await measure(options, token, "uncached list (nocache=1)", "/tasks/?nocache=1");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
