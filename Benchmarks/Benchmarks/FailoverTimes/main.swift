// Failure-detection and failover times on the cluster lab, in the reference wrappers' format.
//
//   detection [--repeat N] [--grid common|aggressive|both]  the two reference tables: EFM only, and
//                                        failover + EFM (strict_reader), over the outage delays
//   writer-kill [--repeat N]             writer killed under a write loop, reader promoted: first
//                                        commit on the new writer vs the end of the lab's promotion
//   writer-freeze [--repeat N]           writer frozen (and silent), reader promoted, EFM 6000/1000/1:
//                                        first commit on the new writer after the freeze
//   fast-profile [--repeat N]            the same with default EFM settings and the fast profile
//
// Run through Benchmarks/failover-times.sh, which brings the lab up and down.
import BuiltinPlugins
import ClusterLab
import DriverDialects
import Foundation
import WrapperCore

let arguments = CommandLine.arguments.dropFirst()
func option(_ name: String, _ fallback: String) -> String {
    guard let index = arguments.firstIndex(of: name), arguments.index(after: index) < arguments.endIndex else { return fallback }
    return arguments[arguments.index(after: index)]
}
let repeats = Int(option("--repeat", "3")) ?? 3

func makeRegistry() -> PluginRegistry {
    let registry = PluginRegistry(runtime: WrapperRuntime(resolver: FileResolver(path: ClusterLab.hostsFile)))
    for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + FailoverPluginFactories.make() {
        try? registry.register(factory)
    }
    registry.addOrReplaceProfile(FailoverPluginFactories.fastFailoverProfile)
    return registry
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func summary(_ values: [Double]) -> String {
    String(format: "min %8.0f  median %8.0f  avg %8.0f  max %8.0f", values.min() ?? .nan, median(values),
           values.reduce(0, +) / Double(max(values.count, 1)), values.max() ?? .nan)
}

// MARK: Detection tables

/// One measurement: a long sleep on pg-1, the proxy cut after `delay`, the time from the cut to the error.
func detection(settings: (Int, Int, Int), delay: Duration, withFailover: Bool) throws -> Double {
    let registry = makeRegistry()
    defer { registry.runtime.shutdown() }
    let plugins = withFailover ? "failover_v2,host_monitoring_v2&failover_mode=strict_reader&failover_timeout_sec=120" : "host_monitoring_v2"
    let url = Lab.url(
        host: Lab.instance("pg-1"),
        "plugins=\(plugins)&failure_detection_time_ms=\(settings.0)&failure_detection_interval_ms=\(settings.1)"
            + "&failure_detection_count=\(settings.2)&connect_timeout=3")
    let connection = try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry)
    let failedAt = LockedValue<ContinuousClock.Instant?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        do { _ = try connection.execute("SELECT pg_sleep(600)") } catch { failedAt.withLock { $0 = .now } }
        done.signal()
    }
    Thread.sleep(forTimeInterval: delay.timeInterval)
    let cut = try Lab.setProxy("pg-1", "blackhole")
    _ = done.wait(timeout: .now() + 180)
    _ = try Lab.setProxy("pg-1", "pass")
    try? connection.close()
    guard let failed = failedAt.withLock({ $0 }) else { throw WrapperError(.timeout, "no error within 180 s") }
    return (failed - cut).ms
}

func detectionTables() throws {
    let grids: [(String, (Int, Int, Int), [Int])] = [
        ("30000/5000/3", (30000, 5000, 3), Array(stride(from: 5, through: 60, by: 5))),
        ("6000/1000/1", (6000, 1000, 1), Array(1...10)),
    ]
    let which = option("--grid", "both")
    for withFailover in [false, true] {
        print("\n## \(withFailover ? "Failover + EFM (failover_v2,host_monitoring_v2, strict_reader)" : "Failure detection (host_monitoring_v2)"), ms from the cut to the error")
        for (name, settings, delays) in grids where which == "both" || (which == "common") == (settings.0 == 30000) {
            print("\n| \(name) outage delay (s) | min | median | avg | max | runs |\n|---|---|---|---|---|---|")
            for delay in delays {
                var values: [Double] = []
                for _ in 0..<repeats {
                    values.append(try detection(settings: settings, delay: .seconds(delay), withFailover: withFailover))
                    Thread.sleep(forTimeInterval: 1)
                }
                print(String(format: "| %d | %.0f | %.0f | %.0f | %.0f | %d |", delay, values.min()!, median(values),
                             values.reduce(0, +) / Double(values.count), values.max()!, values.count))
            }
        }
    }
}

// MARK: Writer failover under a write loop

/// A write loop on one connection; records when each commit completed and on which node.
final class WriteLoop: @unchecked Sendable {
    let commits = LockedValue<[(ContinuousClock.Instant, String)]>([])
    let stop = LockedValue(false)
    let done = DispatchSemaphore(value: 0)

    init(_ connection: WrapperConnection, table: String) {
        Thread.detachNewThread { [self] in
            var id = 0
            while !stop.withLock({ $0 }) {
                id += 1
                do {
                    try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(id))")
                    let node = Lab.node(of: connection.currentHost?.host ?? "?")
                    commits.withLock { $0.append((.now, node)) }
                } catch {}
            }
            done.signal()
        }
    }

    func firstCommit(on node: String, after instant: ContinuousClock.Instant, timeout: Duration) -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + timeout
        repeat {
            if let found = commits.withLock({ $0.first { $0.0 > instant && $0.1 == node }?.0 }) { return found }
            usleep(1000)
        } while ContinuousClock.now < deadline
        return nil
    }

    func finish() {
        stop.withLock { $0 = true }
        done.wait()
    }
}

enum Fault { case kill, freeze }

/// Returns (first commit − outage, first commit − end of the promotion) in ms.
func writerFailover(fault: Fault, query: String) throws -> (Double, Double) {
    try Lab.run("down")
    try Lab.run("up", "--engine", "pg", "--flavor", "aurora")
    let registry = makeRegistry()
    defer { registry.runtime.shutdown() }
    let connection = try WrapperConnection.open(
        Lab.url(host: Lab.clusterEndpoint, "failover_timeout_sec=60&connect_timeout=2&" + query), driver: PostgresDriver(), registry: registry)
    let table = "bench_\(UInt32.random(in: 0...UInt32.max))"
    try connection.execute("CREATE TABLE \(unsafeSQL: table) (id BIGINT PRIMARY KEY)")
    let loop = WriteLoop(connection, table: table)
    Thread.sleep(forTimeInterval: 1)
    let outage: ContinuousClock.Instant
    switch fault {
    case .kill:
        outage = .now
        try Lab.run("kill", "pg-1")
    case .freeze:
        // Silent as a frozen host in a partition: the promotion's fencing SIGKILL is not seen either.
        outage = try Lab.setProxy("pg-1", "blackhole")
        try Lab.run("freeze", "pg-1")
    }
    let promoted = try Lab.promoteAuto()
    let promotionDone = ContinuousClock.now
    let first = loop.firstCommit(on: promoted, after: outage, timeout: .seconds(60))
    loop.finish()
    try? connection.close()
    guard let first else { throw WrapperError(.timeout, "no commit on \(promoted) within 60 s") }
    return ((first - outage).ms, (first - promotionDone).ms)
}

func writerFailoverTable(_ title: String, fault: Fault, query: String) throws {
    var sinceOutage: [Double] = []
    var sincePromotion: [Double] = []
    for _ in 0..<repeats {
        let (outage, promotion) = try writerFailover(fault: fault, query: query)
        sinceOutage.append(outage)
        sincePromotion.append(promotion)
        print(String(format: "  run: first commit %.1f ms after the outage, %+.1f ms after the promotion completed", outage, promotion))
    }
    print("\n## \(title)\n")
    print("first commit after the outage (ms):             \(summary(sinceOutage))")
    print("first commit after the promotion completed (ms): \(summary(sincePromotion))")
}

switch arguments.first {
case "detection":
    try detectionTables()
case "writer-kill":
    try writerFailoverTable("Writer killed under a write loop (default plugins)", fault: .kill, query: "")
case "writer-freeze":
    try writerFailoverTable(
        "Writer frozen, reader promoted, EFM 6000/1000/1", fault: .freeze,
        query: "failure_detection_time_ms=6000&failure_detection_interval_ms=1000&failure_detection_count=1")
case "fast-profile":
    try writerFailoverTable("Writer frozen, reader promoted, fast profile (default EFM settings)", fault: .freeze, query: "profile_name=fast_failover")
default:
    print("usage: FailoverTimes detection|writer-kill|writer-freeze|fast-profile [--repeat N] [--grid common|aggressive|both]")
    exit(2)
}
try? Lab.run("down")
