/**
 * Delivery of one rendered email. With a MailChannels API key the mail goes out through
 * `mailchannels-sdk`. It is not sent, and never reported sent, when `MAIL_DISABLED` is "true" or,
 * in development, when there is no key: the row is then `skipped`, and in development it stays
 * readable in the local outbox (`GET /dev/outbox/`). Anywhere else a missing key is a failure the
 * queue retries (the API itself refuses to serve in that state).
 */
import { MailChannels } from "mailchannels-sdk";
import type { AppConfig } from "../../platform/config/config.ts";

export type EmailProvider = "mailchannels" | "outbox";

export interface OutgoingEmail {
  to: string;
  subject: string;
  body: string;
}

export type DeliveryResult =
  | { outcome: "sent"; provider: EmailProvider }
  | { outcome: "skipped"; provider: EmailProvider | null; reason: string }
  | { outcome: "failed"; provider: EmailProvider | null; error: string; retryable: boolean };

type MailConfig = Pick<
  AppConfig,
  "ENVIRONMENT" | "MAIL_DISABLED" | "MAILCHANNELS_API_KEY" | "MAILCHANNELS_BASE_URL" | "MAIL_FROM" | "MAIL_FROM_NAME"
>;

/**
 * Rejections that no retry can fix: the request itself is wrong (400, 413, 422) or the account
 * may not send it (403). Everything else (5xx, 429, 401 while a key is being rotated, network
 * errors) is worth another attempt.
 */
const PERMANENT_STATUSES = new Set([400, 403, 413, 422]);

export async function deliver(config: MailConfig, email: OutgoingEmail): Promise<DeliveryResult> {
  if (config.MAIL_DISABLED) {
    return { outcome: "skipped", provider: null, reason: 'Not sent: MAIL_DISABLED is "true".' };
  }
  if (!config.MAILCHANNELS_API_KEY) {
    if (config.ENVIRONMENT === "development") {
      return { outcome: "skipped", provider: "outbox", reason: "Not sent: development without MAILCHANNELS_API_KEY." };
    }
    return {
      outcome: "failed",
      provider: null,
      error: 'Not sent: MAILCHANNELS_API_KEY is not set (set it, or MAIL_DISABLED = "true").',
      retryable: true,
    };
  }

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
        outcome: "failed",
        provider: "mailchannels",
        error: status ? `MailChannels answered ${status}: ${error.message}` : error.message,
        retryable: status === null || !PERMANENT_STATUSES.has(status),
      };
    }
    // A 200 can still reject an individual personalization (e.g. a suppressed address).
    const rejected = data?.results?.find((result) => result.status !== "sent");
    if (rejected) {
      return {
        outcome: "failed",
        provider: "mailchannels",
        error: `MailChannels did not send the message: ${rejected.reason ?? rejected.status}`,
        retryable: false,
      };
    }
    return { outcome: "sent", provider: "mailchannels" };
  } catch (error) {
    return {
      outcome: "failed",
      provider: "mailchannels",
      error: error instanceof Error ? error.message : String(error),
      retryable: true,
    };
  }
}
