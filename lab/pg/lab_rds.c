/*
 * lab_rds: a tiny server module for the cluster lab (scripts/cluster-lab.sh).
 *
 * Stock PostgreSQL hides a placeholder setting written only in postgresql.conf (or given with -c)
 * from pg_catalog.pg_settings, but the reference wrappers detect Aurora / RDS by reading
 * `rds.extensions` from pg_settings. Loaded with shared_preload_libraries, this module defines:
 *
 *   rds.extensions   the extension list an RDS / Aurora instance reports
 *                    (contains aurora_stat_utils for the Aurora flavor, rds_tools for Multi-AZ)
 *   lab.instance_id  this node's instance id (Aurora) or DBI resource id (Multi-AZ); read by the
 *                    emulated aurora_db_instance_identifier() / rds_tools.dbi_resource_id()
 *
 * Both are fixed at server start (postgresql.conf or `-c name=value`) and visible to every role.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static char *rds_extensions = NULL;
static char *lab_instance_id = NULL;

void
_PG_init(void)
{
	DefineCustomStringVariable("rds.extensions",
							   "Extensions this (emulated) RDS instance offers.",
							   "Set by the cluster lab; read by RDS/Aurora dialect detection.",
							   &rds_extensions,
							   "",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("lab.instance_id",
							   "Instance id (Aurora) or DBI resource id (Multi-AZ) of this node.",
							   NULL,
							   &lab_instance_id,
							   "",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("rds");
	MarkGUCPrefixReserved("lab");
#endif
}
