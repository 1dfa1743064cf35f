/**
 * The name of an upload's rows partition. Pure and free of Worker types, so the Node benchmarks
 * name partitions with the same function.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `csv_rows_<32 hex>`; the id is checked, so the name is safe to use as an identifier. */
export function partitionName(uploadId: string): string {
  if (!UUID.test(uploadId)) throw new Error("partitionName: not a UUID");
  return `csv_rows_${uploadId.replaceAll("-", "").toLowerCase()}`;
}
