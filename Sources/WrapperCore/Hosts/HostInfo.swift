import Foundation

/// The role of a database host in its cluster.
public enum HostRole: String, Sendable, Hashable, CaseIterable {
    /// Accepts writes.
    case writer
    /// A read replica.
    case reader
    /// Not known yet.
    case unknown
}

/// Whether a host is believed to accept connections.
public enum HostAvailability: String, Sendable, Hashable {
    /// The host is believed to be up.
    case available
    /// The host failed recently and should be avoided.
    case unavailable
}

/// A database host as the wrapper knows it: address, role, availability and selection weight.
///
/// Equality compares host, port, role and availability, as the reference does; ``aliases``,
/// ``weight``, ``hostID`` and ``lastUpdateTime`` are descriptive.
public struct HostInfo: Sendable, Hashable, CustomStringConvertible {
    /// "No port given": the dialect's default port applies.
    public static let noPort = -1
    /// The weight a host has unless topology or configuration says otherwise.
    public static let defaultWeight = 100

    /// The host name or IP address.
    public var host: String
    /// The port, or ``noPort``.
    public var port: Int
    /// Writer, reader or unknown.
    public var role: HostRole
    /// Whether the host is believed to be up.
    public var availability: HostAvailability
    /// Selection weight; higher is preferred by weight-based strategies.
    public var weight: Int
    /// The instance identifier reported by the cluster, when known.
    public var hostID: String?
    /// Other names this host answers to (`host:port` forms, instance endpoints, IPs).
    public var aliases: Set<String>
    /// When the topology last reported this host.
    public var lastUpdateTime: Date?

    /// Creates a host.
    public init(
        host: String, port: Int = HostInfo.noPort, role: HostRole = .writer,
        availability: HostAvailability = .available, weight: Int = HostInfo.defaultWeight,
        hostID: String? = nil, aliases: Set<String> = [], lastUpdateTime: Date? = nil
    ) {
        self.host = host
        self.port = port
        self.role = role
        self.availability = availability
        self.weight = weight
        self.hostID = hostID
        self.aliases = aliases
        self.lastUpdateTime = lastUpdateTime
    }

    /// Whether a port was given.
    public var isPortSpecified: Bool { port != HostInfo.noPort }

    /// The port to connect to: ``port``, or `defaultPort` when none was given.
    ///
    /// - Throws: ``WrapperError/Code/invalidProperty`` for a port outside 1...65535, wherever the
    ///   host came from (a connection string, a topology row, a custom host list provider).
    public func connectPort(default defaultPort: Int) throws -> Int {
        let port = isPortSpecified ? port : defaultPort
        guard (1...65535).contains(port) else {
            throw WrapperError(.invalidProperty, "The port \(port) of host \(host) is outside 1...65535; fix the port in the connection string, the topology or the host list provider.")
        }
        return port
    }

    /// Whether `text` can be used as a host name or instance id taken from a server: not empty,
    /// and free of what the C libraries read as syntax (`,` separates a libpq host list, a leading
    /// `/` names a socket directory) or that no DNS name holds (whitespace, control characters).
    public static func isSafeHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return !text.unicodeScalars.contains { scalar in
            scalar == "," || scalar == "/" || scalar == "\\" || scalar == "@" || scalar == "=" || scalar == "'"
                || scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F
        }
    }

    /// `host:port`, or just `host` without a port; IPv6 addresses are bracketed.
    public var hostAndPort: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return isPortSpecified ? "\(name):\(port)" : name
    }

    /// The reference's key for a host: `host:port/`.
    public var url: String { hostAndPort + "/" }

    /// ``aliases`` plus ``hostAndPort``.
    public var allAliases: Set<String> { aliases.union([hostAndPort]) }

    public var description: String {
        "\(hostAndPort) (\(role.rawValue), \(availability.rawValue), weight \(weight))"
    }

    public static func == (lhs: HostInfo, rhs: HostInfo) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port && lhs.role == rhs.role
            && lhs.availability == rhs.availability
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(host)
        hasher.combine(port)
        hasher.combine(role)
        hasher.combine(availability)
    }
}
