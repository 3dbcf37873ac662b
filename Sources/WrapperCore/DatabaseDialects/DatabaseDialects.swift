import Foundation

/// The database dialects a runtime knows: the built-ins and any the application adds, with the
/// results of detection cached per URL.
public final class DatabaseDialects: Sendable {
    private struct State {
        var dialects: [String: any DatabaseDialect] = [:]
        var known: [String: (code: String, expires: ContinuousClock.Instant)] = [:]
    }

    private let state: LockedValue<State>

    /// The reference's dialect codes plus `mariadb`.
    public static let builtin: [any DatabaseDialect] = [
        PostgresDialect(), RdsPostgresDialect(), AuroraPostgresDialect(), MultiAzPostgresDialect(), MySQLDialect(),
        MariaDBDialect(), RdsMySQLDialect(), AuroraMySQLDialect(), MultiAzMySQLDialect(),
    ]

    /// Forces a dialect by code.
    public static let property = PropertyDefinition<String?>.optionalString(
        "wrapper_dialect", "A unique identifier for the supported database dialect.")

    /// Creates the set of built-in dialects.
    public init() {
        state = LockedValue(State(dialects: Dictionary(uniqueKeysWithValues: Self.builtin.map { ($0.code, $0) })))
    }

    /// Adds or replaces a dialect, usable by its code in `wrapper_dialect`.
    public func register(_ dialect: any DatabaseDialect) {
        state.withLock { $0.dialects[dialect.code] = dialect }
    }

    /// A dialect by code.
    public func dialect(code: String) -> (any DatabaseDialect)? { state.withLock { $0.dialects[code] } }

    /// The first guess for a connection, before anything is asked of the server, and whether
    /// detection may still upgrade it.
    ///
    /// - Throws: ``WrapperError`` for an unknown `wrapper_dialect`, listing the known codes.
    public func initialDialect(for host: String, port: Int = HostInfo.noPort, family: DatabaseFamily, properties: Properties) throws
        -> (dialect: any DatabaseDialect, canUpdate: Bool)
    {
        let cacheKey = Self.cacheKey(host, port, family)
        if let forced = try properties.value(Self.property) {
            guard let dialect = dialect(code: forced) else {
                let known = state.withLock { $0.dialects.keys.sorted() }
                throw WrapperError(.invalidProperty, "Unknown wrapper_dialect '\(forced)'. Known dialects: \(known.joined(separator: ", ")).")
            }
            return (dialect, false)
        }
        let now = ContinuousClock.now
        if let cached = state.withLock({ state in state.known[cacheKey].flatMap { now < $0.expires ? $0.code : nil } }),
            let dialect = dialect(code: cached)
        {
            return (dialect, false)
        }
        let type = RdsURL.type(of: host)
        let code: String
        switch (family, type) {
        case (.postgres, .writerCluster), (.postgres, .readerCluster), (.postgres, .customCluster), (.postgres, .limitless),
            (.postgres, .globalWriterCluster):
            code = "aurora-pg"
        case (.postgres, _) where type.isRds: code = "rds-pg"
        case (.postgres, _): code = "pg"
        case (.mysql, .writerCluster), (.mysql, .readerCluster), (.mysql, .customCluster), (.mysql, .globalWriterCluster):
            code = "aurora-mysql"
        case (.mysql, _) where type.isRds: code = "rds-mysql"
        case (.mysql, _): code = "mysql"
        }
        return (dialect(code: code)!, true)
    }

    /// The dialect after the first connection: the first update candidate that matches the server,
    /// or `current` when none does. One step only, as in the reference; the result is cached for
    /// `host` for 30 minutes.
    public func detect(
        current: any DatabaseDialect, host: String, port: Int = HostInfo.noPort, connection: any DriverConnection,
        driver: any DriverDialect
    ) -> any DatabaseDialect {
        let key = Self.cacheKey(host, port, driver.databaseFamily)
        for code in current.updateCandidates {
            guard let candidate = dialect(code: code), candidate.matches(connection, driver: driver) else { continue }
            remember(candidate, for: key)
            return candidate
        }
        if current.matches(connection, driver: driver) { remember(current, for: key) }
        return current
    }

    /// Endpoints are told apart by port and family too: one address may serve several servers.
    private static func cacheKey(_ host: String, _ port: Int, _ family: DatabaseFamily) -> String {
        "\(family.rawValue)://\(host.lowercased()):\(port)"
    }

    /// The most endpoints whose dialect is remembered.
    static let knownCapacity = 10_000

    private func remember(_ dialect: any DatabaseDialect, for host: String) {
        state.withLock { state in
            let now = ContinuousClock.now
            // Full: sweep what expired, then forget the entry that expires soonest.
            if state.known[host] == nil, state.known.count >= Self.knownCapacity {
                state.known = state.known.filter { $0.value.expires > now }
                if state.known.count >= Self.knownCapacity, let soonest = state.known.min(by: { $0.value.expires < $1.value.expires })?.key {
                    state.known[soonest] = nil
                }
            }
            state.known[host] = (dialect.code, now + .seconds(1800))
        }
    }

    /// How many endpoints' dialects are remembered.
    public var knownCount: Int { state.withLock { $0.known.count } }

    /// Forgets what detection learned.
    public func clearCache() { state.withLock { $0.known.removeAll() } }
}
