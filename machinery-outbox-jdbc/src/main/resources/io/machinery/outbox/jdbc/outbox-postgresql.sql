-- The outbox table of machinery-outbox-jdbc (TaskOutbox writes it, OutboxRelay reads and deletes it).
-- Run it as it is (psql -f), or let TaskOutbox.createTable do it under another table name.
-- Tested on PostgreSQL 15. Rows of one sender are published in seq order; seq comes from the identity column.
-- attempts and next_attempt_at hold a failing sender's back-off, in its first row, so every relay honours it.
CREATE TABLE IF NOT EXISTS machinery_outbox (
  seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sender_id       VARCHAR(255) NOT NULL,
  kind            VARCHAR(16)  NOT NULL,
  task_uuid       VARCHAR(255) NOT NULL,
  task_name       TEXT         NOT NULL,
  message         TEXT         NOT NULL,
  created_at      TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  attempts        INTEGER      NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMP WITH TIME ZONE
);
-- A table created by an earlier version gains the back-off columns (PostgreSQL 11+: no table rewrite).
ALTER TABLE machinery_outbox ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE machinery_outbox ADD COLUMN IF NOT EXISTS next_attempt_at TIMESTAMP WITH TIME ZONE;
CREATE INDEX IF NOT EXISTS machinery_outbox_sender_seq ON machinery_outbox (sender_id, seq);
-- The failing senders' tokens, for a relay's claim of those that are due (a few rows: only tokens have it).
CREATE INDEX IF NOT EXISTS machinery_outbox_next_attempt ON machinery_outbox (next_attempt_at, seq) WHERE next_attempt_at IS NOT NULL;
