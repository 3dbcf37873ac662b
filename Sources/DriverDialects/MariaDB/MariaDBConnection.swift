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
    private let lifecycle = LockedValue<(closed: Bool, aborted: Bool)>((false, false))
    // Mirrors `lifecycle.aborted` for the per-call check, without taking the lock.
    private let abortedFlag = Atomic<Bool>(false)

    init(handle: UnsafeMutablePointer<MYSQL>, host: HostInfo, statementTimeout: Double?) {
        self.handle = handle
        self.host = host
        self.statementTimeout = statementTimeout
        self.socket = Int32(mysql_get_socket(handle))
    }

    deinit { finish() }

    var wasAborted: Bool { abortedFlag.load(ordering: .acquiring) }
    var isClosed: Bool { lifecycle.withLock { $0.closed || $0.aborted } }

    /// The server status flags of the last reply.
    var serverStatus: UInt32 { isClosed ? 0 : wrapper_mariadb_server_status(handle) }

    /// Frees the handle; only from the owning thread.
    func finish() {
        let shouldClose = lifecycle.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if shouldClose { mysql_close(handle) }
    }

    /// Shuts the socket down so a blocked call returns; safe from any thread.
    func abort() {
        lifecycle.withLock { state in
            guard !state.closed, !state.aborted else { return }
            state.aborted = true
            abortedFlag.store(true, ordering: .releasing)
            if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }
}
