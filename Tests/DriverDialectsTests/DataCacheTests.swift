import BuiltinPlugins
import DriverDialects
import Foundation
import Testing
import WrapperCore

/// `data_cache` on real servers, configured through its properties as users configure it.
@Suite("data_cache on real servers")
struct DataCacheTests {
    /// A registry of its own, so each test has its own caches.
    func registry() -> PluginRegistry {
        let registry = PluginRegistry()
        for factory in BuiltinPluginFactories.make() { try? registry.register(factory) }
        return registry
    }

    @Test("a .* trigger never swallows a write: repeated identical INSERTs all land", arguments: Backend.allCases)
    func writesAlwaysRun(backend: Backend) throws {
        let connection = try backend.open("plugins=data_cache&data_cache_trigger_condition=.*", registry: registry())
        defer { try? connection.close() }
        let table = backend.table("dc_writes")
        try connection.execute("CREATE TABLE \(unsafeSQL: table) (v int)")
        defer { _ = try? connection.execute("DROP TABLE \(unsafeSQL: table)") }
        for _ in 0..<5 { try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1))") }
        for _ in 0..<3 { try connection.execute("UPDATE \(unsafeSQL: table) SET v = v + 1") }
        // A CTE that writes and a SELECT that locks are not reads either.
        if backend == .postgres {
            try connection.execute("WITH moved AS (UPDATE \(unsafeSQL: table) SET v = v + 10 RETURNING v) SELECT count(*) FROM moved")
            try connection.execute("WITH moved AS (UPDATE \(unsafeSQL: table) SET v = v + 10 RETURNING v) SELECT count(*) FROM moved")
        }
        let cache = try #require(connection.plugin(DataCachePlugin.self)?.cache)
        let sum = try connection.execute("SELECT sum(v) FROM \(unsafeSQL: table)").decode(Int.self).first
        #expect(sum == (backend == .postgres ? 5 * 24 : 5 * 4))
        #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first == 5)
        // Reads are cached: the same read again is a hit.
        #expect(try connection.execute("SELECT count(*) FROM \(unsafeSQL: table)").decode(Int.self).first == 5)
        #expect(cache.hits == 1)
    }

    @Test("a streamed read answered from the cache still reaches the row handler", arguments: Backend.allCases)
    func streamFromCache(backend: Backend) throws {
        let connection = try backend.open("plugins=data_cache&data_cache_trigger_condition=^SELECT", registry: registry())
        defer { try? connection.close() }
        let query: SQLQuery = "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3"
        #expect(try connection.execute(query).rows.count == 3)
        var seen: [DatabaseValue] = []
        try connection.stream(query) { row in seen.append(row[0]) }
        #expect(connection.plugin(DataCachePlugin.self)?.cache.hits == 1)
        #expect(seen == [.integer(1), .integer(2), .integer(3)])
    }

    @Test("data_cache_max_entries and data_cache_ttl_ms are honoured", arguments: Backend.allCases)
    func bounds(backend: Backend) throws {
        let registry = registry()
        let small = try backend.open("plugins=data_cache&data_cache_trigger_condition=^SELECT&data_cache_max_entries=2", registry: registry)
        defer { try? small.close() }
        for value in 1...5 { _ = try small.execute("SELECT \(unsafeSQL: String(value))") }
        let cache = try #require(small.plugin(DataCachePlugin.self)?.cache)
        #expect(cache.maxEntries == 2)
        #expect(cache.count == 2)
        // Another connection with the default bound gets its own cache.
        let large = try backend.open("plugins=data_cache&data_cache_trigger_condition=^SELECT", registry: registry)
        defer { try? large.close() }
        #expect(large.plugin(DataCachePlugin.self)?.cache.maxEntries == 1000)

        let shortLived = try backend.open(
            "plugins=data_cache&data_cache_trigger_condition=^SELECT&data_cache_ttl_ms=1&data_cache_max_entries=7", registry: registry)
        defer { try? shortLived.close() }
        let ttlCache = try #require(shortLived.plugin(DataCachePlugin.self)?.cache)
        _ = try shortLived.execute("SELECT 42")
        let expired = ContinuousClock.now + .milliseconds(5)
        while ContinuousClock.now < expired {}
        _ = try shortLived.execute("SELECT 42")
        #expect(ttlCache.hits == 0)
        #expect(ttlCache.misses == 2)
    }

    @Test("invalid data_cache settings fail the open", arguments: [
        "data_cache_trigger_condition=%28unclosed", "data_cache_trigger_condition=%28a%29%5C1", "data_cache_max_entries=0",
        "data_cache_max_entries=lots", "data_cache_ttl_ms=-5", "data_cache_trigger_condition=",
    ])
    func invalidSettings(setting: String) throws {
        let error = try #require(throws: WrapperError.self) {
            try Backend.postgres.open("plugins=data_cache&data_cache_trigger_condition=x&\(setting)", registry: registry())
        }
        #expect(error.code == .invalidProperty, "\(error)")
    }

    @Test("the user who actually logged in is part of the key, not the user property", arguments: Backend.allCases)
    func identity(backend: Backend) throws {
        let other = "dc_user_\(UInt32.random(in: 0...UInt32.max))"
        try backend.createUser(other, password: "other_pw")
        defer { backend.dropUser(other) }
        let cache = QueryCache()
        // Logs in as `other` whatever `user` says, as the Secrets Manager plugin does.
        struct SwitchUser: Plugin {
            let user: String
            var subscribedMethods: PluginMethods { [.connect] }
            func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
                var request = request
                request.properties["user"] = user
                request.properties["password"] = "other_pw"
                return try next(request, service)
            }
        }
        let switched = try WrapperConnection.open(backend.url(), driver: backend.driver, chain: try PluginChain {
            SwitchUser(user: other)
            try DataCachePlugin(trigger: "USER", cache: cache)
        }, runtime: WrapperRuntime())
        defer { try? switched.close() }
        let plain = try WrapperConnection.open(backend.url(), driver: backend.driver, chain: try PluginChain {
            try DataCachePlugin(trigger: "USER", cache: cache)
        }, runtime: WrapperRuntime())
        defer { try? plain.close() }
        #expect(try switched.execute(backend.currentUserSQL).decode(String.self) == [other])
        #expect(try plain.execute(backend.currentUserSQL).decode(String.self) == [backend.user])
        #expect(cache.hits == 0)
    }

    @Test("read-only state and schema set through the API are part of the key", arguments: Backend.allCases)
    func sessionState(backend: Backend) throws {
        let connection = try backend.open("plugins=data_cache&data_cache_trigger_condition=read_only|current_schema", registry: registry())
        defer { try? connection.close() }
        let query: SQLQuery = backend == .postgres ? "SELECT current_setting('transaction_read_only')" : "SELECT @@session.tx_read_only"
        let before = try connection.execute(query).rows
        try connection.setReadOnly(true)
        let after = try connection.execute(query).rows
        #expect(before != after, "\(before) \(after)")
        try connection.setReadOnly(false)
        #expect(try connection.execute(query).rows == before)
        if backend == .postgres {
            let schema = "dc_schema_\(UInt32.random(in: 0...UInt32.max))"
            try connection.execute("CREATE SCHEMA \(unsafeSQL: schema)")
            defer { _ = try? connection.execute("DROP SCHEMA \(unsafeSQL: schema)") }
            let first = try connection.execute("SELECT current_schema()").decode(String.self)
            try connection.setSchema(schema)
            #expect(try connection.execute("SELECT current_schema()").decode(String.self) == [schema])
            #expect(first != [schema])
        }
    }
}
