import Foundation
import Logging

/// The database family: which SQL a dialect speaks.
public enum DatabaseFamily: String, Sendable, Hashable {
    /// PostgreSQL and its RDS and Aurora flavours.
    case postgres
    /// MySQL, MariaDB and their RDS and Aurora flavours.
    case mysql
}

/// A server or deployment kind, independent of the driver: plain PostgreSQL, Aurora MySQL, an RDS
/// Multi-AZ cluster... It knows how to recognise itself on a connection, how to ask a host who it
/// is and whether it is a reader, and, for clusters, how to read the topology.
public protocol DatabaseDialect: Sendable {
    /// The code users give in `wrapper_dialect` (`aurora-pg`, `multi-az-mysql`, ...).
    var code: String { get }
    /// Which SQL it speaks.
    var family: DatabaseFamily { get }
    /// The port of its servers.
    var defaultPort: Int { get }
    /// Two columns: the instance id and its name.
    var hostIDQuery: String { get }
    /// One boolean column: whether the host is a reader.
    var isReaderQuery: String { get }
    /// Codes of the dialects to try, in order, once connected: the first that matches replaces this one.
    var updateCandidates: [String] { get }
    /// How to read the cluster's topology, for cluster dialects.
    var topology: (any TopologyQueries)? { get }
    /// Whether the server behind `connection` is of this kind.
    func matches(_ connection: any DriverConnection, driver: any DriverDialect) -> Bool
}

extension DatabaseDialect {
    /// No topology unless the dialect says so.
    public var topology: (any TopologyQueries)? { nil }
}

/// How a cluster dialect reads topology and identifies the writer.
public protocol TopologyQueries: Sendable {
    /// The cluster's hosts, read over a connection to any member.
    ///
    /// Rows that make no sense (NULL ids, unknown columns) are skipped with a warning; two writers
    /// resolve to the most recently updated one; a topology without a writer is reported as empty.
    func hosts(
        connection: any DriverConnection, driver: any DriverDialect, pattern: InstanceHostPattern?, defaultPort: Int,
        logger: Logger
    ) throws -> [HostInfo]
    /// The id of the connected instance when it is the writer, or `nil` when it is not.
    func writerID(connection: any DriverConnection, driver: any DriverDialect) throws -> String?
}

extension DriverDialect {
    /// Runs an auxiliary query on a driver connection, outside the plugin chain, under the
    /// driver's deadline for the wrapper's own queries (``DriverDialect/auxiliaryQuery(_:on:)``).
    public func query(_ sql: String, on connection: any DriverConnection) throws -> QueryResult {
        try auxiliaryQuery(sql, on: connection)
    }

    /// Runs an auxiliary query and reports whether it succeeded with at least one row.
    public func answers(_ sql: String, on connection: any DriverConnection) -> Bool {
        guard let result = try? query(sql, on: connection) else { return false }
        return !result.rows.isEmpty
    }
}

extension DatabaseValue {
    /// A loose reading of the value as text, for topology columns.
    var text: String? {
        switch self {
        case .null: nil
        case .text(let value), .decimal(let value), .json(let value), .date(let value), .time(let value): value
        case .integer(let value): String(value)
        case .double(let value): String(value)
        case .bool(let value): value ? "1" : "0"
        case .uuid(let value): value.uuidString.lowercased()
        case .bytes(let value): String(decoding: value, as: UTF8.self)
        case .timestamp: description
        }
    }

    /// A loose reading as a boolean (`t`, `true`, `1`, ...).
    var truthy: Bool? {
        switch self {
        case .bool(let value): value
        case .integer(let value): value != 0
        case .text(let value):
            ["t", "true", "1", "on", "yes"].contains(value.lowercased())
                ? true : (["f", "false", "0", "off", "no"].contains(value.lowercased()) ? false : nil)
        default: nil
        }
    }
}
