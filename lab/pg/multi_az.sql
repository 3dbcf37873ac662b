-- cluster lab, flavor "multi-az": the RDS Multi-AZ DB cluster functions the wrappers call
-- (MultiAzClusterPgDialect / RdsPgDialect). Run by `cluster-lab.sh up` on the writer in every
-- database; replicated to the readers. `rds.extensions` (with rds_tools) comes from lab_rds.so.
CREATE SCHEMA IF NOT EXISTS rds_tools;
GRANT USAGE ON SCHEMA rds_tools TO PUBLIC;

-- One function with a default argument, so that show_topology(), show_topology('client-info') and
-- 'rds_tools.show_topology'::regproc all work.
CREATE OR REPLACE FUNCTION rds_tools.show_topology(
    client_info text DEFAULT NULL, OUT id text, OUT endpoint text, OUT port integer)
    RETURNS SETOF record
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT i.instance_id, i.endpoint, i.port FROM lab.instances i ORDER BY i.node $$;

CREATE OR REPLACE FUNCTION rds_tools.dbi_resource_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT pg_catalog.current_setting('lab.instance_id') $$;

-- The writer's resource id, on every member (the JDBC wrapper filters out its own id).
CREATE OR REPLACE FUNCTION rds_tools.multi_az_db_cluster_source_dbi_resource_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT i.instance_id FROM lab.instances i WHERE i.is_writer ORDER BY i.node LIMIT 1 $$;
