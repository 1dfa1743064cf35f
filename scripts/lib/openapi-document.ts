/**
 * The OpenAPI document the app serves at /api/v1/openapi.json, built in Node from the app's own
 * route definitions (its `openApiDocument`), so what the lint checks and the typed client is
 * generated from is exactly what is served.
 *
 * Building the document needs no binding or request, only the route definitions. The one module
 * Node cannot load is `cloudflare:workers` (imported by the Durable Object classes for their base
 * class); a stand-in base class is enough, since no object is ever constructed.
 */
import { registerHooks } from "node:module";

const WORKERS_STAND_IN = "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }";

/** The origin written into the document's `servers`: the local dev server's. */
export const DOCUMENT_ORIGIN = "http://localhost:8787";

interface AppModule {
  createApp: () => unknown;
  openApiDocument: (app: unknown, origin: string) => unknown;
}

let hooked = false;

export async function buildOpenApiDocument(origin = DOCUMENT_ORIGIN): Promise<Record<string, unknown>> {
  if (!hooked) {
    hooked = true;
    registerHooks({
      resolve(specifier, context, nextResolve) {
        if (specifier === "cloudflare:workers") {
          return { url: `data:text/javascript,${encodeURIComponent(WORKERS_STAND_IN)}`, shortCircuit: true };
        }
        return nextResolve(specifier, context);
      },
    });
  }
  // A computed specifier keeps the Worker's sources out of this Node-typed script's type check.
  const appModule: AppModule = await import(new URL("../../src/app.ts", import.meta.url).href);
  return appModule.openApiDocument(appModule.createApp(), origin) as Record<string, unknown>;
}
