import BuiltinPlugins
import ClusterLab
import Foundation
import Testing
import WrapperCore
@testable import DriverDialects

/// The cluster lab, found through the variables `scripts/cluster-lab.sh env` prints (with defaults
/// matching the script), and driven through the script.
enum Lab {
    static func env(_ name: String, _ fallback: String) -> String { ClusterLab.environment(name, fallback) }
    static var hostsFile: String { ClusterLab.hostsFile }
    static var user: String { env("CLUSTER_LAB_USER", "wrapper") }
    static var password: String { env("CLUSTER_LAB_PASSWORD", "wrapper_pw") }
    static var database: String { env("CLUSTER_LAB_DATABASE", "wrapper_test") }
    static var pgPort: Int { Int(env("CLUSTER_LAB_PG_PORT", "55440"))! }
    static var myPort: Int { Int(env("CLUSTER_LAB_MY_PORT", "53310"))! }
    static var pgClusterEndpoint: String { env("CLUSTER_LAB_PG_CLUSTER_ENDPOINT", "labpg.cluster-xyz123.us-east-1.rds.amazonaws.com") }
    static var pgReaderEndpoint: String { env("CLUSTER_LAB_PG_READER_ENDPOINT", "labpg.cluster-ro-xyz123.us-east-1.rds.amazonaws.com") }
    static var myClusterEndpoint: String { env("CLUSTER_LAB_MY_CLUSTER_ENDPOINT", "labmy.cluster-xyz123.us-east-1.rds.amazonaws.com") }

    static func pgHost(_ node: Int) -> String { "127.0.0.1\(node)" }
    static func myHost(_ node: Int) -> String { "127.0.0.2\(node)" }

    /// Runs a lab command, returning its output; a failure is a test failure.
    @discardableResult
    static func run(_ arguments: String...) throws -> String { try ClusterLab.run(arguments) }

    /// The address the lab's hosts file gives a name.
    static func address(of host: String) -> String { FileResolver(path: hostsFile).address(of: host) }

    /// A runtime whose resolver reads the lab's hosts file.
    static func runtime() -> WrapperRuntime {
        WrapperRuntime(resolver: FileResolver(path: hostsFile))
    }

    /// A registry on its own runtime, so each test has its own monitors.
    static func registry(topologyMonitorDisposal: Duration = .seconds(900)) -> PluginRegistry {
        let registry = PluginRegistry(
            runtime: WrapperRuntime(resolver: FileResolver(path: hostsFile), topologyMonitorDisposal: topologyMonitorDisposal))
        for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + FailoverPluginFactories.make()
            + AuthPluginFactories.make()
        {
            try? registry.register(factory)
        }
        registry.addOrReplaceProfile(FailoverPluginFactories.fastFailoverProfile)
        return registry
    }

    static func pgURL(host: String, _ extra: String = "plugins=") -> String {
        "postgresql://\(user):\(password)@\(host):\(pgPort)/\(database)?\(extra)\(patternForIP(host))"
    }

    static func myURL(host: String, _ extra: String = "plugins=") -> String {
        "mysql://\(user):\(password)@\(host):\(myPort)/\(database)?\(extra)\(patternForIP(host))"
    }

    /// Reached through an IP, a cluster's instance names cannot be derived: the lab's instance
    /// ids are its nodes' addresses, so the pattern is the id itself.
    static func patternForIP(_ host: String) -> String {
        RdsURL.isIPAddress(host) ? "&cluster_instance_host_pattern=%3F" : ""
    }

    /// Promotes the standby that holds every acknowledged commit; returns its name.
    @discardableResult
    static func promoteAuto(_ engine: Engine) throws -> String {
        try ClusterLab.promoteAuto(engine: engine == .postgres ? "pg" : "mariadb")
    }

    /// Waits until `condition` holds, up to `timeout`.
    static func eventually(_ timeout: Duration = .seconds(15), _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }
}

/// The lab's two engines.
enum Engine: String, CaseIterable, CustomStringConvertible, Sendable {
    case postgres
    case mariadb

    var description: String { rawValue }
    var driver: any DriverDialect { self == .postgres ? PostgresDriver() : MariaDBDriver() }
    var clusterEndpoint: String { self == .postgres ? Lab.pgClusterEndpoint : Lab.myClusterEndpoint }
    var nodes: [String] { self == .postgres ? ["pg-1", "pg-2", "pg-3"] : ["my-1", "my-2"] }
    /// The node name of a topology host (`pg-2.xyz123...` or an address).
    func node(of host: HostInfo?) -> String? { host.flatMap { ClusterLab.node(of: $0.host) } }
    func url(_ extra: String) -> String {
        self == .postgres ? Lab.pgURL(host: clusterEndpoint, extra) : Lab.myURL(host: clusterEndpoint, extra)
    }
    func sleep(_ seconds: Int) -> SQLQuery { self == .postgres ? "SELECT pg_sleep(\(seconds))" : "SELECT SLEEP(\(seconds))" }
}
