-- Pharos amphora agent state, version 2: what the log reducer keeps, in searchable form.
-- Written by the agent's records reader (amphora_agent/agent/logs/); read by GET /v1/logs.

-- Kept records are searched by path prefix, client address and method as well.
ALTER TABLE significant_records ADD COLUMN method TEXT NOT NULL DEFAULT '';
ALTER TABLE significant_records ADD COLUMN path TEXT NOT NULL DEFAULT '';
ALTER TABLE significant_records ADD COLUMN client_address TEXT NOT NULL DEFAULT '';
CREATE INDEX significant_records_listener ON significant_records (listener_id, at_unix_us);

-- traffic_aggregates (0001) summed per scope with fixed percentiles; it never held data and is
-- replaced by reduced_aggregates, whose mergeable histograms answer any percentile of any group.
DROP TABLE traffic_aggregates;
DELETE FROM retention WHERE table_name = 'traffic_aggregates';

-- One row per log reducer aggregate key (schema/transaction-record.md, "Aggregates"). A key the
-- reducer hands over again (a re-opened or spilled interval) is merged into its row: counts
-- and byte sums added, histograms merged bucket-wise.
CREATE TABLE reduced_aggregates (
  interval_start_us  INTEGER NOT NULL,
  interval_us        INTEGER NOT NULL CHECK (interval_us > 0),
  listener_id        TEXT    NOT NULL,
  pool_id            TEXT    NOT NULL DEFAULT '',
  member_id          TEXT    NOT NULL DEFAULT '',
  status_class       INTEGER NOT NULL CHECK (status_class BETWEEN 0 AND 5),  -- 0 other, 1..5 = Nxx
  method             TEXT    NOT NULL DEFAULT '',
  count              INTEGER NOT NULL,
  bytes_in           INTEGER NOT NULL,
  bytes_out          INTEGER NOT NULL,
  encoded            BLOB    NOT NULL,  -- the whole aggregate, aggregate_codec.h version 1
  PRIMARY KEY (interval_start_us, listener_id, pool_id, member_id, status_class, method)
);

INSERT INTO retention (table_name, max_age_seconds, max_rows) VALUES
  ('reduced_aggregates', 2 * 86400, 500000);
