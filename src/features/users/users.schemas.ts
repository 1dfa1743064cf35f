import { z } from "@hono/zod-openapi";
import { ROLES } from "../../platform/db/schema.ts";
import { pageSchema } from "../../platform/http/pagination.ts";
import { UserSchema } from "./users.serializer.ts";

export const UserPageSchema = pageSchema(UserSchema, "UserPage");

export const UpdateUserSchema = z
  .object({
    role: z.enum(ROLES, { error: `must be one of: ${ROLES.join(", ")}` }).optional(),
    department: z
      .number({ error: "must be a department id or null" })
      .int("must be a department id or null")
      .positive("must be a department id or null")
      .max(2_147_483_647, "is out of range")
      .nullable()
      .optional()
      .openapi({ description: "Department id; null removes the user from their department." }),
  })
  .strict()
  .refine((body) => body.role !== undefined || body.department !== undefined, {
    message: "give at least one of role, department",
  })
  .openapi("UpdateUserRequest", { example: { role: "manager", department: 2 } });

export type UpdateUserInput = z.infer<typeof UpdateUserSchema>;
