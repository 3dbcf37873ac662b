import Foundation
import Glibc
import WrapperCore

/// Runs `scripts/cluster-lab.sh` commands. posix_spawn with output to a file, because the lab's
/// daemons would hold a pipe open.
enum LabControl {
    static var script: String {
        ProcessInfo.processInfo.environment["CLUSTER_LAB_SCRIPT"] ?? FileManager.default.currentDirectoryPath + "/scripts/cluster-lab.sh"
    }

    @discardableResult
    static func run(_ arguments: String...) throws -> String {
        let log = "/tmp/demo-lab-\(UUID().uuidString).log"
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
        guard status == 0 else { throw WrapperError(.internalError, "cluster-lab.sh \(arguments.joined(separator: " ")) failed: \(output)") }
        return output
    }

    /// Promotes the standby that holds every acknowledged commit; returns its name.
    static func promoteAuto() throws -> String {
        let output = try run("promote", "auto")
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("promoted: ") }) else {
            throw WrapperError(.internalError, "promote printed no 'promoted:' line: \(output)")
        }
        return String(line.dropFirst("promoted: ".count)).trimmingCharacters(in: .whitespaces)
    }
}
