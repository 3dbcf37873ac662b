import Logging
import WrapperCore

/// `log_query`: logs the SQL of every statement through the connection's logger.
///
/// Bound values are logged only when asked (`log_query_binds=true`), since they may hold personal
/// data. Properties: `log_query_level` (trace, debug, info, notice; default debug).
public struct LogQueryPlugin: Plugin {
    /// The level statements are logged at.
    public static let levelProperty = PropertyDefinition<Logger.Level>(
        "log_query_level", default: .debug, description: "The level at which log_query logs statements.",
        expectation: "one of trace, debug, info, notice",
        parse: { text in
            let level = Logger.Level(rawValue: text.lowercased())
            // Libraries log at notice or below.
            return level.flatMap { [.trace, .debug, .info, .notice].contains($0) ? $0 : nil }
        },
        format: { $0.rawValue })
    /// Whether bound values are logged too.
    public static let bindsProperty = PropertyDefinition<Bool>.bool(
        "log_query_binds", default: false, "Whether log_query also logs bound parameter values.")

    /// The level statements are logged at.
    public let level: Logger.Level
    /// Whether bound values are logged.
    public let includeBinds: Bool

    /// Creates the plugin.
    public init(level: Logger.Level = .debug, includeBinds: Bool = false) {
        self.level = level
        self.includeBinds = includeBinds
    }

    /// Creates the plugin from properties.
    public init(properties: Properties) throws {
        self.init(level: try properties.value(Self.levelProperty), includeBinds: try properties.value(Self.bindsProperty))
    }

    public var subscribedMethods: PluginMethods { [.cursorExecute, .cursorExecuteMany] }

    public func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
        // A statement that sets a password is logged with the password masked, and without binds.
        let text = SecretRedactor.redactStatement(call.sql)
        var metadata: Logger.Metadata = [
            "db.query.text": "\(text)", "db.system.name": "\(service.driver.code)",
            "server.address": "\(service.currentHostInfo?.hostAndPort ?? "?")",
        ]
        if includeBinds {
            metadata["db.query.parameters"] = text == call.sql ? .array(call.binds.map { .string($0.description) }) : "***"
        }
        service.logger.log(level: level, "Executing query", metadata: metadata)
        return try next(call, service)
    }
}
