/// The outcome of a failover, raised to the caller of the statement that triggered it.
///
/// The three outcomes are distinct and catchable, as in the reference wrappers:
/// - ``Code/succeeded``: no transaction was open; the connection now points at a new host with its
///   session state restored. The statement was *not* re-executed: run it again.
/// - ``Code/transactionResolutionUnknown``: a transaction was open when the host failed; whether it
///   committed is unknown. Check, then re-run the transaction.
/// - ``Code/failed``: no host could be reached within the failover timeout; the connection is unusable.
///
/// ```swift
/// do { try connection.execute("INSERT ...") }
/// catch let error as FailoverError where error.code == .succeeded { try connection.execute("INSERT ...") }
/// ```
public struct FailoverError: Error, Sendable, CustomStringConvertible {
    /// Which of the three outcomes this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Failover reconnected; re-run the statement.
        public static let succeeded = Code("failoverSucceeded")
        /// Failover reconnected, but a transaction was open: its fate is unknown.
        public static let transactionResolutionUnknown = Code("transactionResolutionUnknown")
        /// Failover could not reconnect.
        public static let failed = Code("failoverFailed")
    }

    /// The outcome.
    public var code: Code
    /// What happened, in words.
    public var message: String
    /// The host the connection now points at, after a successful reconnect.
    public var newHost: HostInfo?
    /// The error that triggered the failover.
    public var trigger: (any Error)?

    /// Creates a failover outcome.
    public init(_ code: Code, _ message: String, newHost: HostInfo? = nil, trigger: (any Error)? = nil) {
        self.code = code
        self.message = SecretRedactor.redact(message)
        self.newHost = newHost
        self.trigger = trigger
    }

    /// The outcome, message, new host and trigger, passed through ``SecretRedactor``.
    public var description: String {
        var text = "\(code): \(SecretRedactor.redact(message))"
        if let newHost { text += " (now on \(newHost.hostAndPort))" }
        if let trigger { text += " [triggered by: \(WrapperError.redactedDescription(of: trigger))]" }
        return text
    }
}
