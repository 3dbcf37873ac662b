-- cluster lab, flavor "aurora": the Aurora PostgreSQL functions the wrappers call (AuroraPgDialect).
-- Run by `cluster-lab.sh up` on the writer in every database; replicated to the readers.
-- Detection also needs `rds.extensions` (with aurora_stat_utils) in pg_settings: lab_rds.so.
CREATE OR REPLACE FUNCTION pg_catalog.aurora_db_instance_identifier() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT pg_catalog.current_setting('lab.instance_id') $$;

CREATE OR REPLACE FUNCTION pg_catalog.aurora_replica_status(
    OUT server_id text, OUT session_id text, OUT cpu double precision,
    OUT replica_lag_in_msec double precision, OUT last_update_timestamp timestamp with time zone)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT i.instance_id,
               CASE WHEN i.is_writer THEN 'MASTER_SESSION_ID' ELSE i.session_id END,
               i.cpu,
               CASE WHEN i.is_writer THEN NULL ELSE COALESCE(i.replica_lag_in_msec, 0) END,
               COALESCE(i.last_update_timestamp, pg_catalog.now())
          FROM lab.instances i
         ORDER BY i.is_writer DESC, i.instance_id
    $$;
