import Foundation
import Logging
import WrapperCore

/// Timestamps of what happened, from the demo and from the wrapper's own log lines.
final class Timeline: Sendable {
    private let events = LockedValue<[(at: ContinuousClock.Instant, what: String)]>([])

    func record(_ what: String, at instant: ContinuousClock.Instant = .now) {
        events.withLock { $0.append((instant, what)) }
    }

    /// A logger that turns the wrapper's failover and topology messages into events.
    var logger: Logger {
        var logger = Logger(label: "demo") { _ in Handler(timeline: self) }
        logger.logLevel = .info
        return logger
    }

    /// The events from `start` on, with their offsets.
    func printed(from start: ContinuousClock.Instant) -> [String] {
        events.withLock { $0 }.filter { $0.at >= start }.sorted { $0.at < $1.at }.map { event in
            let offset = event.at - start
            let ms = offset.timeInterval * 1000
            return String(format: "  %+9.1f ms  %@", ms, event.what)
        }
    }

    struct Handler: LogHandler {
        let timeline: Timeline
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let message = event.message.description
            let fields = event.metadata ?? [:]
            switch message {
            case "Failover started":
                let trigger = fields["trigger"].map { "\($0)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "" } ?? "?"
                timeline.record("a connection detects the failure (\(trigger.prefix(70)))")
            case "Found the writer":
                timeline.record("topology monitor verifies the new writer \(fields["writer"] ?? "?")")
            case "Failover reconnected":
                timeline.record("a connection failed over to \(fields["host"] ?? "?") (\(fields["elapsed_ms"] ?? "?") ms after its detection)")
            default:
                break
            }
        }
    }
}
