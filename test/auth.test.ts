import { describe, expect, it } from "vitest";
import { api, createUser, json, loginAs, PASSWORD, uniqueEmail } from "./helpers.ts";

describe("auth", () => {
  it("registers, logs in, and returns the current user", async () => {
    const email = uniqueEmail();
    const registered = await api("/auth/user/register/", { json: { email, password: PASSWORD, full_name: "Ada" } });
    expect(registered.status).toBe(201);
    const user = await json(registered);
    expect(user).toMatchObject({ email, full_name: "Ada", role: "employee", department: null });
    expect(user).not.toHaveProperty("password_hash");

    const tokens = await loginAs(email.toUpperCase());
    const me = await api("/auth/user/me/", { token: tokens.access_token });
    expect(me.status).toBe(200);
    expect(await json(me)).toMatchObject({ id: user.id, email });
  });

  it("logout revokes both tokens at once", async () => {
    const user = await createUser();
    expect((await api("/auth/user/logout/", { method: "POST", token: user.token })).status).toBe(204);
    const me = await api("/auth/user/me/", { token: user.token });
    expect(me.status).toBe(401);
    expect((await json(me)).detail).toMatch(/revoked/);
    const refreshed = await api("/auth/token/refresh/", { json: { refresh_token: user.refreshToken } });
    expect(refreshed.status).toBe(401);
  });
});
