-- Uploads created before this migration were indexed on jsonb scalars, and their queries must keep
-- comparing jsonb to use those indexes: they get 'jsonb'. Uploads created from now on get 'typed'.
ALTER TABLE "csv_uploads" ADD COLUMN "index_keys" text DEFAULT 'jsonb' NOT NULL;--> statement-breakpoint
ALTER TABLE "csv_uploads" ALTER COLUMN "index_keys" SET DEFAULT 'typed';--> statement-breakpoint
ALTER TABLE "csv_uploads" ADD CONSTRAINT "csv_uploads_index_keys_check" CHECK (index_keys in ('typed', 'jsonb'));
