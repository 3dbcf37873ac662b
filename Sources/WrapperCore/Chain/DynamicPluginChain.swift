/// A chain built at run time, usually by ``PluginRegistry`` from a `plugins` property.
///
/// The pipeline of every method is computed once, when the chain is built: only the plugins
/// subscribed to that method are in it, so an unsubscribed plugin costs nothing and a method nobody
/// subscribes to goes straight to the driver. The chain is itself a ``Plugin``, so it can be
/// embedded in a static ``PluginChain``.
public struct DynamicPluginChain: Plugin {
    /// The plugins, outermost first.
    public let plugins: [any Plugin]
    @usableFromInline let pipelines: Pipelines
    @usableFromInline let subscribed: PluginMethods

    /// Builds a chain from plugins, outermost first.
    public init(_ plugins: [any Plugin]) {
        self.plugins = plugins
        self.subscribed = plugins.reduce(PluginMethods.none) { $0.union($1.subscribedMethods) }
        self.pipelines = Pipelines(plugins)
    }

    /// The plugins that run for `method`, outermost first.
    public func pipeline(for method: PluginMethod) -> [any Plugin] {
        Array(pipelines.byMethod[Int(method.id)])
    }

    @inlinable
    public var subscribedMethods: PluginMethods { subscribed }

    @inlinable
    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        let pipeline = pipelines.executeByMethod[Int(call.method.id)]
        if pipeline.isEmpty { return try next(call, service) }
        return try Self.run(pipeline, 0, call, service, next)
    }

    @inlinable
    static func run(
        _ pipeline: UnsafeBufferPointer<Unmanaged<ExecuteBox>>, _ index: Int, _ call: MethodCall,
        _ service: PluginService, _ next: ExecuteNext
    ) throws -> CallResult {
        if index == pipeline.count { return try next(call, service) }
        // The boxes are owned by `pipelines` for the chain's lifetime: no retain per call.
        return try pipeline[index]._withUnsafeGuaranteedRef { box in
            try box.execute(call, service) { call, service in try run(pipeline, index + 1, call, service, next) }
        }
    }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try connectFrom(pipelines.byMethod[Int(PluginMethod.connect.id)][...], request, service, force: false, next)
    }

    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try connectFrom(pipelines.byMethod[Int(PluginMethod.forceConnect.id)][...], request, service, force: true, next)
    }

    private func connectFrom(
        _ pipeline: ArraySlice<any Plugin>, _ request: ConnectRequest, _ service: PluginService, force: Bool,
        _ next: ConnectNext
    ) throws -> any DriverConnection {
        guard let plugin = pipeline.first else { return try next(request, service) }
        // `_connect` checks the plugin to skip per call: one chain serves requests that skip different plugins.
        // The closures are written inline so they stay non-escaping (no allocation per plugin).
        if force {
            return try plugin._forceConnect(request, service) { request, service in
                try connectFrom(pipeline.dropFirst(), request, service, force: force, next)
            }
        }
        return try plugin._connect(request, service) { request, service in
            try connectFrom(pipeline.dropFirst(), request, service, force: force, next)
        }
    }

    public func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
        try initFrom(pipelines.byMethod[Int(PluginMethod.initHostProvider.id)][...], properties, service, next)
    }

    private func initFrom(
        _ pipeline: ArraySlice<any Plugin>, _ properties: Properties, _ service: PluginService,
        _ next: InitHostProviderNext
    ) throws {
        guard let plugin = pipeline.first else { return try next(service) }
        try plugin.initHostProvider(properties, service: service) { service in
            try initFrom(pipeline.dropFirst(), properties, service, next)
        }
    }

    public func notifyConnectionChanged(_ changes: Set<ConnectionEvent>, service: PluginService) -> OldConnectionSuggestedAction {
        pipelines.byMethod[Int(PluginMethod.notifyConnectionChanged.id)].reduce(.noOpinion) {
            $0.merged(with: $1.notifyConnectionChanged(changes, service: service))
        }
    }

    public func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
        for plugin in pipelines.byMethod[Int(PluginMethod.notifyHostListChanged.id)] {
            plugin.notifyHostListChanged(changes, service: service)
        }
    }

    public func acceptsStrategy(_ strategy: String, role: HostRole, service: PluginService) -> Bool {
        pipelines.byMethod[Int(PluginMethod.acceptsStrategy.id)].contains {
            $0.acceptsStrategy(strategy, role: role, service: service)
        }
    }

    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]?, service: PluginService) throws -> HostInfo? {
        for plugin in pipelines.byMethod[Int(PluginMethod.getHostInfoByStrategy.id)] {
            if let host = try plugin.hostInfo(byStrategy: strategy, role: role, hosts: hosts, service: service) {
                return host
            }
        }
        return nil
    }

    public func releaseResources() { plugins.forEach { $0.releaseResources() } }

    public func plugin<P: Plugin>(ofType type: P.Type) -> P? {
        if let match = self as? P { return match }
        for plugin in plugins { if let found = plugin.plugin(ofType: type) { return found } }
        return nil
    }
}

extension DynamicPluginChain {
    /// A plugin behind a class reference, so the hot path calls it without copying an existential.
    @usableFromInline
    class ExecuteBox: @unchecked Sendable {
        @usableFromInline
        func execute(_ call: MethodCall, _ service: PluginService, _ next: ExecuteNext) throws -> CallResult {
            try next(call, service)
        }
    }

    @usableFromInline
    final class TypedExecuteBox<P: Plugin>: ExecuteBox, @unchecked Sendable {
        let plugin: P
        init(_ plugin: P) { self.plugin = plugin }
        @usableFromInline
        override func execute(_ call: MethodCall, _ service: PluginService, _ next: ExecuteNext) throws -> CallResult {
            try plugin.execute(call, service: service, next: next)
        }
    }

    static func box(_ plugin: any Plugin) -> ExecuteBox {
        func open<P: Plugin>(_ plugin: P) -> ExecuteBox { TypedExecuteBox(plugin) }
        return open(plugin)
    }

    /// The per-method pipelines, shared between copies of the chain.
    @usableFromInline
    final class Pipelines: @unchecked Sendable {
        /// Indexed by ``PluginMethod/id``; methods with the same subscribers share one array.
        let byMethod: [ContiguousArray<any Plugin>]
        /// The execute pipelines as unretained boxes, indexed like ``byMethod``.
        @usableFromInline let executeByMethod: [UnsafeBufferPointer<Unmanaged<ExecuteBox>>]
        // Owns the boxes and the buffers `executeByMethod` points into; immutable after init.
        private let boxes: [ExecuteBox]
        private let buffers: [UnsafeMutableBufferPointer<Unmanaged<ExecuteBox>>]

        init(_ plugins: [any Plugin]) {
            let boxes = plugins.map(DynamicPluginChain.box)
            var bySignature: [[Int]: (ContiguousArray<any Plugin>, UnsafeBufferPointer<Unmanaged<ExecuteBox>>)] = [:]
            var byMethod: [ContiguousArray<any Plugin>] = []
            var executeByMethod: [UnsafeBufferPointer<Unmanaged<ExecuteBox>>] = []
            var buffers: [UnsafeMutableBufferPointer<Unmanaged<ExecuteBox>>] = []
            for id in 0..<64 {
                let bit: UInt64 = 1 << UInt64(id)
                let members = plugins.indices.filter { plugins[$0].subscribedMethods.rawValue & bit != 0 }
                if let shared = bySignature[members] {
                    byMethod.append(shared.0)
                    executeByMethod.append(shared.1)
                    continue
                }
                let pipeline = ContiguousArray(members.map { plugins[$0] })
                let buffer = UnsafeMutableBufferPointer<Unmanaged<ExecuteBox>>.allocate(capacity: members.count)
                for (offset, member) in members.enumerated() {
                    (buffer.baseAddress! + offset).initialize(to: Unmanaged.passUnretained(boxes[member]))
                }
                buffers.append(buffer)
                bySignature[members] = (pipeline, UnsafeBufferPointer(buffer))
                byMethod.append(pipeline)
                executeByMethod.append(UnsafeBufferPointer(buffer))
            }
            self.byMethod = byMethod
            self.executeByMethod = executeByMethod
            self.boxes = boxes
            self.buffers = buffers
        }

        deinit {
            for buffer in buffers { buffer.deallocate() }
        }
    }
}
