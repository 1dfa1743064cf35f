/**
 * What a pure rule refused with, for the unit tests of the policies (plain Node: this module
 * imports nothing of workerd). A rule that allows the action fails the test.
 */
import { expect } from "vitest";
import { ApiError } from "../../src/platform/lib/errors.ts";

export function refusal(action: () => void): { status: number; detail: string } {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return { status: (error as ApiError).status, detail: (error as ApiError).detail };
  }
  throw new Error("the action was allowed");
}
