/**
 * The vitest pool starts Miniflare on a random port and does not pass host/port options through,
 * yet presigned URLs must hit the runtime's real HTTP origin (`/cdn-cgi/local/r2/s3` is not
 * reachable through `exports.default.fetch`). So the config records the URL each Miniflare reports
 * when ready, and the test-support server hands it to tests.
 *
 * Test files run in more than one runtime at once, each with its own R2, KV and Durable Objects,
 * so a URL signed for another runtime's origin reaches storage that does not hold the test's
 * uploads. Each runtime gets an id of its own as a binding (`TEST_RUNTIME_ID`, made by the config
 * each time the pool starts a runtime); the origin is recorded under the id its runtime was given,
 * and a test asks for the origin of its own id.
 */
import { Miniflare } from "miniflare";

export const RUNTIME_ID_BINDING = "TEST_RUNTIME_ID";

const KEY = Symbol.for("edge-tasks-api.runtime-origins");
type Holder = { [KEY]?: Map<string, string> };

function origins(): Map<string, string> {
  const holder = globalThis as Holder;
  holder[KEY] ??= new Map();
  return holder[KEY];
}

export function captureRuntimeOrigin(): void {
  const prototype = Miniflare.prototype as unknown as { __originCaptured?: boolean };
  if (prototype.__originCaptured) return;
  const descriptor = Object.getOwnPropertyDescriptor(Miniflare.prototype, "ready");
  const getter = descriptor?.get;
  if (!getter) throw new Error("Miniflare.prototype.ready is not a getter; update test/node/runtime-origin.ts");
  // Reading a runtime's bindings waits for `ready` itself: those reads get the plain promise.
  const capturing = new WeakSet<Miniflare>();
  const captured = new WeakSet<Miniflare>();
  Object.defineProperty(Miniflare.prototype, "ready", {
    configurable: true,
    get(this: Miniflare) {
      const ready = getter.call(this) as Promise<URL>;
      if (capturing.has(this) || captured.has(this)) return ready;
      capturing.add(this);
      return ready
        .then(async (url) => {
          const id = (await this.getBindings())[RUNTIME_ID_BINDING];
          if (typeof id === "string") origins().set(id, url.origin);
          captured.add(this);
          return url;
        })
        .finally(() => capturing.delete(this));
    },
  });
  prototype.__originCaptured = true;
}

/** The origin of the runtime given `id`, once it is ready. */
export function runtimeOrigin(id: string): string | undefined {
  return origins().get(id);
}
