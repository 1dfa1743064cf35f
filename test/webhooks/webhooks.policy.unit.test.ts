/** The webhook URL policy and the role rule, as pure functions, for production and development. */
import { describe, expect, it } from "vitest";
import { canManageWebhooks, webhookUrlProblem } from "../../src/features/webhooks/webhooks.policy.ts";

describe("who manages webhooks", () => {
  it("CEO and HR only", () => {
    expect(canManageWebhooks({ role: "ceo" })).toBe(true);
    expect(canManageWebhooks({ role: "hr" })).toBe(true);
    expect(canManageWebhooks({ role: "manager" })).toBe(false);
    expect(canManageWebhooks({ role: "employee" })).toBe(false);
  });
});

describe.each([
  [
    "production" as const,
    {
      accepted: [
        "https://hooks.example.com/edge",
        "https://hooks.example.com:8443/edge?x=1",
        "https://8.8.8.8/hook",
        "https://172.32.0.1/",
        "https://100.128.0.1/",
        "https://100.63.255.255/",
        "https://223.255.255.255/",
        "https://[2001:4860:4860::8888]/hook",
        "https://[::ffff:8.8.8.8]/",
        "https://localhost.example.com/",
      ],
      refused: [
        ["http://hooks.example.com/edge", "must use https"],
        ["ftp://hooks.example.com/", "must use https (not ftp)"],
        ["not a url", "must be an absolute URL such as https://example.com/webhooks"],
        ["https://user:pw@hooks.example.com/", "must not contain a user name or password"],
        ["https://localhost/", "must not point at localhost"],
        ["https://LOCALHOST./", "must not point at localhost"],
        ["https://api.localhost/", "must not point at localhost"],
        ["https://127.0.0.1/", "must not point at a loopback address (127.0.0.1)"],
        ["https://2130706433/", "must not point at a loopback address (127.0.0.1)"],
        ["https://0x7f.1/", "must not point at a loopback address (127.0.0.1)"],
        ["https://10.1.2.3/", "must not point at a private address (10.1.2.3)"],
        ["https://172.16.0.1/", "must not point at a private address (172.16.0.1)"],
        ["https://172.31.255.255/", "must not point at a private address (172.31.255.255)"],
        ["https://192.168.1.1/", "must not point at a private address (192.168.1.1)"],
        ["https://169.254.169.254/latest", "must not point at a link-local address (169.254.169.254)"],
        ["https://100.64.0.1/", "must not point at a carrier-grade NAT address (100.64.0.1)"],
        ["https://100.127.255.255/", "must not point at a carrier-grade NAT address (100.127.255.255)"],
        ["https://224.0.0.1/", "must not point at a multicast or reserved address (224.0.0.1)"],
        ["https://255.255.255.255/", "must not point at a multicast or reserved address (255.255.255.255)"],
        ["https://0.0.0.0/", "must not point at an unspecified address (0.0.0.0)"],
        ["https://[::1]/", "must not point at a loopback address (::1)"],
        ["https://[::]/", "must not point at an unspecified address (::)"],
        ["https://[fd00::1]/", "must not point at a unique-local address (fd00::1)"],
        ["https://[fc00::1]/", "must not point at a unique-local address (fc00::1)"],
        ["https://[fe80::1]/", "must not point at a link-local address (fe80::1)"],
        ["https://[ff02::1]/", "must not point at a multicast address (ff02::1)"],
        ["https://[::ffff:127.0.0.1]/", "must not point at a loopback address (::ffff:7f00:1)"],
        ["https://[::ffff:10.0.0.1]/", "must not point at a private address (::ffff:a00:1)"],
      ],
    },
  ],
  [
    "development" as const,
    {
      accepted: [
        "http://localhost:8787/hook",
        "http://127.0.0.1:9000/hook",
        "http://127.1.2.3/",
        "http://[::1]:9000/",
        "http://receiver.localhost/",
        "https://hooks.example.com/",
        "https://10.0.0.5/",
      ],
      refused: [
        [
          "http://hooks.example.com/",
          "must use https; plain http is allowed only to localhost or a loopback address in development",
        ],
        [
          "http://10.0.0.5/",
          "must use https; plain http is allowed only to localhost or a loopback address in development",
        ],
        ["ftp://localhost/", "must use https (not ftp)"],
        ["javascript:alert(1)", "must use https (not javascript)"],
      ],
    },
  ],
])("webhook URLs in %s", (environment, { accepted, refused }) => {
  it.each(accepted)("accepts %s", (url) => {
    expect(webhookUrlProblem(url, environment)).toBeNull();
  });

  it.each(refused)("refuses %s", (url, sentence) => {
    expect(webhookUrlProblem(url, environment)).toBe(sentence);
  });
});
