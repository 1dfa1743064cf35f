/**
 * Database outages for tests, shared by the two stand-ins the Worker reaches Postgres through
 * (the WebSocket relay and the SQL-over-HTTP endpoint). A fault is scoped to the traffic of one
 * object (an upload) so the rest of a parallel test suite keeps its database: the first `skip`
 * pieces of traffic containing every string of `trigger` pass; the next one fails, as if Postgres
 * went away at that statement; then for `outageMs` every piece mentioning `scope` fails the same
 * way (the object's work cannot reach the database, retries included).
 */
export interface Fault {
  trigger: string[];
  skip?: number;
  scope: string;
  outageMs: number;
}

export interface FaultState {
  fired: boolean;
  /** Pieces of traffic failed, the triggering one included. */
  cut: number;
}

interface Armed<F extends Fault> extends FaultState {
  fault: F;
  seen: number;
  until: number;
}

export class FaultInjector<F extends Fault> {
  private readonly faults = new Map<number, Armed<F>>();
  private nextId = 1;

  arm(fault: F): number {
    if (!Array.isArray(fault.trigger) || typeof fault.scope !== "string" || !(fault.outageMs >= 0))
      throw new Error("a fault needs trigger (string[]), scope (string) and outageMs (number)");
    const id = this.nextId++;
    this.faults.set(id, { fault, seen: 0, until: 0, fired: false, cut: 0 });
    return id;
  }

  state(id: number): FaultState | undefined {
    const armed = this.faults.get(id);
    return armed && { fired: armed.fired, cut: armed.cut };
  }

  /**
   * The fault that makes this piece of traffic fail, if any (`contains` tells whether the traffic
   * holds a string); `triggered` is true for the piece that set the outage off.
   */
  failing(contains: (text: string) => boolean): { fault: F; triggered: boolean } | undefined {
    if (this.faults.size === 0) return undefined;
    const now = Date.now();
    for (const armed of this.faults.values()) {
      if (armed.fired) {
        if (now < armed.until && contains(armed.fault.scope)) {
          armed.cut++;
          return { fault: armed.fault, triggered: false };
        }
        continue;
      }
      if (!armed.fault.trigger.every(contains)) continue;
      armed.seen++;
      if (armed.seen <= (armed.fault.skip ?? 0)) continue;
      armed.fired = true;
      armed.until = now + armed.fault.outageMs;
      armed.cut++;
      return { fault: armed.fault, triggered: true };
    }
    return undefined;
  }
}
