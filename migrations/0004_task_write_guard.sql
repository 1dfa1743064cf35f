-- The re-check that opens every task and comment write batch (src/tasks/write-batch.ts). Over
-- Neon's HTTP API a write is two round trips: read the facts, then one non-interactive batch.
-- The batch's first statement locks the task row and calls this function with "is the row still
-- the version the facts were read from?"; when it is not, the function raises SQLSTATE ET409
-- (not a standard code, so it cannot be confused with anything else Postgres reports), the whole
-- batch rolls back, and the service reads the facts again.
CREATE OR REPLACE FUNCTION edge_assert(condition boolean, message text) RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
  IF condition IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = 'ET409', MESSAGE = message;
  END IF;
  RETURN true;
END
$$;
