import WrapperCore

/// A plugin that only changes how connections log in: both connect pipelines (the application's
/// and the monitors' force-connect) go through ``login(_:service:next:)``.
protocol LoginPlugin: Plugin {
    /// Opens the connection with the credentials this plugin supplies.
    func login(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection
}

extension LoginPlugin {
    public var subscribedMethods: PluginMethods { [.connect, .forceConnect] }

    public func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try login(request, service: service, next: next)
    }

    public func forceConnect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        try login(request, service: service, next: next)
    }
}
