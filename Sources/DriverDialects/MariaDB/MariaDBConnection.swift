import CMariaDB
import Glibc
import WrapperCore

/// A MariaDB Connector/C connection owned by one thread at a time; only ``abort()`` may come
/// from another.
///
/// `@unchecked Sendable`: the handle is used by the owning caller only; the lifecycle flags that
/// ``abort()`` reads are behind a lock, so a socket is never shut down after `mysql_close`.
public final class MariaDBConnection: DriverConnection, @unchecked Sendable {
    let handle: UnsafeMutablePointer<MYSQL>
    let host: HostInfo
    let statementTimeout: Double?
    /// The deadline of the wrapper's own statements: `auxiliary_query_timeout_sec`, or a shorter `socket_timeout`.
    let auxiliaryTimeout: Double
    /// The socket, read once after connecting.
    let socket: Int32
    private let lifecycle: HandleLifecycle
    /// The user and database the connection logged in with.
    public let identity: ConnectionIdentity?

    init(
        handle: UnsafeMutablePointer<MYSQL>, host: HostInfo, statementTimeout: Double?, auxiliaryTimeout: Double,
        identity: ConnectionIdentity?
    ) {
        self.handle = handle
        // A shorter socket_timeout still applies (fast_failover's monitors rely on it).
        self.auxiliaryTimeout = min(auxiliaryTimeout, statementTimeout.flatMap { $0 > 0 ? $0 : nil } ?? auxiliaryTimeout)
        self.identity = identity
        self.host = host
        self.statementTimeout = statementTimeout
        self.socket = Int32(mysql_get_socket(handle))
        self.lifecycle = HandleLifecycle(socket: socket)
    }

    deinit { finish() }

    var wasAborted: Bool { lifecycle.wasAborted }
    var isClosed: Bool { lifecycle.withState { $0.closed || $0.aborted || $0.broken } }

    /// The server status flags of the last reply; still readable after an abort (the handle lives
    /// until its owner closes it), so failover learns that a transaction was open.
    var serverStatus: UInt32 {
        lifecycle.withState { $0.closed ? 0 : wrapper_mariadb_server_status(handle) }
    }

    /// Records that the connector lost the connection (it does not reconnect).
    func markBroken() { lifecycle.withState { $0.broken = true } }

    /// Frees the handle; only from the owning thread. Safe to call twice.
    func finish() { lifecycle.finish { mysql_close(handle) } }

    /// Shuts the socket down so a blocked call returns; safe from any thread.
    func abort() { lifecycle.abort() }
}
