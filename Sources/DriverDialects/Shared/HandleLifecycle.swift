import Glibc
import Synchronization
import WrapperCore

/// The life of a C connection handle shared by the two drivers: closed once, by its owner; aborted
/// from any thread by shutting down a duplicate of its socket (the library may close and reuse the
/// original number on a broken connection); and C calls that read the handle from other threads
/// made under the same lock, so the handle is never freed while they run.
final class HandleLifecycle: @unchecked Sendable {
    struct State {
        var closed = false
        var aborted = false
        var broken = false
    }

    private let state = LockedValue(State())
    // Mirrors `state.aborted` for the per-call check, without taking the lock.
    private let abortedFlag = Atomic<Bool>(false)
    private let abortSocket: Int32

    /// Watches a handle whose socket is `socket`.
    init(socket: Int32) {
        abortSocket = socket >= 0 ? dup(socket) : -1
    }

    /// Whether ``abort()`` interrupted the connection.
    var wasAborted: Bool { abortedFlag.load(ordering: .acquiring) }

    /// Runs `body` under the lock with the state, so the handle stays alive while it runs.
    func withState<Result>(_ body: (inout State) -> Result) -> Result { state.withLock(body) }

    /// Frees the handle with `free` once; only from the owning thread.
    func finish(_ free: () -> Void) {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            free()
            if abortSocket >= 0 { close(abortSocket) }
        }
    }

    /// Shuts the socket down so a blocked call returns; safe from any thread.
    func abort() {
        state.withLock { state in
            guard !state.closed, !state.aborted else { return }
            state.aborted = true
            abortedFlag.store(true, ordering: .releasing)
            if abortSocket >= 0 { shutdown(abortSocket, Int32(SHUT_RDWR)) }
        }
    }
}
