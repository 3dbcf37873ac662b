// A soak of the wrapper on the cluster lab that scripts/soak.sh brings up: executes through the
// default chain on one connection, then waves of connections opened, used and closed; RSS, threads
// and open file descriptors are sampled throughout, and after the monitors' idle time and the
// runtime's shutdown they must be back at their baseline. Prints a table; exits 1 when a goal is missed.
//
//   Soak [executes] [connections per wave] [waves] [idle seconds]
import BuiltinPlugins
import ClusterLab
import DriverDialects
import Foundation
import WrapperCore

func argument(_ index: Int, _ fallback: Int) -> Int {
    CommandLine.arguments.count > index ? Int(CommandLine.arguments[index]) ?? fallback : fallback
}
let executes = argument(1, 1_000_000)
let connectionsPerWave = argument(2, 1000)
let waves = argument(3, 20)
let idleSeconds = argument(4, 3)

func environment(_ name: String, _ fallback: String) -> String { ClusterLab.environment(name, fallback) }
let endpoint = environment("CLUSTER_LAB_PG_CLUSTER_ENDPOINT", "labpg.cluster-xyz123.us-east-1.rds.amazonaws.com")
// No `plugins`: the default chain. EFM starts checking at once and its monitors end after 1 s idle.
let url = "postgresql://\(environment("CLUSTER_LAB_USER", "wrapper")):\(environment("CLUSTER_LAB_PASSWORD", "wrapper_pw"))@"
    + "\(endpoint):\(environment("CLUSTER_LAB_PG_PORT", "55440"))/\(environment("CLUSTER_LAB_DATABASE", "wrapper_test"))"
    + "?failure_detection_time_ms=0&failure_detection_interval_ms=1000&monitor_disposal_time_ms=1000&topology_refresh_ms=500"

/// What the process holds, from /proc.
struct Sample {
    let label: String
    let rssKiB: Int
    let threads: Int
    let descriptors: Int

    static func take(_ label: String) -> Sample {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        return Sample(label: label, rssKiB: pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024, threads: threads, descriptors: descriptors)
    }
}

var samples: [Sample] = []
@MainActor func record(_ label: String) {
    let sample = Sample.take(label)
    samples.append(sample)
    print(String(format: "%-34@ rss %8d KiB  threads %4d  fds %4d", label as NSString, sample.rssKiB, sample.threads, sample.descriptors))
    fflush(nil)  // progress lines as they come, also into a log file
}

/// The names of the process's threads and what its descriptors point at, to explain a miss.
func holdings() -> String {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    let names = tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    let targets = fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
    return "threads \(names.sorted()); fds \(targets.sorted())"
}

// The baseline is a process whose Foundation and Dispatch are up (their own threads and
// descriptors are not the wrapper's).
let warmed = DispatchSemaphore(value: 0)
DispatchQueue.global().asyncAfter(deadline: .now() + 0.01) { warmed.signal() }
warmed.wait()
_ = FileResolver(path: ClusterLab.hostsFile).address(of: endpoint)
Thread.sleep(forTimeInterval: 0.2)
let baseline = Sample.take("baseline")
print("baseline: \(holdings())")
samples.append(baseline)
print("Soak: \(executes) executes, \(waves) waves of \(connectionsPerWave) connections, \(idleSeconds) s idle time")

let runtime = WrapperRuntime(
    executor: BlockingExecutor(idleTimeout: .seconds(idleSeconds)), resolver: FileResolver(path: ClusterLab.hostsFile),
    topologyMonitorDisposal: .seconds(idleSeconds))
let registry = PluginRegistry(runtime: runtime)
for factory in BuiltinPluginFactories.make() + TopologyPluginFactories.make() + FailoverPluginFactories.make() + AuthPluginFactories.make() {
    try registry.register(factory)
}

// Phase 1: one connection, many executes.
let connection = try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry)
let warmUp = max(1, executes / 10)
var rssAfterWarmUp = 0
let started = ContinuousClock.now
var lastSample = ContinuousClock.now
for index in 1...max(1, executes) {
    _ = try connection.execute("SELECT \(index)")
    if index == warmUp {
        record("executes: after warm-up (\(warmUp))")
        rssAfterWarmUp = samples.last!.rssKiB
    }
    if ContinuousClock.now - lastSample > .seconds(5) {
        record("executes: \(index)")
        lastSample = .now
    }
}
record("executes: done (\(executes)) in \(Int((ContinuousClock.now - started).timeInterval)) s")
let rssGrowth = Double(samples.last!.rssKiB - rssAfterWarmUp) / Double(max(1, rssAfterWarmUp))
try connection.close()

// Phase 2: waves of connections, opened, used and closed.
var waveSamples: [Sample] = []
for wave in 1...max(1, waves) {
    for _ in 0..<connectionsPerWave {
        let opened = try WrapperConnection.open(url, driver: PostgresDriver(), registry: registry)
        _ = try opened.execute("SELECT 1")
        try opened.close()
    }
    record("wave \(wave): \(connectionsPerWave) opened and closed")
    waveSamples.append(samples.last!)
}

// The monitors' idle time passes: their threads and connections end.
Thread.sleep(forTimeInterval: Double(idleSeconds) + 2.5)
record("after \(idleSeconds) s idle + 2.5 s")
let afterIdle = samples.last!
runtime.shutdown()
record("after runtime shutdown")
let afterShutdown = samples.last!

// Goals: RSS grows < 5 % after warm-up; threads and fds back at their baseline.
var missed: [String] = []
if rssGrowth >= 0.05 { missed.append(String(format: "RSS grew %.1f %% after warm-up", rssGrowth * 100)) }
if afterIdle.threads > baseline.threads { missed.append("\(afterIdle.threads - baseline.threads) thread(s) over the baseline after the idle time") }
if afterIdle.descriptors > baseline.descriptors { missed.append("\(afterIdle.descriptors - baseline.descriptors) fd(s) over the baseline after the idle time") }
if afterShutdown.threads > baseline.threads { missed.append("threads over the baseline after shutdown") }
if afterShutdown.descriptors > baseline.descriptors { missed.append("fds over the baseline after shutdown") }
let maxWaveThreads = waveSamples.map(\.threads).max() ?? 0
print(String(format: "RSS growth after warm-up: %.2f %%; threads at most %d during the waves; baseline %d threads, %d fds",
             rssGrowth * 100, maxWaveThreads, baseline.threads, baseline.descriptors))
if missed.isEmpty {
    print("Soak: every goal met")
} else {
    print("Soak: missed: " + missed.joined(separator: "; "))
    print("now: \(holdings())")
    exit(1)
}
