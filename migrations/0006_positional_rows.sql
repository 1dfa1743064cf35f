-- Rows are stored as a JSON array of their values in the upload's column order (the keys are kept
-- once, in csv_uploads.columns), and an upload records when its query indexes are ready.
ALTER TABLE "csv_uploads" ADD COLUMN "indexes_ready_at" timestamp with time zone;
--> statement-breakpoint
-- The per-upload indexes cover the old `data -> 'key'` expressions and no longer match any query:
-- drop them. The index sweep rebuilds them, on positions, for uploads completed in the last week.
DO $$
DECLARE
  idx record;
BEGIN
  FOR idx IN
    SELECT schemaname, indexname FROM pg_indexes
    WHERE tablename LIKE 'csv\_rows\_%' AND indexname LIKE 'cr\_%'
  LOOP
    EXECUTE format('DROP INDEX IF EXISTS %I.%I', idx.schemaname, idx.indexname);
  END LOOP;
END
$$;
--> statement-breakpoint
-- Each stored object becomes the array of its values in column order; a missing key is null.
UPDATE "csv_rows" AS r
SET "data" = (
  SELECT coalesce(jsonb_agg(coalesce(r."data" -> (c.col ->> 'key'), 'null'::jsonb) ORDER BY c.ord), '[]'::jsonb)
  FROM "csv_uploads" AS u, jsonb_array_elements(u."columns") WITH ORDINALITY AS c(col, ord)
  WHERE u."id" = r."upload_id"
)
WHERE jsonb_typeof(r."data") = 'object';
