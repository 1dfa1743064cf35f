/**
 * Delivery of one rendered email. With a MailChannels API key the mail goes out through
 * `mailchannels-sdk`; without one (development) it is "delivered" to the local outbox, which is
 * simply the `email_log` row itself, readable through `GET /dev/outbox/`.
 */
import { MailChannels } from "mailchannels-sdk";
import type { AppConfig } from "../config.ts";

export type EmailProvider = "mailchannels" | "outbox";

export interface OutgoingEmail {
  to: string;
  subject: string;
  body: string;
}

export type DeliveryResult =
  | { ok: true; provider: EmailProvider }
  | { ok: false; provider: EmailProvider; error: string; retryable: boolean };

type MailConfig = Pick<AppConfig, "MAILCHANNELS_API_KEY" | "MAILCHANNELS_BASE_URL" | "MAIL_FROM" | "MAIL_FROM_NAME">;

/**
 * Rejections that no retry can fix: the request itself is wrong (400, 413, 422) or the account
 * may not send it (403). Everything else (5xx, 429, 401 while a key is being rotated, network
 * errors) is worth another attempt.
 */
const PERMANENT_STATUSES = new Set([400, 403, 413, 422]);

export async function deliver(config: MailConfig, email: OutgoingEmail): Promise<DeliveryResult> {
  if (!config.MAILCHANNELS_API_KEY) return { ok: true, provider: "outbox" };

  const client = new MailChannels(config.MAILCHANNELS_API_KEY, { baseUrl: config.MAILCHANNELS_BASE_URL });
  try {
    const { error, data } = await client.emails.send({
      from: { email: config.MAIL_FROM, name: config.MAIL_FROM_NAME },
      to: { email: email.to },
      subject: email.subject,
      text: email.body,
    });
    if (error) {
      const status = error.statusCode;
      return {
        ok: false,
        provider: "mailchannels",
        error: status ? `MailChannels answered ${status}: ${error.message}` : error.message,
        retryable: status === null || !PERMANENT_STATUSES.has(status),
      };
    }
    // A 200 can still reject an individual personalization (e.g. a suppressed address).
    const rejected = data?.results?.find((result) => result.status !== "sent");
    if (rejected) {
      return {
        ok: false,
        provider: "mailchannels",
        error: `MailChannels did not send the message: ${rejected.reason ?? rejected.status}`,
        retryable: false,
      };
    }
    return { ok: true, provider: "mailchannels" };
  } catch (error) {
    return {
      ok: false,
      provider: "mailchannels",
      error: error instanceof Error ? error.message : String(error),
      retryable: true,
    };
  }
}
