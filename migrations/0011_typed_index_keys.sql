-- Written by the index build with indexes_ready_at. Uploads indexed before this migration keep
-- null: their B-trees hold jsonb scalars, and queries keep comparing those.
ALTER TABLE "csv_uploads" ADD COLUMN "index_keys" text;--> statement-breakpoint
ALTER TABLE "csv_uploads" ADD CONSTRAINT "csv_uploads_index_keys_check" CHECK (index_keys in ('typed', 'jsonb'));
