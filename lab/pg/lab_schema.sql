-- cluster lab: per-database metadata behind the emulated Aurora / RDS functions.
-- Created in template1 and postgres when the template datadir is built (so every database made
-- from template1 has it); filled by `cluster-lab.sh up` on the writer and replicated from there.
CREATE SCHEMA lab;
COMMENT ON SCHEMA lab IS 'cluster lab (scripts/cluster-lab.sh): emulated RDS / Aurora metadata';

-- One row per cluster member. `promote` sets is_writer on the new writer (and it replicates).
CREATE TABLE lab.instances (
    node                  text PRIMARY KEY,            -- lab node name: pg-1
    instance_id           text NOT NULL UNIQUE,        -- Aurora SERVER_ID / Multi-AZ DBI resource id
    endpoint              text NOT NULL,               -- instance endpoint (in the lab hosts file)
    port                  integer NOT NULL,            -- public (proxy) port
    is_writer             boolean NOT NULL DEFAULT false,
    session_id            text NOT NULL DEFAULT pg_catalog.gen_random_uuid()::text, -- readers' SESSION_ID
    cpu                   double precision NOT NULL DEFAULT 1.5,
    replica_lag_in_msec   double precision,            -- readers; NULL reads as 0
    last_update_timestamp timestamptz                  -- NULL reads as now() (a live instance)
);

-- What the lab did (promotions, ...); also the write that proves a new writer accepts writes.
CREATE TABLE lab.events (
    id   bigserial PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    what text NOT NULL
);

GRANT USAGE ON SCHEMA lab TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA lab TO PUBLIC;
