import Foundation
import WrapperCore

/// A bounded cache of query results with a time to live, shared by the connections that use one
/// ``DataCachePlugin`` value (or one registry).
public final class QueryCache: Sendable {
    struct Entry {
        var result: QueryResult
        var expires: ContinuousClock.Instant
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
    }

    private let state = LockedValue(State())
    /// The most entries kept; the least recently used goes first.
    public let maxEntries: Int

    /// Creates a cache holding at most `maxEntries` results.
    public init(maxEntries: Int = 1000) { self.maxEntries = max(1, maxEntries) }

    func lookup(_ key: String) -> QueryResult? {
        state.withLock { state in
            state.clock += 1
            guard var entry = state.entries[key], ContinuousClock.now < entry.expires else {
                state.entries[key] = nil
                state.misses += 1
                return nil
            }
            entry.lastUse = state.clock
            state.entries[key] = entry
            state.hits += 1
            return entry.result
        }
    }

    func store(_ result: QueryResult, for key: String, ttl: Duration) {
        state.withLock { state in
            state.clock += 1
            if state.entries[key] == nil, state.entries.count >= maxEntries,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
            {
                state.entries[oldest] = nil
            }
            state.entries[key] = Entry(result: result, expires: .now + ttl, lastUse: state.clock)
        }
    }

    /// How many results are cached.
    public var count: Int { state.withLock { $0.entries.count } }
    /// Lookups answered from the cache.
    public var hits: Int { state.withLock { $0.hits } }
    /// Lookups that went to the database.
    public var misses: Int { state.withLock { $0.misses } }
    /// Empties the cache.
    public func removeAll() { state.withLock { $0.entries.removeAll() } }
}

/// `data_cache`: answers repeated queries matching a pattern from a bounded cache with a time to
/// live.
///
/// Results are cached per host, database, user, SQL and bound values. Inside a transaction that has
/// written, the cache is neither read nor filled, so a transaction always sees its own writes.
/// Streamed results are never cached. Properties: `data_cache_trigger_condition` (a regular
/// expression searched in the SQL; required), `data_cache_max_entries` (1000), `data_cache_ttl_ms`
/// (60000).
public struct DataCachePlugin: Plugin {
    /// The pattern of SQL to cache.
    public static let triggerProperty = PropertyDefinition<String?>.optionalString(
        "data_cache_trigger_condition", "A regular expression; queries whose SQL matches are cached.")
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
    private let pattern: String
    nonisolated(unsafe) private let trigger: Regex<AnyRegexOutput>
    private let ttl: Duration

    /// Creates the plugin.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/invalidProperty``) for an invalid pattern.
    public init(trigger pattern: String, ttl: Duration = .seconds(60), cache: QueryCache = QueryCache()) throws {
        do {
            self.trigger = try Regex(pattern)
        } catch {
            throw WrapperError(
                .invalidProperty,
                "Property 'data_cache_trigger_condition' is not a valid regular expression: \(error). Example: ^SELECT .* FROM products")
        }
        self.pattern = pattern
        self.ttl = ttl
        self.cache = cache
    }

    /// Creates the plugin from properties, sharing `cache`.
    public init(properties: Properties, cache: QueryCache) throws {
        guard let pattern = try properties.value(Self.triggerProperty) else {
            throw WrapperError(
                .missingProperty,
                "Plugin 'data_cache' needs 'data_cache_trigger_condition', a regular expression of the queries to cache.")
        }
        try self.init(trigger: pattern, ttl: .milliseconds(try properties.value(Self.ttlProperty)), cache: cache)
    }

    public var subscribedMethods: PluginMethods { [.cursorExecute, .connectionCommit, .connectionRollback] }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        let transaction = service.state(TransactionState.self, create: TransactionState.init)
        guard call.method == .cursorExecute else {
            defer { transaction.wrote.withLock { $0 = false } }
            return try next(call, service)
        }
        let cacheable = call.sql.firstMatch(of: trigger) != nil
        if !cacheable {
            if Self.isWrite(call.sql) { transaction.wrote.withLock { $0 = true } }
            return try next(call, service)
        }
        if service.isInTransaction, transaction.wrote.withLock({ $0 }) {
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
        let database = service.properties["database"] ?? ""
        let user = service.properties["user"] ?? ""
        // Unit separators keep distinct parts from running together.
        return [host, database, user, call.sql, call.binds.map(\.description).joined(separator: "\u{1F}")]
            .joined(separator: "\u{1E}")
    }

    /// Whether a statement may write (anything but a read).
    static func isWrite(_ sql: String) -> Bool {
        let head = sql.drop(while: { $0.isWhitespace || $0 == "(" }).prefix(8).uppercased()
        return !(head.hasPrefix("SELECT") || head.hasPrefix("SHOW") || head.hasPrefix("WITH") || head.hasPrefix("VALUES")
            || head.hasPrefix("EXPLAIN"))
    }
}
