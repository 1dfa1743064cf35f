-- Trigram matching for row search and `contains` filters (per-upload GIN indexes on data::text).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
