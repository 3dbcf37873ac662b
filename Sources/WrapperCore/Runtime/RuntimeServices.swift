/// A service that holds threads or connections and must be stopped with its runtime.
public protocol RuntimeService: AnyObject, Sendable {
    /// Stops the service's threads and closes what it holds.
    func shutdown()
}

/// Shared machinery of a runtime, one instance per type, created on first use.
///
/// Plugins keep their shared state here (token caches, secret caches, host monitors) rather than
/// in globals, so two runtimes never share it and ``WrapperRuntime/shutdown()`` stops it all.
public final class RuntimeServices: Sendable {
    private let storage = LockedValue<[ObjectIdentifier: any Sendable]>([:])

    /// Creates an empty set of services.
    public init() {}

    /// The runtime's instance of `type`, created by `create` on first use.
    public func service<Service: Sendable>(_ type: Service.Type, create: () -> Service) -> Service {
        storage.withLock { services in
            if let existing = services[ObjectIdentifier(type)] as? Service { return existing }
            let created = create()
            services[ObjectIdentifier(type)] = created
            return created
        }
    }

    /// Stops every service that has threads.
    public func shutdown() {
        let all = storage.withLock { services in
            defer { services.removeAll() }
            return Array(services.values)
        }
        for service in all { (service as? any RuntimeService)?.shutdown() }
    }
}
