import CLibPQ
import Glibc
import Synchronization
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
    /// The socket, read once after connecting (it does not change afterwards).
    let socket: Int32
    /// A duplicate of the socket that only ``abort()`` uses: libpq may close `socket` on a broken
    /// connection, and its number could then be reused by another connection.
    private let abortSocket: Int32
    private let lifecycle = LockedValue<(closed: Bool, aborted: Bool)>((false, false))
    // Mirrors `lifecycle.aborted` for the per-call check, without taking the lock.
    private let abortedFlag = Atomic<Bool>(false)

    init(handle: OpaquePointer, host: HostInfo, statementTimeout: Double?) {
        self.handle = handle
        self.host = host
        self.statementTimeout = statementTimeout
        self.socket = PQsocket(handle)
        self.abortSocket = socket >= 0 ? dup(socket) : -1
    }

    deinit {
        finish()
    }

    /// Whether ``abort()`` interrupted the connection.
    var wasAborted: Bool { abortedFlag.load(ordering: .acquiring) }

    /// Whether the connection was closed or broke.
    var isClosed: Bool {
        // Under the lock, so the handle cannot be freed while libpq reads it.
        lifecycle.withLock { $0.closed || $0.aborted || PQstatus(handle) == CONNECTION_BAD }
    }

    /// libpq's transaction status, or idle once closed.
    var transactionStatus: PGTransactionStatusType {
        lifecycle.withLock { $0.closed ? PQTRANS_IDLE : PQtransactionStatus(handle) }
    }

    /// Frees the handle; only from the owning thread. Safe to call twice.
    func finish() {
        lifecycle.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            PQfinish(handle)
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
