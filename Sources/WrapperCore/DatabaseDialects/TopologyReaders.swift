import Foundation
import Logging

/// Aurora's topology: one row per instance with a writer flag and a last-update time.
public struct AuroraTopology: TopologyQueries {
    /// Rows of (id, is writer, cpu, lag, last update).
    public let topologyQuery: String
    /// Answers a row only on the writer.
    public let writerIDQuery: String

    public func hosts(
        connection: any DriverConnection, driver: any DriverDialect, pattern: InstanceHostPattern?, defaultPort: Int,
        logger: Logger
    ) throws -> [HostInfo] {
        let rows = try driver.query(topologyQuery, on: connection).rows
        var writers: [HostInfo] = []
        var readers: [HostInfo] = []
        for row in rows {
            guard row.count >= 5, let id = row[0].text, !id.isEmpty else {
                logger.warning("Skipping a topology row without an instance id", metadata: ["row": "\(row)"])
                continue
            }
            guard let isWriter = row[1].truthy else {
                logger.warning("Skipping a topology row whose writer flag is not a boolean", metadata: ["id": "\(id)"])
                continue
            }
            guard HostInfo.isSafeHostName(id) else {
                logger.warning("Skipping a topology row whose instance id is not a host name (it holds a separator, whitespace or a control character)")
                continue
            }
            var updated: Date?
            if case .timestamp(let date, _) = row[4] { updated = date }
            let host = HostInfo(
                host: pattern?.host(forInstance: id) ?? id, port: pattern?.port ?? defaultPort,
                role: isWriter ? .writer : .reader, hostID: id, aliases: [id], lastUpdateTime: updated)
            if isWriter { writers.append(host) } else { readers.append(host) }
        }
        guard !writers.isEmpty else {
            if !rows.isEmpty { logger.warning("The topology has no writer; keeping the previous one", metadata: ["rows": "\(rows.count)"]) }
            return []
        }
        // Two writers happen briefly during a failover: the most recently updated one wins.
        writers.sort { ($0.lastUpdateTime ?? .distantPast) > ($1.lastUpdateTime ?? .distantPast) }
        if writers.count > 1 {
            logger.warning("The topology has \(writers.count) writers; using the most recently updated", metadata: ["writer": "\(writers[0].hostID ?? "")"])
        }
        let demoted = writers.dropFirst().map { host -> HostInfo in
            var host = host
            host.role = .reader
            return host
        }
        return [writers[0]] + readers + demoted
    }

    public func writerID(connection: any DriverConnection, driver: any DriverDialect) throws -> String? {
        try driver.query(writerIDQuery, on: connection).rows.first?.first?.text
    }
}

/// An RDS Multi-AZ cluster's topology: (id, endpoint, port) rows, the writer told apart by the
/// replication source each host reports.
public struct MultiAzTopology: TopologyQueries {
    /// Rows of (id, endpoint, port).
    public let topologyQuery: String
    /// PostgreSQL: the writer's id, on every host. MySQL: `SHOW REPLICA STATUS`, empty on the writer.
    public let writerSourceQuery: String
    /// The connected instance's id.
    public let ownIDQuery: String
    /// Whether `writerSourceQuery` is MySQL's replica status.
    public let writerFromReplicaStatus: Bool

    /// The writer's id as seen from the connected host.
    func writerIDOfCluster(_ connection: any DriverConnection, _ driver: any DriverDialect) throws -> String? {
        let result = try driver.query(writerSourceQuery, on: connection)
        if writerFromReplicaStatus {
            // No replica status: this host is the writer. Otherwise its source is.
            guard let row = result.rows.first else { return try driver.query(ownIDQuery, on: connection).rows.first?.first?.text }
            let column = result.columns.firstIndex { ["master_server_id", "source_server_id"].contains($0.lowercased()) }
            return column.flatMap { row[$0].text }
        }
        return result.rows.first?.first?.text
    }

    public func hosts(
        connection: any DriverConnection, driver: any DriverDialect, pattern: InstanceHostPattern?, defaultPort: Int,
        logger: Logger
    ) throws -> [HostInfo] {
        guard let writer = try writerIDOfCluster(connection, driver) else {
            logger.warning("The cluster reports no writer; keeping the previous topology")
            return []
        }
        var hosts: [HostInfo] = []
        for row in try driver.query(topologyQuery, on: connection).rows {
            guard row.count >= 3, let id = row[0].text, !id.isEmpty, let endpoint = row[1].text, !endpoint.isEmpty else {
                logger.warning("Skipping a topology row without an id or endpoint", metadata: ["row": "\(row)"])
                continue
            }
            guard HostInfo.isSafeHostName(id), HostInfo.isSafeHostName(endpoint) else {
                logger.warning("Skipping a topology row whose id or endpoint is not a host name (it holds a separator, whitespace or a control character)")
                continue
            }
            let instance = RdsURL.isIPAddress(endpoint) ? endpoint : String(endpoint.prefix { $0 != "." })
            let host = pattern?.host(forInstance: instance) ?? endpoint
            // NULL means the default port; anything else must be a port number.
            let rowPort: Int? = switch row[2] {
            case .null: nil
            case .integer(let value): Int(exactly: value) ?? -1
            default: row[2].text.flatMap { Int($0) } ?? -1
            }
            if let rowPort, !(1...65535).contains(rowPort) {
                logger.warning("Skipping a topology row whose port is outside 1...65535", metadata: ["id": "\(id)", "port": "\(rowPort)"])
                continue
            }
            let port = pattern?.port ?? rowPort ?? defaultPort
            hosts.append(HostInfo(
                host: host, port: port, role: id == writer ? .writer : .reader, weight: 0, hostID: id, aliases: [id, endpoint]))
        }
        guard hosts.contains(where: { $0.role == .writer }) else {
            logger.warning("The writer \(writer) is not in the topology; keeping the previous one")
            return []
        }
        return hosts.sorted { $0.role == .writer && $1.role != .writer }
    }

    public func writerID(connection: any DriverConnection, driver: any DriverDialect) throws -> String? {
        guard let own = try driver.query(ownIDQuery, on: connection).rows.first?.first?.text else { return nil }
        return try writerIDOfCluster(connection, driver) == own ? own : nil
    }
}
