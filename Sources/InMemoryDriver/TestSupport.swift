import Logging
import WrapperCore

/// Collects every log line, at every level, for assertions (test support only).
public final class LogCapture: Sendable {
    /// The lines so far: level, message and metadata.
    public let lines = LockedValue<[String]>([])

    /// Creates an empty capture.
    public init() {}

    /// A logger at trace level that writes here.
    public var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    /// Every line so far.
    public var all: [String] { lines.withLock { $0 } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(merged)") }
        }
    }
}

/// A driver whose every query is answered by a closure, for topology rows and garbage no server
/// would send (test support only; it never stands in for a database).
public final class ScriptedDriver: DriverDialect, @unchecked Sendable {
    /// Its connections: they hold nothing.
    public final class Connection: DriverConnection, @unchecked Sendable {
        /// Creates a connection.
        public init() {}
    }

    /// The current answer; a test may replace it.
    public let answer: LockedValue<@Sendable (String) throws -> QueryResult>

    /// Creates a driver answering with `answer`.
    public init(_ answer: @escaping @Sendable (String) throws -> QueryResult) { self.answer = LockedValue(answer) }

    public var code: String { "scripted" }
    public var defaultPort: Int { 5432 }
    public func connect(to host: HostInfo, properties: Properties) throws -> any DriverConnection { Connection() }
    public func perform(_ call: MethodCall, on connection: any DriverConnection) throws -> CallResult {
        let answer = self.answer.withLock { $0 }
        return .rows(try answer(call.sql))
    }
    public func isClosed(_ connection: any DriverConnection) -> Bool { false }
    public func isInTransaction(_ connection: any DriverConnection) -> Bool { false }
    public func close(_ connection: any DriverConnection) {}
    public func abort(_ connection: any DriverConnection) {}
    public func sessionValue(_ kind: SessionValueKind, of connection: any DriverConnection) throws -> SessionValue { .autocommit(true) }
    public func apply(_ value: SessionValue, to connection: any DriverConnection) throws {}
}
