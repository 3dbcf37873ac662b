import Foundation
import WrapperCore

#if canImport(Glibc)
import Glibc
#endif

/// Drives the cluster lab (`scripts/cluster-lab.sh`) from Swift, for the failover demo, the
/// cluster tests and the failover benchmarks. Test support, like `InMemoryDriver`: not part of
/// the library's API.
public enum ClusterLab {
    /// A variable the lab's `env` command prints, or `fallback`.
    public static func environment(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment[name] ?? fallback
    }

    /// The lab script.
    public static var script: String {
        environment("CLUSTER_LAB_SCRIPT", FileManager.default.currentDirectoryPath + "/scripts/cluster-lab.sh")
    }

    /// The hosts file that maps the lab's RDS-shaped names to its loopback addresses.
    public static var hostsFile: String { environment("CLUSTER_LAB_HOSTS_FILE", "/dev/shm/cluster-lab/hosts") }

    /// Runs a lab command and returns its output; a non-zero exit is an error carrying the output.
    ///
    /// posix_spawn with the output in a file, not Foundation's Process with a pipe: the servers the
    /// script leaves running would hold the pipe open.
    @discardableResult
    public static func run(_ arguments: [String]) throws -> String {
        let log = "/tmp/cluster-lab-\(UUID().uuidString).log"
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
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, environ)
        guard spawned == 0 else { throw WrapperError(.internalError, "could not start \(script): \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw WrapperError(.internalError, "cluster-lab.sh \(arguments.joined(separator: " ")) failed (\((status >> 8) & 0xff)): \(output)")
        }
        return output
    }

    /// Promotes the standby that holds every acknowledged commit (`promote auto`) and returns its name.
    @discardableResult
    public static func promoteAuto(engine: String = "pg") throws -> String {
        let output = try run(engine == "pg" ? ["promote", "auto"] : ["promote", "auto", "--engine", engine])
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("promoted: ") }) else {
            throw WrapperError(.internalError, "promote printed no 'promoted:' line: \(output)")
        }
        return String(line.dropFirst("promoted: ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// The lab node behind a host name or address (`pg-N` listens on 127.0.0.1N, `my-N` on 127.0.0.2N).
    public static func node(of host: String) -> String? {
        let address = FileResolver(path: hostsFile).address(of: host)
        let parts = address.split(separator: ".")
        guard parts.count == 4, parts[0] == "127", parts[1] == "0", parts[2] == "0", parts[3].count == 2,
            let engine = parts[3].first, let index = parts[3].last
        else { return nil }
        switch engine {
        case "1": return "pg-\(index)"
        case "2": return "my-\(index)"
        default: return nil
        }
    }
}
