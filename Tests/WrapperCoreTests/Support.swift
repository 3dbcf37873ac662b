import InMemoryDriver
import Synchronization
import WrapperCore

/// Records the order in which hooks ran, shared by the plugins of one test.
final class Trace: Sendable {
    private let entries = LockedValue<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
    func reset() { entries.withLock { $0.removeAll() } }
}

/// A plugin that records every hook it sees.
struct Recording: Plugin {
    let name: String
    let trace: Trace
    var subscribed: PluginMethods = .all
    var suggestion: OldConnectionSuggestedAction = .noOpinion
    var strategy: String?
    var pickedHost: HostInfo?

    var subscribedMethods: PluginMethods { subscribed }

    func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        trace.add("\(name).before")
        defer { trace.add("\(name).after") }
        return try next(call, service)
    }

    func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        trace.add("\(name).connect")
        return try next(request, service)
    }

    func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        trace.add("\(name).forceConnect")
        return try next(request, service)
    }

    func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        trace.add("\(name).initHostProvider")
        try next(service)
    }

    func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        trace.add("\(name).connectionChanged\(changes.contains(.initialConnection) ? ".initial" : ".switch")")
        return suggestion
    }

    func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        trace.add("\(name).hostListChanged")
    }

    func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        trace.add("\(name).accepts")
        return strategy == self.strategy
    }

    func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        trace.add("\(name).hostInfo")
        return strategy == self.strategy ? pickedHost : nil
    }
}

/// A pass-through plugin of another type, for builder tests.
struct Other: Plugin {
    let trace: Trace
    var subscribedMethods: PluginMethods { [.cursorExecute] }
    func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        trace.add("other")
        return try next(call, service)
    }
}

func openConnection<Body: Plugin>(
    _ url: String = "postgresql://u@writer:5432,reader1:5432,reader2:5432/db", driver: InMemoryDriver = InMemoryDriver(),
    properties: Properties = [:], chain: PluginChain<Body>
) throws -> WrapperConnection {
    try WrapperConnection.open(url, properties: properties, driver: driver, chain: chain, runtime: WrapperRuntime())
}

func registryWith(_ codes: [(String, PluginWeight)], trace: Trace) throws -> PluginRegistry {
    let registry = PluginRegistry()
    for (code, weight) in codes {
        try registry.register(code: code, weight: weight) { _ in Recording(name: code, trace: trace) }
    }
    return registry
}
