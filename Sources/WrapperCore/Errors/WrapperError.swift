/// An error raised by the wrapper itself: bad configuration, a plugin or registry problem, or a
/// driver error classified by its dialect.
///
/// Errors are structs with a stable ``Code`` (the server-Swift convention): matching on a code keeps
/// working when new codes are added. ``description`` never contains a password, token or secret:
/// messages are built from property names and positions, never from sensitive values, and the
/// underlying driver error is described through ``redactedDescription(of:)``.
public struct WrapperError: Error, Sendable, CustomStringConvertible {
    /// A stable identifier of what went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A connection string could not be parsed.
        public static let malformedConnectionString = Code("malformedConnectionString")
        /// A property has a value that cannot be used.
        public static let invalidProperty = Code("invalidProperty")
        /// A required property is missing.
        public static let missingProperty = Code("missingProperty")
        /// A `plugins` entry names no registered plugin.
        public static let unknownPlugin = Code("unknownPlugin")
        /// A plugin code is known from the reference but not available in this build.
        public static let pluginUnavailable = Code("pluginUnavailable")
        /// A plugin code was registered or listed twice.
        public static let duplicatePlugin = Code("duplicatePlugin")
        /// `profile_name` names no configuration profile.
        public static let unknownProfile = Code("unknownProfile")
        /// A subscription names no known method.
        public static let invalidSubscription = Code("invalidSubscription")
        /// No plugin or connection provider accepts a host selection strategy.
        public static let unsupportedStrategy = Code("unsupportedStrategy")
        /// No host matches the requested role.
        public static let noHostAvailable = Code("noHostAvailable")
        /// A method was called on a connection the wrapper has since replaced.
        public static let methodInvokedAgainstOldConnection = Code("methodInvokedAgainstOldConnection")
        /// The connection is closed.
        public static let connectionClosed = Code("connectionClosed")
        /// Two callers used one connection at the same time.
        public static let concurrentUse = Code("concurrentUse")
        /// The operation is not supported by this driver, dialect or plugin.
        public static let unsupportedOperation = Code("unsupportedOperation")
        /// A network failure: the host is unreachable or the connection broke.
        public static let network = Code("network")
        /// The server rejected the credentials.
        public static let login = Code("login")
        /// A write was attempted on a read-only connection or host.
        public static let readOnly = Code("readOnly")
        /// A statement or connect timed out.
        public static let timeout = Code("timeout")
        /// Any other error reported by the database driver.
        public static let driver = Code("driver")
        /// A value to bind cannot be sent to this database as it is (NUL in PostgreSQL text, a
        /// timestamp outside years 1-9999, bytes over 2 GiB).
        public static let invalidBind = Code("invalidBind")
        /// A value could not be converted to the Swift type asked for.
        public static let typeMismatch = Code("typeMismatch")
        /// An error injected by the `dev` plugin.
        public static let simulated = Code("simulated")
        /// An internal invariant did not hold; please report it.
        public static let internalError = Code("internalError")
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation that says how to fix it; redacted when the error is created.
    public var message: String
    /// The SQLSTATE reported by the server, when there is one.
    public var sqlState: String?
    /// The driver's own error code (MySQL errno, for example), when there is one.
    public var driverCode: Int?
    /// The error this one wraps, if any.
    public var underlying: (any Error)?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, sqlState: String? = nil, driverCode: Int? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = SecretRedactor.redact(message)
        self.sqlState = sqlState
        self.driverCode = driverCode
        self.underlying = underlying
    }

    /// The code, message, SQLSTATE, driver code and cause, passed through ``SecretRedactor`` (also
    /// a message set after creation).
    public var description: String {
        var text = "\(code): \(SecretRedactor.redact(message))"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let driverCode { text += " (driver code \(driverCode))" }
        if let underlying { text += " [caused by: \(WrapperError.redactedDescription(of: underlying))]" }
        return text
    }

    /// Describes any error for a message or a log line, passing it through ``SecretRedactor``.
    public static func redactedDescription(of error: any Error) -> String {
        SecretRedactor.redact(String(describing: error))
    }
}
