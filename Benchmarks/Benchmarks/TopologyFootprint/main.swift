// Threads and memory the wrapper holds for N connections to one lab cluster, and the topology
// query's round trip. Needs the cluster lab:
//   CLUSTER_LAB_MAX_CONNECTIONS=1100 scripts/cluster-lab.sh up
//   swift run -c release TopologyFootprint <mariadb|postgres> <connections>
import BuiltinPlugins
import DriverDialects
import Foundation
import WrapperCore

func env(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

/// A field of /proc/self/status, in its own unit (kB for memory).
func status(_ field: String) -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
    }
    return -1
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let count = Int(arguments[2]) else {
    print("usage: TopologyFootprint <mariadb|postgres> <connections>")
    exit(2)
}
let mariadb = arguments[1] == "mariadb"
let host = mariadb ? "127.0.0.21" : "127.0.0.11"
let port = mariadb ? env("CLUSTER_LAB_MY_PORT", "53310") : env("CLUSTER_LAB_PG_PORT", "55440")
let url = "\(mariadb ? "mysql" : "postgresql")://wrapper:wrapper_pw@\(host):\(port)/wrapper_test?plugins=aurora_connection_tracker"
let driver: any DriverDialect = mariadb ? MariaDBDriver() : PostgresDriver()
let registry = PluginRegistry.default

let before = (threads: status("Threads"), rss: status("VmRSS"))
var connections: [WrapperConnection] = []
for _ in 0..<count {
    connections.append(try WrapperConnection.open(url, driver: driver, registry: registry))
}
for connection in connections { _ = try connection.execute("SELECT 1") }
Thread.sleep(forTimeInterval: 0.5)
let after = (threads: status("Threads"), rss: status("VmRSS"))
let monitors = registry.runtime.topologyMonitors.count
let hosts = connections[0].service.allHosts.count

// The topology query's round trip, over the first connection's own server connection.
let dialect = connections[0].service.databaseDialect!
let topology = dialect.topology!
let connection = connections[0].service.currentConnection!
var samples: [Double] = []
for _ in 0..<300 {
    let start = ContinuousClock.now
    _ = try topology.hosts(connection: connection, driver: driver, pattern: nil, defaultPort: 0, logger: .wrapperNoOp)
    let elapsed = ContinuousClock.now - start
    samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
}
samples.sort()
print("\(arguments[1]) connections=\(count) dialect=\(dialect.code) hosts=\(hosts) monitors=\(monitors) "
    + "threads=\(before.threads)->\(after.threads) rss_kB=\(before.rss)->\(after.rss) "
    + "rss_per_connection_kB=\((after.rss - before.rss) / max(1, count)) "
    + "topology_query_us_p50=\(Int(samples[samples.count / 2])) p90=\(Int(samples[samples.count * 9 / 10]))")
for connection in connections { try connection.close() }
registry.runtime.shutdown()
