import Logging

/// Plain PostgreSQL.
public struct PostgresDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "pg" }
    public var family: DatabaseFamily { .postgres }
    public var defaultPort: Int { 5432 }
    public var hostIDQuery: String {
        "SELECT pg_catalog.inet_server_addr() AS host, pg_catalog.CONCAT(pg_catalog.inet_server_addr(), ':', pg_catalog.inet_server_port()) AS host_id"
    }
    public var isReaderQuery: String { "SELECT pg_catalog.pg_is_in_recovery()" }
    public var updateCandidates: [String] { ["aurora-pg", "multi-az-pg", "rds-pg"] }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        driver.answers("SELECT 1 FROM pg_catalog.pg_proc LIMIT 1", on: connection)
    }
}

/// Which RDS extensions a PostgreSQL server lists in `rds.extensions`.
func rdsExtensions(_ connection: any DriverConnection, _ driver: any DriverDialect) -> (rdsTools: Bool, auroraStatUtils: Bool) {
    let sql = "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils "
        + "FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
    guard let row = (try? driver.query(sql, on: connection))?.rows.first, row.count == 2 else { return (false, false) }
    return (row[0].truthy ?? false, row[1].truthy ?? false)
}

/// RDS for PostgreSQL (a single instance).
public struct RdsPostgresDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "rds-pg" }
    public var family: DatabaseFamily { .postgres }
    public var defaultPort: Int { 5432 }
    public var hostIDQuery: String {
        "SELECT id, SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM rds_tools.show_topology() WHERE id OPERATOR(pg_catalog.=) rds_tools.dbi_resource_id()"
    }
    public var isReaderQuery: String { "SELECT pg_catalog.pg_is_in_recovery()" }
    public var updateCandidates: [String] { ["aurora-pg", "multi-az-pg"] }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        guard PostgresDialect().matches(connection, driver: driver) else { return false }
        let extensions = rdsExtensions(connection, driver)
        return extensions.rdsTools && !extensions.auroraStatUtils
    }
}

/// Aurora PostgreSQL.
public struct AuroraPostgresDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "aurora-pg" }
    public var family: DatabaseFamily { .postgres }
    public var defaultPort: Int { 5432 }
    public var hostIDQuery: String {
        "SELECT pg_catalog.aurora_db_instance_identifier(), pg_catalog.aurora_db_instance_identifier()"
    }
    public var isReaderQuery: String { "SELECT pg_catalog.pg_is_in_recovery()" }
    public var updateCandidates: [String] { ["multi-az-pg"] }
    public var topology: (any TopologyQueries)? {
        AuroraTopology(
            topologyQuery: "SELECT SERVER_ID, CASE WHEN SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
                + "CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP FROM pg_catalog.aurora_replica_status() "
                + "WHERE EXTRACT(EPOCH FROM(pg_catalog.NOW() OPERATOR(pg_catalog.-) LAST_UPDATE_TIMESTAMP)) OPERATOR(pg_catalog.<=) 300 "
                + "OR SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' OR LAST_UPDATE_TIMESTAMP IS NULL",
            writerIDQuery: "SELECT SERVER_ID FROM pg_catalog.aurora_replica_status() WHERE SESSION_ID OPERATOR(pg_catalog.=) "
                + "'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) pg_catalog.aurora_db_instance_identifier()")
    }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        guard rdsExtensions(connection, driver).auroraStatUtils else { return false }
        return driver.answers("SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1", on: connection)
    }
}

/// An RDS Multi-AZ DB cluster for PostgreSQL.
public struct MultiAzPostgresDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "multi-az-pg" }
    public var family: DatabaseFamily { .postgres }
    public var defaultPort: Int { 5432 }
    public var hostIDQuery: String { RdsPostgresDialect().hostIDQuery }
    public var isReaderQuery: String { "SELECT pg_catalog.pg_is_in_recovery()" }
    public var updateCandidates: [String] { [] }
    static let writerSourceQuery =
        "SELECT multi_az_db_cluster_source_dbi_resource_id FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()"
    public var topology: (any TopologyQueries)? {
        MultiAzTopology(
            topologyQuery: "SELECT id, endpoint, port FROM rds_tools.show_topology('aws_swift_wrapper')",
            writerSourceQuery: Self.writerSourceQuery, ownIDQuery: "SELECT rds_tools.dbi_resource_id()",
            writerFromReplicaStatus: false)
    }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        guard let value = try? driver.query(Self.writerSourceQuery, on: connection).rows.first?.first else { return false }
        return !(value.text ?? "").isEmpty
    }
}

/// Plain MySQL.
public struct MySQLDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "mysql" }
    public var family: DatabaseFamily { .mysql }
    public var defaultPort: Int { 3306 }
    public var hostIDQuery: String { "SELECT @@hostname AS host, CONCAT(@@hostname, ':', @@port) AS host_id" }
    public var isReaderQuery: String { "SELECT @@read_only" }
    public var updateCandidates: [String] { ["aurora-mysql", "multi-az-mysql", "rds-mysql", "mariadb"] }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        guard let rows = try? driver.query("SHOW VARIABLES LIKE 'version_comment'", on: connection).rows else { return false }
        return rows.contains { row in row.contains { ($0.text ?? "").lowercased().contains("mysql") } }
    }
}

/// MariaDB (this library's addition to the reference's dialects).
public struct MariaDBDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "mariadb" }
    public var family: DatabaseFamily { .mysql }
    public var defaultPort: Int { 3306 }
    public var hostIDQuery: String { MySQLDialect().hostIDQuery }
    public var isReaderQuery: String { "SELECT @@read_only" }
    public var updateCandidates: [String] { ["multi-az-mysql", "rds-mysql"] }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        guard let version = try? driver.query("SELECT VERSION()", on: connection).rows.first?.first?.text else { return false }
        return version.lowercased().contains("mariadb")
    }
}

/// RDS for MySQL (a single instance).
public struct RdsMySQLDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "rds-mysql" }
    public var family: DatabaseFamily { .mysql }
    public var defaultPort: Int { 3306 }
    public var hostIDQuery: String {
        "SELECT id, SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id"
    }
    public var isReaderQuery: String { "SELECT @@read_only" }
    public var updateCandidates: [String] { ["aurora-mysql", "multi-az-mysql"] }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        guard let comment = try? driver.query("SHOW VARIABLES LIKE 'version_comment'", on: connection).rows.first?.last?.text,
            comment.lowercased() == "source distribution"
        else { return false }
        return reportHost(connection, driver)
    }
}

func reportHost(_ connection: any DriverConnection, _ driver: any DriverDialect) -> Bool {
    guard let value = try? driver.query("SHOW VARIABLES LIKE 'report_host'", on: connection).rows.first?.last?.text else { return false }
    return !value.isEmpty
}

/// Aurora MySQL.
public struct AuroraMySQLDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "aurora-mysql" }
    public var family: DatabaseFamily { .mysql }
    public var defaultPort: Int { 3306 }
    public var hostIDQuery: String { "SELECT @@aurora_server_id, @@aurora_server_id" }
    public var isReaderQuery: String { "SELECT @@innodb_read_only" }
    public var updateCandidates: [String] { ["multi-az-mysql"] }
    public var topology: (any TopologyQueries)? {
        AuroraTopology(
            topologyQuery: "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, "
                + "REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP FROM information_schema.replica_host_status "
                + "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID'",
            writerIDQuery: "SELECT SERVER_ID FROM information_schema.replica_host_status WHERE SESSION_ID = 'MASTER_SESSION_ID' "
                + "AND SERVER_ID = @@aurora_server_id")
    }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        driver.answers("SHOW VARIABLES LIKE 'aurora_version'", on: connection)
    }
}

/// An RDS Multi-AZ DB cluster for MySQL (emulated on MariaDB by the cluster lab).
public struct MultiAzMySQLDialect: DatabaseDialect {
    /// Creates the dialect.
    public init() {}
    public var code: String { "multi-az-mysql" }
    public var family: DatabaseFamily { .mysql }
    public var defaultPort: Int { 3306 }
    public var hostIDQuery: String { RdsMySQLDialect().hostIDQuery }
    public var isReaderQuery: String { "SELECT @@read_only" }
    public var updateCandidates: [String] { [] }
    public var topology: (any TopologyQueries)? {
        MultiAzTopology(
            topologyQuery: "SELECT id, endpoint, port FROM mysql.rds_topology", writerSourceQuery: "SHOW REPLICA STATUS",
            ownIDQuery: "SELECT @@server_id", writerFromReplicaStatus: true)
    }
    public func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool {
        let exists = "SELECT 1 AS tmp FROM information_schema.tables WHERE table_schema = 'mysql' AND table_name = 'rds_topology'"
        guard driver.answers(exists, on: connection), driver.answers("SELECT id FROM mysql.rds_topology LIMIT 1", on: connection)
        else { return false }
        return reportHost(connection, driver)
    }
}
