/**
 * One Durable Object per upload: the single writer of its live ingestion progress.
 * The full state machine and the WebSocket (Hibernation API) feed arrive with the ingestion
 * feature; the foundation needs the class bound and reachable.
 */
import { DurableObject } from "cloudflare:workers";

export class UploadProgress extends DurableObject<Env> {
  /** Liveness probe used by the health check. */
  async ping(): Promise<"pong"> {
    return "pong";
  }
}
