// A short tour of the three ways to use the wrapper, on the in-memory driver.
import BuiltinPlugins
import InMemoryDriver
import WrapperCore

/// 1. A plugin is a struct that overrides only the hooks it needs.
struct AuditPlugin: Plugin {
    var subscribedMethods: PluginMethods { [.cursorExecute] }
    func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        print("  audit: \(call.sql) on \(service.currentHostInfo?.hostAndPort ?? "?")")
        return try next(call, service)
    }
}

let driver = InMemoryDriver()

print("1. A struct plugin and 2. a builder chain:")
let verbose = true
let builderConnection = try WrapperConnection.open("postgresql://app@db1:5432,db2:5432/shop", driver: driver, registry: .default) {
    AuditPlugin()
    if verbose { ExecuteTimePlugin() }
}
try builderConnection.execute("SELECT 1")
try builderConnection.execute("SELECT 2")
let figures = ExecuteTimePlugin.figures(of: builderConnection)
print("  execute_time: \(figures.count) calls, \(figures.total) ns in total")

print("3. Plugins by name from the `plugins` property:")
let namedConnection = try WrapperConnection.open(
    "postgresql://app@db1:5432/shop?plugins=dev,execute_time", driver: driver, registry: .default)
let simulator = DeveloperPlugin.simulator(of: namedConnection)!
simulator.raiseOnNextCall(WrapperError(.network, "simulated network failure"), method: .connectionCommit)
do {
    try namedConnection.commit()
} catch let error as WrapperError {
    print("  dev plugin raised: \(error)")
}
try namedConnection.commit()
print("  the next commit succeeded; execute_time saw \(ExecuteTimePlugin.figures(of: namedConnection).count) calls")

print("Bad input gets a typed error:")
do {
    _ = try WrapperConnection.open("postgresql://app:secret@db1/shop?plugins=nope", driver: driver, registry: .default)
} catch {
    print("  \(error)")
}
try builderConnection.close()
try namedConnection.close()
