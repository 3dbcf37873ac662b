// A short tour of the wrapper against the throwaway PostgreSQL and MariaDB servers that
// scripts/demo.sh starts: the three ways to use plugins, typed rows, error simulation and abort.
import BuiltinPlugins
import DriverDialects
import Foundation
import WrapperCore

/// 1. A plugin is a struct that overrides only the hooks it needs.
struct AuditPlugin: Plugin {
    var subscribedMethods: PluginMethods { [.cursorExecute] }
    func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        print("    audit: \(call.sql.prefix(60)) on \(service.currentHostInfo?.hostAndPort ?? "?")")
        return try next(call, service)
    }
}

func environment(_ name: String, _ fallback: String) -> String {
    ProcessInfo.processInfo.environment[name] ?? fallback
}

struct Server {
    let name: String
    let url: String
    let driver: any DriverDialect
    let sleepSQL: SQLQuery
}

let servers = [
    Server(
        name: "PostgreSQL",
        url: "postgresql://\(environment("WRAPPER_PG_USER", "wrapper")):\(environment("WRAPPER_PG_PASSWORD", "wrapper_pw"))@"
            + "\(environment("WRAPPER_PG_HOST", "127.0.0.1")):\(environment("WRAPPER_PG_PORT", "55432"))/"
            + environment("WRAPPER_PG_DATABASE", "wrapper_test"),
        driver: PostgresDriver(), sleepSQL: "SELECT pg_sleep(30)"),
    Server(
        name: "MariaDB",
        url: "mysql://\(environment("WRAPPER_MYSQL_USER", "wrapper")):\(environment("WRAPPER_MYSQL_PASSWORD", "wrapper_pw"))@"
            + "\(environment("WRAPPER_MYSQL_HOST", "127.0.0.1")):\(environment("WRAPPER_MYSQL_PORT", "53306"))/"
            + environment("WRAPPER_MYSQL_DATABASE", "wrapper_test"),
        driver: MariaDBDriver(), sleepSQL: "SELECT SLEEP(30)"),
]

for server in servers {
    print("== \(server.name)")
    print("  1-2. A struct plugin in a builder chain, with execute_time:")
    let verbose = true
    let connection = try WrapperConnection.open(server.url, driver: server.driver, registry: .default) {
        AuditPlugin()
        if verbose { ExecuteTimePlugin() }
    }
    try connection.execute("CREATE TEMPORARY TABLE demo_orders (id int, item varchar(40), price decimal(8,2))")
    for (id, item, price) in [(1, "tea", "3.50"), (2, "scones", "4.25")] {
        try connection.execute("INSERT INTO demo_orders VALUES (\(id), \(item), \(unsafeSQL: price))")
    }
    let rows = try connection.execute("SELECT id, item, price FROM demo_orders ORDER BY id").decode(Int.self, String.self, Decimal.self)
    for (id, item, price) in rows { print("    order \(id): \(item) at \(price)") }
    let figures = ExecuteTimePlugin.figures(of: connection)
    print("    execute_time: \(figures.count) calls, \(figures.total / 1000) µs in total")
    try connection.close()

    print("  3. Plugins by name from the URL, and an injected failure:")
    let named = try WrapperConnection.open(server.url + "?plugins=dev,execute_time", driver: server.driver, registry: .default)
    DeveloperPlugin.simulator(of: named)?.raiseOnNextCall(WrapperError(.network, "simulated network failure"), method: .connectionCommit)
    do { try named.commit() } catch let error as WrapperError { print("    dev plugin raised: \(error)") }
    try named.commit()
    print("    the next commit went through")

    print("  Abort from another thread during a 30 s sleep:")
    let start = ContinuousClock.now
    Thread {
        Thread.sleep(forTimeInterval: 0.5)
        named.abort()
    }.start()
    do { try named.execute(server.sleepSQL) } catch let error as WrapperError {
        print("    returned after \(ContinuousClock.now - start) with \(error.code)")
    }
    try named.close()

    print("  Bad input gets a typed error, without the password:")
    do {
        _ = try WrapperConnection.open(server.url.replacingOccurrences(of: ":wrapper_pw@", with: ":not-the-password@") + "?plugins=",
                                       driver: server.driver, registry: .default)
    } catch { print("    \(error)") }
    do {
        _ = try WrapperConnection.open(server.url + "?plugins=failover_v2", driver: server.driver, registry: .default)
    } catch { print("    \(error)") }
}
