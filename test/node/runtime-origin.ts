/**
 * The vitest pool starts Miniflare on a random port and does not pass host/port options through,
 * yet presigned URLs must hit the runtime's real HTTP origin (`/cdn-cgi/local/r2/s3` is not
 * reachable through `exports.default.fetch`). So the config records the URL Miniflare reports
 * when ready, and the test-support server hands it to tests.
 */
import { Miniflare } from "miniflare";

const KEY = Symbol.for("edge-tasks-api.runtime-origin");
type Holder = { [KEY]?: string };

export function captureRuntimeOrigin(): void {
  const prototype = Miniflare.prototype as unknown as { __originCaptured?: boolean };
  if (prototype.__originCaptured) return;
  const descriptor = Object.getOwnPropertyDescriptor(Miniflare.prototype, "ready");
  const getter = descriptor?.get;
  if (!getter) throw new Error("Miniflare.prototype.ready is not a getter; update test/node/runtime-origin.ts");
  Object.defineProperty(Miniflare.prototype, "ready", {
    configurable: true,
    get(this: Miniflare) {
      const ready = getter.call(this) as Promise<URL>;
      return ready.then((url) => {
        (globalThis as Holder)[KEY] = url.origin;
        return url;
      });
    },
  });
  prototype.__originCaptured = true;
}

export function runtimeOrigin(): string | undefined {
  return (globalThis as Holder)[KEY];
}
