import Foundation
import Glibc
import WrapperCore

/// The cluster lab, driven through `scripts/cluster-lab.sh` and its proxy control files.
enum Lab {
    static func env(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }
    static var script: String { env("CLUSTER_LAB_SCRIPT", "../scripts/cluster-lab.sh") }
    static var hostsFile: String { env("CLUSTER_LAB_HOSTS_FILE", "/dev/shm/cluster-lab/hosts") }
    static var controlDirectory: String { env("CLUSTER_LAB_PROXY_CONTROL_DIR", "/dev/shm/cluster-lab/proxy") }
    static var domain: String { env("CLUSTER_LAB_DOMAIN", "xyz123.us-east-1.rds.amazonaws.com") }

    static func url(host: String, _ query: String) -> String {
        "postgresql://\(env("CLUSTER_LAB_USER", "wrapper")):\(env("CLUSTER_LAB_PASSWORD", "wrapper_pw"))@\(host):"
            + "\(env("CLUSTER_LAB_PG_PORT", "55440"))/\(env("CLUSTER_LAB_DATABASE", "wrapper_test"))?\(query)"
    }

    static var clusterEndpoint: String { env("CLUSTER_LAB_PG_CLUSTER_ENDPOINT", "labpg.cluster-\(domain)") }
    static func instance(_ node: String) -> String { "\(node).\(domain)" }

    /// The lab node behind a host name (pg-N listens on 127.0.0.1N).
    static func node(of host: String) -> String {
        let address = FileResolver(path: hostsFile).address(of: host)
        if address.hasPrefix("127.0.0.1"), address.count == 10, let digit = address.last { return "pg-\(digit)" }
        return String(host.prefix { $0 != "." })
    }

    /// Runs a lab command (posix_spawn; output to a file, since lab daemons would hold a pipe open).
    @discardableResult
    static func run(_ arguments: String...) throws -> String {
        let log = "/tmp/failover-times-\(UUID().uuidString).log"
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv = (["/bin/bash", script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, environ) == 0 else {
            throw WrapperError(.internalError, "could not start \(script)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw WrapperError(.internalError, "cluster-lab.sh \(arguments.joined(separator: " ")): \(output)") }
        return output
    }

    static func promoteAuto() throws -> String {
        let output = try run("promote", "auto")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("promoted: ") }) else {
            throw WrapperError(.internalError, "promote printed no 'promoted:' line: \(output)")
        }
        return String(line.dropFirst("promoted: ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// Sets a node's proxy mode and returns the moment the proxy reports it in force (polled every
    /// millisecond, so the moment is known to about a millisecond).
    static func setProxy(_ node: String, _ mode: String) throws -> ContinuousClock.Instant {
        let token = "#\(UInt32.random(in: 0...UInt32.max))"
        try "\(mode) \(token)\n".write(toFile: "\(controlDirectory)/\(node).mode", atomically: true, encoding: .utf8)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let state = try? String(contentsOfFile: "\(controlDirectory)/\(node).state", encoding: .utf8),
                state.contains("mode=\(mode) \(token)")
            {
                return .now
            }
            usleep(1000)
        }
        throw WrapperError(.timeout, "the proxy did not apply '\(mode)' to \(node)")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var ms: Double { seconds * 1000 }
}
