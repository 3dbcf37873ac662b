import BuiltinPlugins
import Foundation
import Glibc
import Testing
import WrapperCore
@testable import DriverDialects

/// The cluster lab, found through the variables `scripts/cluster-lab.sh env` prints (with defaults
/// matching the script), and driven through the script.
enum Lab {
    static func env(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment[name] ?? fallback
    }

    static var script: String {
        env("CLUSTER_LAB_SCRIPT", URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/cluster-lab.sh").path)
    }
    static var hostsFile: String { env("CLUSTER_LAB_HOSTS_FILE", "/dev/shm/cluster-lab/hosts") }
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
    ///
    /// posix_spawn and waitpid, not Foundation's Process: the servers the script leaves running
    /// confuse Process's exit monitoring, and they would hold a pipe open; output goes to a file.
    @discardableResult
    static func run(_ arguments: String...) throws -> String {
        let log = "/tmp/cluster-lab-\(UUID().uuidString).log"
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ["/bin/bash", script] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw WrapperError(.internalError, "could not start cluster-lab.sh: \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let exitCode = (status >> 8) & 0xff
        guard status & 0x7f == 0, exitCode == 0 else {
            throw WrapperError(.internalError, "cluster-lab.sh \(arguments.joined(separator: " ")) failed (\(exitCode)): \(output)")
        }
        return output
    }

    /// The address the lab's hosts file gives a name.
    static func address(of host: String) -> String { FileResolver(path: hostsFile).address(of: host) }

    /// A runtime whose resolver reads the lab's hosts file.
    static func runtime() -> WrapperRuntime {
        WrapperRuntime(resolver: FileResolver(path: hostsFile))
    }

    /// A registry on its own runtime, so each test has its own monitors.
    static func registry() -> PluginRegistry {
        let registry = PluginRegistry(runtime: runtime())
        for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + FailoverPluginFactories.make()
            + AuthPluginFactories.make()
        {
            try? registry.register(factory)
        }
        registry.addOrReplaceProfile(FailoverPluginFactories.fastFailoverProfile)
        return registry
    }

    static func pgURL(host: String, _ extra: String = "plugins=") -> String {
        "postgresql://\(user):\(password)@\(host):\(pgPort)/\(database)?\(extra)"
    }

    static func myURL(host: String, _ extra: String = "plugins=") -> String {
        "mysql://\(user):\(password)@\(host):\(myPort)/\(database)?\(extra)"
    }

    /// Promotes the standby that holds every acknowledged commit; returns its name.
    @discardableResult
    static func promoteAuto(_ engine: Engine) throws -> String {
        let output = try engine == .postgres ? run("promote", "auto") : run("promote", "auto", "--engine", "mariadb")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("promoted: ") }) else {
            throw WrapperError(.internalError, "promote printed no 'promoted:' line: \(output)")
        }
        return String(line.dropFirst("promoted: ".count)).trimmingCharacters(in: .whitespaces)
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
    func node(of host: HostInfo?) -> String? {
        guard let host else { return nil }
        if let name = nodes.first(where: { host.host.hasPrefix("\($0).") }) { return name }
        let address = Lab.address(of: host.host)
        return nodes.first { address == (self == .postgres ? Lab.pgHost(Int($0.suffix(1))!) : Lab.myHost(Int($0.suffix(1))!)) }
    }
    func url(_ extra: String) -> String {
        self == .postgres ? Lab.pgURL(host: clusterEndpoint, extra) : Lab.myURL(host: clusterEndpoint, extra)
    }
    func sleep(_ seconds: Int) -> String { self == .postgres ? "SELECT pg_sleep(\(seconds))" : "SELECT SLEEP(\(seconds))" }
}
