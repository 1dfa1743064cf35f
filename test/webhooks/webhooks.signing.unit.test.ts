/**
 * The product's Standard Webhooks signing (WebCrypto) against the specification's reference
 * implementation, the `standardwebhooks` package: the same signature for the same message, and
 * one that the package's verifier accepts with the right secret only.
 */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newWebhookSecret, signWebhook, webhookHeaders } from "../../src/features/webhooks/signing.ts";
import { fromBase64 } from "../../src/platform/lib/base64.ts";

describe("webhook signing", () => {
  it("a secret is whsec_ and base64 of 32 random bytes, never the same twice", () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(fromBase64(secret.slice("whsec_".length))).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it("signs as the reference implementation does", async () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: "ping", timestamp: "2026-01-01T00:00:00.000Z", data: { é: "ü" } });
    const at = 1_767_225_600;
    const expected = new Webhook(secret).sign("msg_42", new Date(at * 1000), body);
    expect(await signWebhook(secret, "msg_42", at, body)).toBe(expected);
  });

  it("matches the specification's published example", async () => {
    // The example of the Standard Webhooks specification: this secret, id, timestamp and body.
    const signature = await signWebhook(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("the headers verify with the right secret and not with another", async () => {
    const secret = newWebhookSecret();
    const body = '{"type":"task.created","timestamp":"2026-01-01T00:00:00.000Z","data":{}}';
    const headers = await webhookHeaders(secret, "msg_7", Math.floor(Date.now() / 1000), body);
    expect(headers["content-type"]).toBe("application/json");
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});
