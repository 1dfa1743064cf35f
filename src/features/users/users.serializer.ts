/** The public shape of a user: what every endpoint that returns a user sends. */
import { z } from "@hono/zod-openapi";
import { ROLES } from "../../platform/db/schema.ts";

export const UserSchema = z
  .object({
    id: z.number().int().openapi({ example: 7 }),
    email: z.string().email().openapi({ example: "ada@example.com" }),
    full_name: z.string().openapi({ example: "Ada Lovelace" }),
    role: z.enum(ROLES),
    department: z.number().int().nullable().openapi({ description: "Department id, or null." }),
    is_active: z.boolean(),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("User");

export type UserResponse = z.infer<typeof UserSchema>;

export interface UserRow {
  id: number;
  email: string;
  fullName: string;
  role: (typeof ROLES)[number];
  departmentId: number | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export function toUserResponse(user: UserRow): UserResponse {
  return {
    id: user.id,
    email: user.email,
    full_name: user.fullName,
    role: user.role,
    department: user.departmentId,
    is_active: user.isActive,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}
