import ClusterLab
import Foundation
import WrapperCore

/// The cluster lab, driven through `scripts/cluster-lab.sh` and its proxy control files.
enum Lab {
    static func env(_ name: String, _ fallback: String) -> String { ClusterLab.environment(name, fallback) }
    static var controlDirectory: String { env("CLUSTER_LAB_PROXY_CONTROL_DIR", "/dev/shm/cluster-lab/proxy") }
    static var domain: String { env("CLUSTER_LAB_DOMAIN", "xyz123.us-east-1.rds.amazonaws.com") }

    static func url(host: String, _ query: String) -> String {
        "postgresql://\(env("CLUSTER_LAB_USER", "wrapper")):\(env("CLUSTER_LAB_PASSWORD", "wrapper_pw"))@\(host):"
            + "\(env("CLUSTER_LAB_PG_PORT", "55440"))/\(env("CLUSTER_LAB_DATABASE", "wrapper_test"))?\(query)"
    }

    static var clusterEndpoint: String { env("CLUSTER_LAB_PG_CLUSTER_ENDPOINT", "labpg.cluster-\(domain)") }
    static func instance(_ node: String) -> String { "\(node).\(domain)" }

    static func node(of host: String) -> String { ClusterLab.node(of: host) ?? host }

    @discardableResult
    static func run(_ arguments: String...) throws -> String { try ClusterLab.run(arguments) }

    static func promoteAuto() throws -> String { try ClusterLab.promoteAuto() }

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
    var ms: Double { timeInterval * 1000 }
}
