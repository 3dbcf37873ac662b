// The failover demo on the cluster lab that scripts/demo.sh brings up: a write workload through
// the wrapper with the default plugins (initial_connection, aurora_connection_tracker,
// failover_v2, host_monitoring_v2); the writer is killed (or, with --freeze, frozen behind a
// silent network) and a reader promoted; a timeline shows the outage, the detection, the new
// writer and the first write on it, and the rows are counted: no acknowledged write is lost.
import BuiltinPlugins
import ClusterLab
import DriverDialects
import Foundation
import WrapperCore

func environment(_ name: String, _ fallback: String) -> String { ClusterLab.environment(name, fallback) }

let freeze = CommandLine.arguments.contains("--freeze")
let workers = 4
let endpoint = environment("CLUSTER_LAB_PG_CLUSTER_ENDPOINT", "labpg.cluster-xyz123.us-east-1.rds.amazonaws.com")
let url = "postgresql://\(environment("CLUSTER_LAB_USER", "wrapper")):\(environment("CLUSTER_LAB_PASSWORD", "wrapper_pw"))@"
    + "\(endpoint):\(environment("CLUSTER_LAB_PG_PORT", "55440"))/\(environment("CLUSTER_LAB_DATABASE", "wrapper_test"))"
    // No `plugins`: the default list. EFM at the reference's aggressive settings, for --freeze.
    + "?failover_timeout_sec=60&connect_timeout=2&failure_detection_time_ms=6000&failure_detection_interval_ms=1000"
    + "&failure_detection_count=1&topology-monitoring-connect_timeout=2&topology-monitoring-socket_timeout=2"

// The lab's RDS-shaped names resolve through its hosts file, as they would through DNS.
let resolver = FileResolver(path: ClusterLab.hostsFile)
let registry = PluginRegistry(runtime: WrapperRuntime(resolver: resolver))
for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + FailoverPluginFactories.make() + AuthPluginFactories.make() {
    try registry.register(factory)
}
let timeline = Timeline()

func nodeName(_ host: HostInfo?) -> String { host.flatMap { ClusterLab.node(of: $0.host) } ?? "?" }

let setup = try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry, logger: timeline.logger)
let table = "demo_writes_\(UInt32.random(in: 0...UInt32.max))"
try setup.execute("CREATE TABLE \(unsafeSQL: table) (id BIGINT PRIMARY KEY, worker INT NOT NULL)")
let writer = nodeName(setup.currentHost)
print("Cluster \(endpoint): writer \(writer), readers \(setup.service.allHosts.filter { $0.role == .reader }.map { nodeName($0) })")
print("Plugins: \(setup.service.properties["plugins"] ?? WrapperProperties.defaultPluginList)")
try setup.close()

let stop = LockedValue(false)
let acknowledged = LockedValue<[Int64]>([])
let outcomes = LockedValue<[String: Int]>([:])
let firstWriteAfterOutage = LockedValue<(ContinuousClock.Instant, String)?>(nil)
let outageAt = LockedValue<ContinuousClock.Instant?>(nil)
let group = DispatchGroup()
for worker in 0..<workers {
    group.enter()
    Thread.detachNewThread {
        defer { group.leave() }
        do {
            let connection = try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry, logger: timeline.logger)
            defer { try? connection.close() }
            var id = Int64(worker) * 100_000_000
            while !stop.withLock({ $0 }) {
                id += 1
                do {
                    try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(id), \(worker))")
                    let now = ContinuousClock.now
                    acknowledged.withLock { $0.append(id) }
                    let node = nodeName(connection.currentHost)
                    if let outage = outageAt.withLock({ $0 }), now > outage, node != writer {
                        firstWriteAfterOutage.withLock { first in
                            if first == nil { first = (now, node) }
                        }
                    }
                } catch let error as FailoverError {
                    // Not acknowledged: the row may or may not exist; it is not counted.
                    outcomes.withLock { $0["\(error.code)", default: 0] += 1 }
                }
            }
        } catch {
            print("worker \(worker) stopped: \(error)")
        }
    }
}

Thread.sleep(forTimeInterval: 2)
let before = acknowledged.withLock { $0.count }
print("\(workers) workers wrote \(before) rows in 2 s; now \(freeze ? "freezing (SIGSTOP, and a silent network)" : "killing (SIGKILL)") \(writer)...")
let outage = ContinuousClock.now
outageAt.withLock { $0 = outage }
if freeze {
    try ClusterLab.run(["blackhole", writer])  // silent, and hides the promotion's fencing SIGKILL from clients
    try ClusterLab.run(["freeze", writer])
} else {
    try ClusterLab.run(["kill", writer])
}
timeline.record("outage: `cluster-lab.sh \(freeze ? "blackhole+freeze" : "kill") \(writer)` started", at: outage)
timeline.record("outage: the command returned (\(writer) \(freeze ? "silent" : "dead"))")
let promoted = try ClusterLab.promoteAuto()
timeline.record("the lab's promotion of \(promoted) completed")
// Wait for the first write on the new writer, then let the workload run a little longer.
let deadline = ContinuousClock.now + .seconds(30)
while firstWriteAfterOutage.withLock({ $0 }) == nil, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
if let (at, host) = firstWriteAfterOutage.withLock({ $0 }) { timeline.record("first acknowledged write on the new writer \(host)", at: at) }
Thread.sleep(forTimeInterval: 1)
stop.withLock { $0 = true }
group.wait()

let verify = try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry)
let stored: [Int] = try verify.execute("SELECT id FROM \(unsafeSQL: table)").decode(Int.self)
try verify.execute("DROP TABLE \(unsafeSQL: table)")
try verify.close()
let storedSet = Set(stored.map(Int64.init))
let acked = acknowledged.withLock { $0 }
let lost = acked.filter { !storedSet.contains($0) }.count

print("\nTimeline (from the outage):")
timeline.printed(from: outage).forEach { print($0) }
print("\nFailover outcomes seen by the workers: \(outcomes.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))")
print("Acknowledged writes: \(acked.count); rows in the table: \(stored.count); acknowledged writes lost: \(lost)")
registry.runtime.shutdown()
exit(lost == 0 && firstWriteAfterOutage.withLock({ $0 }) != nil ? 0 : 1)
