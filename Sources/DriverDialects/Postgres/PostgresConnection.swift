import CLibPQ
import Glibc
import WrapperCore

/// A libpq connection owned by one thread at a time; only ``abort()`` may come from another.
///
/// `@unchecked Sendable`: the handle is used by the owning caller only (the wrapper enforces one
/// caller at a time); the lifecycle flags that ``abort()`` reads are behind a lock, so a socket is
/// never shut down after `PQfinish` released it.
public final class PostgresConnection: DriverConnection, @unchecked Sendable {
    let handle: OpaquePointer
    let host: HostInfo
    /// Emulated autocommit: libpq has none, so `BEGIN` is sent before the first statement when off.
    var autocommit = true
    let statementTimeout: Double?
    /// The deadline of the wrapper's own statements: `auxiliary_query_timeout_sec`, or a shorter `socket_timeout`.
    let auxiliaryTimeout: Double
    /// The socket, read once after connecting (it does not change afterwards).
    let socket: Int32
    private let lifecycle: HandleLifecycle
    /// libpq's own record of the user and database it logged in with.
    public let identity: ConnectionIdentity?

    init(handle: OpaquePointer, host: HostInfo, statementTimeout: Double?, auxiliaryTimeout: Double) {
        self.handle = handle
        // A shorter socket_timeout still applies (fast_failover's monitors rely on it).
        self.auxiliaryTimeout = min(auxiliaryTimeout, statementTimeout.flatMap { $0 > 0 ? $0 : nil } ?? auxiliaryTimeout)
        self.host = host
        self.statementTimeout = statementTimeout
        self.identity = PQuser(handle).map { ConnectionIdentity(user: String(cString: $0), database: PQdb(handle).map { String(cString: $0) }) }
        self.socket = PQsocket(handle)
        self.lifecycle = HandleLifecycle(socket: socket)
    }

    deinit {
        finish()
    }

    /// Whether ``abort()`` interrupted the connection.
    var wasAborted: Bool { lifecycle.wasAborted }

    /// Whether the connection was closed or broke.
    var isClosed: Bool {
        lifecycle.withState { $0.closed || $0.aborted || PQstatus(handle) == CONNECTION_BAD }
    }

    /// libpq's transaction status, or idle once closed.
    var transactionStatus: PGTransactionStatusType {
        lifecycle.withState { $0.closed ? PQTRANS_IDLE : PQtransactionStatus(handle) }
    }

    /// Frees the handle; only from the owning thread. Safe to call twice.
    func finish() { lifecycle.finish { PQfinish(handle) } }

    /// Shuts the socket down so a blocked call returns; safe from any thread.
    func abort() { lifecycle.abort() }
}
