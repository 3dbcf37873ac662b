import Synchronization

/// Picks one host for a role from a host list: the implementation of a strategy such as `random`.
public protocol HostSelector: Sendable {
    /// Chooses among the hosts of `role` that are available.
    ///
    /// - Throws: ``WrapperError`` with code ``WrapperError/Code/noHostAvailable`` when none qualifies,
    ///   or ``WrapperError/Code/invalidProperty`` for bad strategy properties.
    func select(from hosts: [HostInfo], role: HostRole, properties: Properties) throws -> HostInfo
}

extension HostSelector {
    /// The hosts of `role` that are available, or an error saying there are none.
    public func candidates(_ hosts: [HostInfo], role: HostRole) throws -> [HostInfo] {
        let eligible = hosts.filter { $0.role == role && $0.availability == .available }
        guard !eligible.isEmpty else {
            throw WrapperError(
                .noHostAvailable,
                "No available \(role.rawValue) among \(hosts.count) host(s): \(hosts.map(\.hostAndPort).joined(separator: ", ")).")
        }
        return eligible
    }
}

/// `random`: any eligible host, uniformly.
public struct RandomHostSelector: HostSelector {
    /// Creates the selector.
    public init() {}
    public func select(from hosts: [HostInfo], role: HostRole, properties: Properties) throws -> HostInfo {
        try candidates(hosts, role: role).randomElement()!
    }
}

/// `highest_weight`: the eligible host with the greatest ``HostInfo/weight``.
public struct HighestWeightHostSelector: HostSelector {
    /// Creates the selector.
    public init() {}
    public func select(from hosts: [HostInfo], role: HostRole, properties: Properties) throws -> HostInfo {
        try candidates(hosts, role: role).max { $0.weight < $1.weight }!
    }
}

/// `weighted_random`: a host drawn with probability proportional to its weight, the weights taken
/// from `weighted_random_host_weight_pairs` (`host:weight,...`), else `weighted_random_default_weight`.
public struct WeightedRandomHostSelector: HostSelector {
    /// Creates the selector.
    public init() {}
    public func select(from hosts: [HostInfo], role: HostRole, properties: Properties) throws -> HostInfo {
        let eligible = try candidates(hosts, role: role)
        let pairs = try parseHostWeightPairs(properties.value(WrapperProperties.weightedRandomHostWeightPairs),
                                             property: WrapperProperties.weightedRandomHostWeightPairs.name)
        let defaultWeight = try properties.value(WrapperProperties.weightedRandomDefaultWeight)
        let weights = eligible.map { pairs[$0.host] ?? defaultWeight }
        var draw = Int.random(in: 0..<weights.reduce(0, +))
        for (host, weight) in zip(eligible, weights) {
            if draw < weight { return host }
            draw -= weight
        }
        return eligible[eligible.count - 1]
    }
}

/// `round_robin`: hosts in name order, each repeated as often as its weight says
/// (`round_robin_host_weight_pairs`, else `round_robin_default_weight`).
///
/// The position is shared by every selection over the same cluster through this selector instance,
/// so connections opened one after another take turns; a registry owns one instance.
public final class RoundRobinHostSelector: HostSelector {
    private final class ClusterState: @unchecked Sendable {
        // Guarded by the selector's mutex.
        var lastHost: String?
        var remainingRepeats = 0
    }

    private let clusters = LockedValue<[String: ClusterState]>([:])

    /// Creates a selector with no history.
    public init() {}

    public func select(from hosts: [HostInfo], role: HostRole, properties: Properties) throws -> HostInfo {
        let eligible = try candidates(hosts, role: role).sorted { $0.host < $1.host }
        let pairs = try parseHostWeightPairs(properties.value(WrapperProperties.roundRobinHostWeightPairs),
                                             property: WrapperProperties.roundRobinHostWeightPairs.name)
        let defaultWeight = try properties.value(WrapperProperties.roundRobinDefaultWeight)
        return clusters.withLock { clusters in
            // Every host of the cluster maps to one shared state, as in the reference.
            var shared: ClusterState?
            for host in hosts where shared == nil { shared = clusters[host.host] }
            let state = shared ?? ClusterState()
            // Bounded: a process that sees endless host names does not grow without limit.
            if clusters.count > 10_000 { clusters.removeAll(keepingCapacity: true) }
            for host in hosts { clusters[host.host] = state }

            if let last = state.lastHost, state.remainingRepeats > 0,
                let current = eligible.first(where: { $0.host == last })
            {
                state.remainingRepeats -= 1
                return current
            }
            let nextIndex: Int
            if let last = state.lastHost, let index = eligible.firstIndex(where: { $0.host > last }) {
                nextIndex = index
            } else {
                nextIndex = 0
            }
            let chosen = eligible[nextIndex]
            state.lastHost = chosen.host
            state.remainingRepeats = (pairs[chosen.host] ?? defaultWeight) - 1
            return chosen
        }
    }
}

/// Parses `host:weight,host:weight`; weights are integers ≥ 1.
func parseHostWeightPairs(_ text: String, property: String) throws -> [String: Int] {
    var result: [String: Int] = [:]
    for pair in text.split(separator: ",") {
        let trimmed = String(pair).trimmingWhitespace()
        if trimmed.isEmpty { continue }
        guard let colon = trimmed.lastIndex(of: ":"),
            let weight = Int(trimmed[trimmed.index(after: colon)...].trimmingWhitespace()), (1...1_000_000).contains(weight),
            !trimmed[..<colon].trimmingWhitespace().isEmpty
        else {
            throw WrapperError(
                .invalidProperty,
                "Property '\(property)' has an invalid entry '\(trimmed)': expected <host>:<weight> with an integer weight from 1 to 1000000.")
        }
        result[trimmed[..<colon].trimmingWhitespace()] = weight
    }
    return result
}

/// The host selection strategies a registry offers by name.
public final class HostSelectors: Sendable {
    private let selectors: LockedValue<[String: any HostSelector]>

    /// The reference's built-in strategies: `random`, `round_robin`, `weighted_random`, `highest_weight`.
    public init() {
        selectors = LockedValue([
            "random": RandomHostSelector(),
            "round_robin": RoundRobinHostSelector(),
            "weighted_random": WeightedRandomHostSelector(),
            "highest_weight": HighestWeightHostSelector(),
        ])
    }

    /// The selector for a strategy, if there is one.
    public func selector(for strategy: String) -> (any HostSelector)? {
        selectors.withLock { $0[strategy] }
    }

    /// Adds or replaces a strategy.
    public func register(_ strategy: String, _ selector: any HostSelector) {
        selectors.withLock { $0[strategy] = selector }
    }

    /// The strategy names, sorted.
    public var strategies: [String] { selectors.withLock { $0.keys.sorted() } }
}
