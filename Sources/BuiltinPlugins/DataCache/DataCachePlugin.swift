import Foundation
import WrapperCore

/// `data_cache`: answers repeated reads matching a pattern from a bounded cache with a time to live.
///
/// Only reads are ever answered from the cache (see ``ReadStatement``): a write always runs,
/// whatever `data_cache_trigger_condition` matches, `.*` included. A result is cached under
/// everything that changes what a read returns: the host, the database and the user the physical
/// connection actually logged in with (an authentication plugin may have replaced the user), the
/// schema and read-only state set through the API, the SQL and the bound values. Inside a
/// transaction that has written, the cache is neither read nor filled, so a transaction always
/// sees its own writes. Streamed results are never cached.
///
/// Properties: `data_cache_trigger_condition` (a POSIX extended regular expression searched in the
/// SQL; required; see ``TriggerPattern``), `data_cache_max_entries` (1000), `data_cache_ttl_ms` (60000).
public struct DataCachePlugin: Plugin {
    /// The pattern of SQL to cache.
    public static let triggerProperty = PropertyDefinition<String?>.optionalString(
        "data_cache_trigger_condition",
        "A POSIX extended regular expression (also \\d, \\s, \\w and a leading (?i)); reads whose SQL matches are cached.")
    /// Cache size.
    public static let maxEntriesProperty = PropertyDefinition<Int>.int(
        "data_cache_max_entries", default: 1000, in: 1...10_000_000, "The most results the data cache holds.")
    /// Time to live.
    public static let ttlProperty = PropertyDefinition<Int>.int(
        "data_cache_ttl_ms", default: 60_000, in: 1...86_400_000, "How long a cached result stays valid, in milliseconds.")

    private final class TransactionState: Sendable {
        let wrote = LockedValue(false)
    }

    /// The shared cache.
    public let cache: QueryCache
    private let trigger: TriggerPattern
    private let ttl: Duration

    /// Creates the plugin.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/invalidProperty``) for an invalid or
    ///   unbounded pattern (a back-reference, over 1,000 characters).
    public init(trigger pattern: String, ttl: Duration = .seconds(60), cache: QueryCache = QueryCache()) throws {
        self.trigger = try TriggerPattern(pattern)
        self.ttl = ttl
        self.cache = cache
    }

    /// Creates the plugin from properties, with a cache of `data_cache_max_entries` from `caches`.
    init(properties: Properties, caches: QueryCaches) throws {
        guard let pattern = try properties.value(Self.triggerProperty) else {
            throw WrapperError(
                .missingProperty,
                "Plugin 'data_cache' needs 'data_cache_trigger_condition', a regular expression of the queries to cache.")
        }
        let maxEntries = try properties.value(Self.maxEntriesProperty)
        try self.init(trigger: pattern, ttl: .milliseconds(try properties.value(Self.ttlProperty)),
                      cache: caches.cache(maxEntries: maxEntries))
    }

    /// Creates the plugin from properties, sharing `cache` (whose own bound applies).
    public init(properties: Properties, cache: QueryCache) throws {
        guard let pattern = try properties.value(Self.triggerProperty) else {
            throw WrapperError(
                .missingProperty,
                "Plugin 'data_cache' needs 'data_cache_trigger_condition', a regular expression of the queries to cache.")
        }
        _ = try properties.value(Self.maxEntriesProperty)
        try self.init(trigger: pattern, ttl: .milliseconds(try properties.value(Self.ttlProperty)), cache: cache)
    }

    public var subscribedMethods: PluginMethods { [.cursorExecute, .connectionCommit, .connectionRollback] }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        let transaction = service.state(TransactionState.self, create: TransactionState.init)
        guard call.method == .cursorExecute else {
            defer { transaction.wrote.withLock { $0 = false } }
            return try next(call, service)
        }
        guard ReadStatement.isRead(call.sql) else {
            transaction.wrote.withLock { $0 = true }
            return try next(call, service)
        }
        guard trigger.matches(call.sql), !(service.isInTransaction && transaction.wrote.withLock({ $0 })) else {
            return try next(call, service)
        }
        let key = cacheKey(call, service)
        if let cached = cache.lookup(key) { return .rows(cached) }
        let result = try next(call, service)
        if case .rows(let rows) = result, !rows.isStreamed { cache.store(rows, for: key, ttl: ttl) }
        return result
    }

    private func cacheKey(_ call: MethodCall, _ service: PluginService) -> String {
        let host = service.currentHostInfo?.hostAndPort ?? ""
        let identity = service.currentConnection?.identity
        let user = identity?.user ?? service.properties["user"] ?? ""
        let database = identity?.database ?? service.properties["database"] ?? ""
        let session = service.sessionState.values
        var schema = ""
        if case .schema(let name)? = session[.schema] { schema = name }
        var readOnly = ""
        if case .readOnly(let on)? = session[.readOnly] { readOnly = on ? "ro" : "rw" }
        let binds = call.binds.map(\.cacheKey).joined(separator: "\u{1F}")
        // Record separators keep distinct parts from running together.
        return [host, database, user, schema, readOnly, call.sql, binds].joined(separator: "\u{1E}")
    }
}

extension DatabaseValue {
    /// An exact, type-tagged rendering: values whose descriptions coincide (the text "1" and the
    /// integer 1, two timestamps in one second, two blobs of one length) get different keys.
    fileprivate var cacheKey: String {
        switch self {
        case .null: "n"
        case .integer(let value): "i\(value)"
        case .double(let value): "f\(value.bitPattern)"
        case .decimal(let text): "d\(text)"
        case .text(let text): "t\(text)"
        case .bytes(let bytes): "b" + bytes.map { String($0, radix: 16) }.joined(separator: ".")
        case .bool(let value): value ? "o1" : "o0"
        case .date(let text): "D\(text)"
        case .time(let text): "T\(text)"
        case .timestamp(let date, let zone): (zone ? "Z" : "S") + "\(date.timeIntervalSince1970.bitPattern)"
        case .uuid(let uuid): "u\(uuid.uuidString)"
        case .json(let text): "j\(text)"
        }
    }
}
