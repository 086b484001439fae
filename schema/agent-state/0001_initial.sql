-- Pharos amphora agent state, version 1. Applied once, inside one transaction, by
-- amphora_agent/state/migrations.cc; PRAGMA user_version records the last applied file.
-- Migrations are forward-only: never edit a released file, add 0002_*.sql instead.

-- Every engine config the agent accepted, newest last. The agent keeps the last
-- `config_history` rows (retention below); the newest row is what a restarted agent re-applies.
CREATE TABLE config_versions (
  version      INTEGER PRIMARY KEY CHECK (version >= 1),
  document     TEXT    NOT NULL,            -- the engine config JSON exactly as applied
  sha256       TEXT    NOT NULL,            -- hex digest of document, to recognise retries
  accepted_at  INTEGER NOT NULL             -- unix seconds
);

-- Small scalar facts: the heartbeat sequence, counters kept across restarts.
CREATE TABLE agent_meta (
  key    TEXT PRIMARY KEY,
  value  INTEGER NOT NULL
);
INSERT INTO agent_meta (key, value) VALUES ('heartbeat_seq', 0);

-- Metadata of the PEM bundles stored under <state_dir>/certs/<id>.pem (the PEM is not here).
CREATE TABLE certificates (
  id          TEXT    PRIMARY KEY,
  sha256      TEXT    NOT NULL,             -- hex digest of the stored file
  subject     TEXT    NOT NULL,             -- of the first certificate in the bundle
  not_after   INTEGER NOT NULL,             -- unix seconds, of the first certificate
  has_key     INTEGER NOT NULL CHECK (has_key IN (0, 1)),
  size_bytes  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- Last known operating status of each member, as the engine and health checks report it.
CREATE TABLE member_health (
  member_id         TEXT    PRIMARY KEY,
  operating_status  TEXT    NOT NULL
      CHECK (operating_status IN ('ONLINE', 'OFFLINE', 'DEGRADED', 'ERROR', 'DRAINING', 'NO_MONITOR')),
  changed_at        INTEGER NOT NULL,       -- unix seconds when the status last changed
  updated_at        INTEGER NOT NULL        -- unix seconds when it was last reported
);

-- Transactions the log reducer kept whole because they matter (errors, timeouts, outliers).
CREATE TABLE significant_records (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  at_unix_us   INTEGER NOT NULL,
  listener_id  TEXT    NOT NULL,
  pool_id      TEXT    NOT NULL DEFAULT '',
  member_id    TEXT    NOT NULL DEFAULT '',
  reason       TEXT    NOT NULL,            -- why it was kept, e.g. 'member_timeout', 'slow'
  status       INTEGER NOT NULL DEFAULT 0,  -- HTTP status; 0 for TCP
  total_us     INTEGER NOT NULL DEFAULT 0,
  record       TEXT    NOT NULL             -- the whole record as JSON
);
CREATE INDEX significant_records_at ON significant_records (at_unix_us);

-- What the reducer keeps of everything else: per-window aggregates per listener/pool/member.
CREATE TABLE traffic_aggregates (
  window_start    INTEGER NOT NULL,         -- unix seconds
  window_seconds  INTEGER NOT NULL CHECK (window_seconds > 0),
  scope           TEXT    NOT NULL CHECK (scope IN ('listener', 'pool', 'member')),
  scope_id        TEXT    NOT NULL,
  requests        INTEGER NOT NULL DEFAULT 0,
  errors          INTEGER NOT NULL DEFAULT 0,
  bytes_in        INTEGER NOT NULL DEFAULT 0,
  bytes_out       INTEGER NOT NULL DEFAULT 0,
  p50_us          INTEGER NOT NULL DEFAULT 0,
  p95_us          INTEGER NOT NULL DEFAULT 0,
  p99_us          INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, scope_id, window_start)
);
CREATE INDEX traffic_aggregates_start ON traffic_aggregates (window_start);

-- How much history each table keeps; enforced by StateStore::enforce_retention().
CREATE TABLE retention (
  table_name       TEXT    PRIMARY KEY,
  max_age_seconds  INTEGER NOT NULL,        -- 0: no age limit
  max_rows         INTEGER NOT NULL         -- 0: no row limit
);
INSERT INTO retention (table_name, max_age_seconds, max_rows) VALUES
  ('config_versions', 0, 10),
  ('significant_records', 7 * 86400, 100000),
  ('traffic_aggregates', 2 * 86400, 500000);
