import { z } from "@hono/zod-openapi";
import { pageSchema } from "../../platform/http/pagination.ts";

export const DepartmentSchema = z
  .object({
    id: z.number().int().openapi({ example: 2 }),
    name: z.string().openapi({ example: "Engineering" }),
    manager: z.number().int().nullable().openapi({ description: "The manager's user id, or null." }),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Department");

export type DepartmentResponse = z.infer<typeof DepartmentSchema>;

export const DepartmentPageSchema = pageSchema(DepartmentSchema, "DepartmentPage");

const name = z.string().trim().min(1, "is required").max(100, "must be at most 100 characters");
const manager = z
  .number({ error: "must be a user id or null" })
  .int("must be a user id or null")
  .positive("must be a user id or null")
  .max(2_147_483_647, "is out of range")
  .nullable()
  .openapi({ description: "User id of the department's manager, or null." });

export const CreateDepartmentSchema = z
  .object({ name, manager: manager.optional() })
  .strict()
  .openapi("CreateDepartmentRequest", { example: { name: "Engineering", manager: 3 } });

export const UpdateDepartmentSchema = z
  .object({ name: name.optional(), manager: manager.optional() })
  .strict()
  .refine((body) => body.name !== undefined || body.manager !== undefined, {
    message: "give at least one of name, manager",
  })
  .openapi("UpdateDepartmentRequest", { example: { manager: null } });

export type CreateDepartmentInput = z.infer<typeof CreateDepartmentSchema>;
export type UpdateDepartmentInput = z.infer<typeof UpdateDepartmentSchema>;
