ALTER TABLE "csv_upload_chunks" ADD COLUMN "stats" jsonb;--> statement-breakpoint
ALTER TABLE "csv_uploads" ADD COLUMN "column_stats" jsonb;