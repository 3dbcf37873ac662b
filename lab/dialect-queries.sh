#!/usr/bin/env bash
# Runs every dialect query of the reference wrappers (python-wrapper.md §4.2, plus the JDBC
# Multi-AZ writer query) against each running node of the cluster lab, as the app user, through
# the node's proxy, and checks the answers against the lab's current writer.
#
#   lab/dialect-queries.sh [-v]      exit 0 if every check passes; -v prints every answer
#
# Run it on a settled lab (after promote/rejoin, once the readers follow the new writer).
set -uo pipefail

LAB_SCRIPT=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../scripts/cluster-lab.sh
eval "$("$LAB_SCRIPT" env 2>/dev/null)"
[[ ${CLUSTER_LAB_UP:-0} == 1 ]] || { echo "dialect-queries: the lab is down" >&2; exit 2; }
VERBOSE=0
[[ ${1:-} == -v ]] && VERBOSE=1

PASS=0 FAIL=0
export PGPASSWORD=$CLUSTER_LAB_PASSWORD PGCONNECT_TIMEOUT=3

pgq() { # host sql -> rows (a|b), or "ERROR: ..." on failure
    local out
    if ! out=$(psql -X -q -At -h "$1" -p "$CLUSTER_LAB_PG_PORT" -U "$CLUSTER_LAB_USER" -d "$CLUSTER_LAB_DATABASE" \
        -v ON_ERROR_STOP=1 -c "$2" 2>&1); then
        if grep -q ERROR <<<"$out"; then
            out="ERROR: $(grep -m1 ERROR <<<"$out" | sed 's/^.*ERROR: *//')"
        else
            out="ERROR: $(head -n1 <<<"$out")"
        fi
    fi
    printf '%s' "$out"
}
myq() { # host sql -> tab separated rows
    local out
    if ! out=$(mariadb --no-defaults -h "$1" -P "$CLUSTER_LAB_MY_PORT" -u "$CLUSTER_LAB_USER" -p"$CLUSTER_LAB_PASSWORD" \
        -D "$CLUSTER_LAB_DATABASE" -N -B --connect-timeout=3 -e "$2" 2>&1); then
        out="ERROR: $out"
    fi
    printf '%s' "$out"
}

# check NAME ACTUAL EXPECTED (exact) / check_re NAME ACTUAL REGEX
check() {
    if [[ $2 == "$3" ]]; then
        PASS=$((PASS + 1))
        ((VERBOSE)) && printf '  ok   %-44s %s\n' "$1" "${2//$'\n'/ ; }"
    else
        FAIL=$((FAIL + 1))
        printf '  FAIL %-44s got [%s] want [%s]\n' "$1" "${2//$'\n'/ ; }" "${3//$'\n'/ ; }"
    fi
    return 0
}
check_re() {
    if [[ $2 =~ $3 ]]; then
        PASS=$((PASS + 1))
        ((VERBOSE)) && printf '  ok   %-44s %s\n' "$1" "${2//$'\n'/ ; }"
    else
        FAIL=$((FAIL + 1))
        printf '  FAIL %-44s got [%s] want /%s/\n' "$1" "${2//$'\n'/ ; }" "$3"
    fi
    return 0
}

var() { local v=$1; printf '%s' "${!v}"; }

# ------------------------------------------------------------------ PostgreSQL
if [[ " $CLUSTER_LAB_ENGINES " == *" pg "* ]]; then
    W=$CLUSTER_LAB_PG_WRITER
    WID=$(var "CLUSTER_LAB_PG_${W##*-}_ID")
    for n in $CLUSTER_LAB_PG_NODES; do
        h=$(var "CLUSTER_LAB_PG_${n##*-}_HOST")
        id=$(var "CLUSTER_LAB_PG_${n##*-}_ID")
        [[ $n == "$W" ]] && reader=f || reader=t
        echo "PostgreSQL $n ($h:$CLUSTER_LAB_PG_PORT, $([[ $reader == f ]] && echo writer || echo reader), flavor $CLUSTER_LAB_FLAVOR)"
        up=$(pgq "$h" "SELECT 1")
        [[ $up == 1 ]] || { echo "  skipped: $up"; continue; }
        check "pg: is_dialect (pg_proc)" "$(pgq "$h" "SELECT 1 FROM pg_catalog.pg_proc LIMIT 1")" 1
        check "pg: is_reader_query" "$(pgq "$h" "SELECT pg_catalog.pg_is_in_recovery()")" "$reader"
        check_re "pg: host_id_query" "$(pgq "$h" "SELECT pg_catalog.inet_server_addr() AS host, pg_catalog.CONCAT(pg_catalog.inet_server_addr(), ':', pg_catalog.inet_server_port()) AS host_id")" "^$h\|$h:[0-9]+$"
        check_re "pg: version query" "$(pgq "$h" "SELECT 'version', pg_catalog.VERSION()")" '^version\|PostgreSQL 1'
        rdsext=$(pgq "$h" "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'")
        auroraext=$(pgq "$h" "SELECT (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'")
        check_re "global-aurora-pg: not global" "$(pgq "$h" "select 'pg_catalog.aurora_global_db_status'::regproc")" '^ERROR'
        if [[ $CLUSTER_LAB_FLAVOR == aurora ]]; then
            check "rds-pg: extensions (rds_tools|aurora)" "$rdsext" "t|t"
            check "aurora-pg: extensions (aurora_stat_utils)" "$auroraext" t
            check "aurora-pg: has topology" "$(pgq "$h" "SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1")" 1
            topo=$(pgq "$h" "SELECT SERVER_ID, CASE WHEN SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP FROM pg_catalog.aurora_replica_status() WHERE EXTRACT(EPOCH FROM(pg_catalog.NOW() OPERATOR(pg_catalog.-) LAST_UPDATE_TIMESTAMP)) OPERATOR(pg_catalog.<=) 300 OR SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' OR LAST_UPDATE_TIMESTAMP IS NULL")
            check "aurora-pg: topology rows" "$(wc -l <<<"$topo")" 3
            check "aurora-pg: topology writer" "$(awk -F'|' '$2 == "t" {print $1}' <<<"$topo")" "$WID"
            check_re "aurora-pg: topology row shape" "$(head -n1 <<<"$topo")" '^[^|]+\|[tf]\|[0-9.]+\|[0-9.]+\|[0-9]{4}-'
            check "aurora-pg: host_id_query" "$(pgq "$h" "SELECT pg_catalog.aurora_db_instance_identifier(), pg_catalog.aurora_db_instance_identifier()")" "$id|$id"
            check "aurora-pg: writer_id_query" "$(pgq "$h" "SELECT SERVER_ID FROM pg_catalog.aurora_replica_status() WHERE SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) pg_catalog.aurora_db_instance_identifier()")" \
                "$([[ $reader == f ]] && echo "$id")"
            check_re "multi-az-pg: not multi-az" "$(pgq "$h" "SELECT multi_az_db_cluster_source_dbi_resource_id FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()")" '^ERROR'
            check_re "aurora-pg: limitless absent" "$(pgq "$h" "SELECT router_endpoint, load FROM pg_catalog.aurora_limitless_router_endpoints()")" '^ERROR'
        else
            check "rds-pg: extensions (rds_tools|aurora)" "$rdsext" "t|f"
            check "aurora-pg: extensions (aurora_stat_utils)" "$auroraext" f
            check_re "aurora-pg: no aurora_replica_status" "$(pgq "$h" "SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1")" '^ERROR'
            check "multi-az-pg: is_dialect (source id)" "$(pgq "$h" "SELECT multi_az_db_cluster_source_dbi_resource_id FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()")" "$WID"
            check "rds-pg: show_topology exists" "$(pgq "$h" "SELECT 'rds_tools.show_topology'::regproc")" "rds_tools.show_topology"
            topo=$(pgq "$h" "SELECT id, endpoint, port FROM rds_tools.show_topology('aws_python_driver-1.0.0')")
            check "multi-az-pg: topology rows" "$(wc -l <<<"$topo")" 3
            check "multi-az-pg: topology has me" "$(grep -c "^$id|$n\.$CLUSTER_LAB_DOMAIN|$CLUSTER_LAB_PG_PORT\$" <<<"$topo")" 1
            check "multi-az-pg: host_id_query" "$(pgq "$h" "SELECT id, SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM rds_tools.show_topology() WHERE id OPERATOR(pg_catalog.=) rds_tools.dbi_resource_id()")" "$id|$n"
            check "multi-az-pg: writer id (JDBC, != self)" "$(pgq "$h" "SELECT multi_az_db_cluster_source_dbi_resource_id FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id() WHERE multi_az_db_cluster_source_dbi_resource_id OPERATOR(pg_catalog.!=) (SELECT dbi_resource_id FROM rds_tools.dbi_resource_id())")" \
                "$([[ $reader == t ]] && echo "$WID")"
        fi
    done
fi

# ------------------------------------------------------------------ MariaDB
if [[ " $CLUSTER_LAB_ENGINES " == *" my "* ]]; then
    W=$CLUSTER_LAB_MY_WRITER
    WID=$(var "CLUSTER_LAB_MY_${W##*-}_ID")
    for n in $CLUSTER_LAB_MY_NODES; do
        h=$(var "CLUSTER_LAB_MY_${n##*-}_HOST")
        id=$(var "CLUSTER_LAB_MY_${n##*-}_ID")
        [[ $n == "$W" ]] && ro=0 || ro=1
        echo "MariaDB $n ($h:$CLUSTER_LAB_MY_PORT, $([[ $ro == 0 ]] && echo writer || echo reader))"
        up=$(myq "$h" "SELECT 1")
        [[ $up == 1 ]] || { echo "  skipped: ${up%%$'\n'*}"; continue; }
        check_re "mysql: version_comment" "$(myq "$h" "SHOW VARIABLES LIKE 'version_comment'")" '^version_comment'
        check "rds-mysql: report_host" "$(myq "$h" "SHOW VARIABLES LIKE 'report_host'")" "report_host	$n.$CLUSTER_LAB_DOMAIN"
        check "aurora-mysql: no aurora_version" "$(myq "$h" "SHOW VARIABLES LIKE 'aurora_version'")" ""
        check "rds-mysql: rds_topology exists" "$(myq "$h" "SELECT 1 AS tmp FROM information_schema.tables WHERE table_schema = 'mysql' AND table_name = 'rds_topology'")" 1
        topo=$(myq "$h" "SELECT id, endpoint, port FROM mysql.rds_topology")
        check "multi-az-mysql: topology rows" "$(wc -l <<<"$topo")" 2
        check "multi-az-mysql: topology has me" "$(grep -c "^$id	$n\.$CLUSTER_LAB_DOMAIN	$CLUSTER_LAB_MY_PORT\$" <<<"$topo")" 1
        check "multi-az-mysql: host_id_query" "$(myq "$h" "SELECT id, SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id")" "$id	$n"
        check "multi-az-mysql: SELECT @@server_id" "$(myq "$h" "SELECT @@server_id")" "$id"
        check "multi-az-mysql: is_reader_query" "$(myq "$h" "SELECT @@read_only")" "$ro"
        check "mysql: host alias" "$(myq "$h" "SELECT CONCAT(@@hostname, ':', @@port)")" "$(hostname):$CLUSTER_LAB_MY_SERVER_PORT"
        rs=$(myq "$h" "SHOW REPLICA STATUS")
        if [[ $ro == 0 ]]; then
            check "multi-az-mysql: SHOW REPLICA STATUS" "$rs" ""
        else
            # Column 39 (0-based) is the source's server id.
            check "multi-az-mysql: REPLICA STATUS col 39" "$(awk -F'\t' '{print $40}' <<<"$rs")" "$WID"
        fi
    done
fi

echo "dialect-queries: $PASS passed, $FAIL failed"
((FAIL == 0))
