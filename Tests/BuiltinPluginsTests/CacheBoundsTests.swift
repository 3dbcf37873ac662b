import Foundation
import Testing
@testable import BuiltinPlugins
@testable import WrapperCore

@Suite("Caches are bounded and swept")
struct CacheBoundsTests {
    @Test("the token, secret and credential cache keeps at most its capacity, sweeping expired entries first")
    func expiringCache() {
        let cache = ExpiringCache<String>(capacity: 3)
        let now = Date()
        cache.store("old", for: "a", until: now - 1, now: now)       // already expired
        cache.store("b", for: "b", until: now + 60, now: now)
        cache.store("c", for: "c", until: now + 30, now: now)
        cache.store("d", for: "d", until: now + 90, now: now)         // full: the expired one goes
        #expect(cache.count == 3)
        #expect(cache.value(for: "b", now: now) == "b")
        cache.store("e", for: "e", until: now + 120, now: now)        // full again: the soonest to expire goes
        #expect(cache.count == 3)
        #expect(cache.value(for: "c", now: now) == nil)
        #expect(cache.value(for: "e", now: now) == "e")
        for index in 0..<1000 { cache.store("x", for: "k\(index)", until: now + 10, now: now) }
        #expect(cache.count == 3)
    }

    @Test("data_cache keeps at most data_cache_max_entries")
    func queryCache() {
        let cache = QueryCache(maxEntries: 5)
        for index in 0..<100 { cache.store(QueryResult(), for: "q\(index)", ttl: .seconds(60)) }
        #expect(cache.count == 5)
    }
}
