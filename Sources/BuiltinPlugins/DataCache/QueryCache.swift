import WrapperCore

/// A bounded cache of query results with a time to live, shared by the connections that use one
/// ``DataCachePlugin`` value (or one registry and one `data_cache_max_entries`).
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
            let now = ContinuousClock.now
            if state.entries[key] == nil, state.entries.count >= maxEntries {
                // Expired entries go first; then the least recently used one.
                state.entries = state.entries.filter { $0.value.expires > now }
                if state.entries.count >= maxEntries,
                    let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
                {
                    state.entries[oldest] = nil
                }
            }
            state.entries[key] = Entry(result: result, expires: now + ttl, lastUse: state.clock)
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

/// The caches of one registry, one per `data_cache_max_entries` value, so that each connection's
/// bound is honoured.
final class QueryCaches: Sendable {
    private let caches = LockedValue([Int: QueryCache]())

    func cache(maxEntries: Int) -> QueryCache {
        caches.withLock { caches in
            if let cache = caches[maxEntries] { return cache }
            let cache = QueryCache(maxEntries: maxEntries)
            caches[maxEntries] = cache
            return cache
        }
    }
}
