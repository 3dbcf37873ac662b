import Testing
@testable import WrapperCore

@Suite("Host selectors")
struct HostSelectorTests {
    let hosts = [
        HostInfo(host: "w", port: 1, role: .writer),
        HostInfo(host: "r-c", port: 1, role: .reader),
        HostInfo(host: "r-a", port: 1, role: .reader, weight: 200),
        HostInfo(host: "r-b", port: 1, role: .reader, availability: .unavailable, weight: 500),
    ]

    @Test("random picks only available hosts of the role")
    func random() throws {
        for _ in 0..<50 {
            let host = try RandomHostSelector().select(from: hosts, role: .reader, properties: [:])
            #expect(["r-a", "r-c"].contains(host.host))
        }
        #expect(try RandomHostSelector().select(from: hosts, role: .writer, properties: [:]).host == "w")
        let error = try #require(throws: WrapperError.self) {
            try RandomHostSelector().select(from: [hosts[0]], role: .reader, properties: [:])
        }
        #expect(error.code == .noHostAvailable)
    }

    @Test("round robin goes in name order and honours weights")
    func roundRobin() throws {
        let selector = RoundRobinHostSelector()
        let plain = try (0..<4).map { _ in try selector.select(from: hosts, role: .reader, properties: [:]).host }
        #expect(plain == ["r-a", "r-c", "r-a", "r-c"])
        let weighted = RoundRobinHostSelector()
        let properties: Properties = ["round_robin_host_weight_pairs": "r-a:2", "round_robin_default_weight": "1"]
        let picks = try (0..<6).map { _ in try weighted.select(from: hosts, role: .reader, properties: properties).host }
        #expect(picks == ["r-a", "r-a", "r-c", "r-a", "r-a", "r-c"])
    }

    @Test("bad weight pairs are typed errors", arguments: ["r-a", "r-a:0", "r-a:x", ":3", "r-a:9223372036854775807"])
    func badPairs(pairs: String) throws {
        let error = try #require(throws: WrapperError.self) {
            try RoundRobinHostSelector().select(from: hosts, role: .reader, properties: ["round_robin_host_weight_pairs": pairs])
        }
        #expect(error.code == .invalidProperty)
        #expect(error.message.contains("round_robin_host_weight_pairs"))
    }

    @Test("weighted random follows the configured weights")
    func weightedRandom() throws {
        let selector = WeightedRandomHostSelector()
        let properties: Properties = ["weighted_random_host_weight_pairs": "r-a:9,r-c:1"]
        var counts: [String: Int] = [:]
        for _ in 0..<2000 { counts[try selector.select(from: hosts, role: .reader, properties: properties).host, default: 0] += 1 }
        #expect(counts.keys.sorted() == ["r-a", "r-c"])
        #expect(counts["r-a", default: 0] > counts["r-c", default: 0] * 4)
    }

    @Test("highest weight picks the heaviest available host")
    func highestWeight() throws {
        #expect(try HighestWeightHostSelector().select(from: hosts, role: .reader, properties: [:]).host == "r-a")
    }

    @Test("host equality and urls follow the reference")
    func hostModel() {
        let a = HostInfo(host: "h", port: 5432, role: .reader, weight: 1, aliases: ["x"])
        let b = HostInfo(host: "h", port: 5432, role: .reader, weight: 9)
        #expect(a == b)
        #expect(a.url == "h:5432/")
        #expect(a.allAliases == ["x", "h:5432"])
        #expect(HostInfo(host: "::1", port: 5).hostAndPort == "[::1]:5")
        #expect(HostInfo(host: "h").hostAndPort == "h")
        var down = a
        down.availability = .unavailable
        #expect(HostInfo.events(from: a, to: down) == [.wentDown, .hostChanged])
    }
}
