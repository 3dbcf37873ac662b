import CMariaDB
import Glibc
import Synchronization
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
    /// The socket, read once after connecting.
    let socket: Int32
    /// A duplicate of the socket that only ``abort()`` uses (the connector may close `socket`).
    private let abortSocket: Int32
    private let lifecycle = LockedValue<(closed: Bool, aborted: Bool, broken: Bool)>((false, false, false))
    // Mirrors `lifecycle.aborted` for the per-call check, without taking the lock.
    private let abortedFlag = Atomic<Bool>(false)

    init(handle: UnsafeMutablePointer<MYSQL>, host: HostInfo, statementTimeout: Double?) {
        self.handle = handle
        self.host = host
        self.statementTimeout = statementTimeout
        self.socket = Int32(mysql_get_socket(handle))
        self.abortSocket = socket >= 0 ? dup(socket) : -1
    }

    deinit { finish() }

    var wasAborted: Bool { abortedFlag.load(ordering: .acquiring) }
    var isClosed: Bool { lifecycle.withLock { $0.closed || $0.aborted || $0.broken } }

    /// The server status flags of the last reply.
    var serverStatus: UInt32 {
        // Under the lock, so the handle cannot be freed while the connector reads it.
        lifecycle.withLock { $0.closed || $0.aborted ? 0 : wrapper_mariadb_server_status(handle) }
    }

    /// Records that the connector lost the connection (it does not reconnect).
    func markBroken() { lifecycle.withLock { $0.broken = true } }

    /// Frees the handle; only from the owning thread. Safe to call twice.
    func finish() {
        lifecycle.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            mysql_close(handle)
            if abortSocket >= 0 { close(abortSocket) }
        }
    }

    /// Shuts the socket down so a blocked call returns; safe from any thread.
    func abort() {
        lifecycle.withLock { state in
            guard !state.closed, !state.aborted else { return }
            state.aborted = true
            abortedFlag.store(true, ordering: .releasing)
            if abortSocket >= 0 { shutdown(abortSocket, Int32(SHUT_RDWR)) }
        }
    }
}
