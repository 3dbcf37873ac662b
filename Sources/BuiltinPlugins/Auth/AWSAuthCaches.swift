import Foundation
import WrapperCore

/// The runtime's shared AWS state: temporary credentials, IAM tokens and secrets, each kept
/// until it expires. One per ``WrapperRuntime`` (``RuntimeServices``), never global.
public final class AWSAuthCaches: Sendable {
    /// Temporary credentials fetched by the credential chain.
    public let credentials = AWSCredentialsCache()
    private let tokens = ExpiringCache<String>()
    private let secrets = ExpiringCache<DatabaseCredentials>()

    /// Creates empty caches.
    public init() {}

    /// The caches of `runtime`.
    public static func of(_ runtime: WrapperRuntime) -> AWSAuthCaches {
        runtime.services.service(AWSAuthCaches.self) { AWSAuthCaches() }
    }

    func token(for key: String, now: Date) -> String? { tokens.value(for: key, now: now) }
    func storeToken(_ token: String, for key: String, until expiry: Date) { tokens.store(token, for: key, until: expiry) }
    func secret(for key: String, now: Date) -> DatabaseCredentials? { secrets.value(for: key, now: now) }
    func storeSecret(_ secret: DatabaseCredentials, for key: String, until expiry: Date) {
        secrets.store(secret, for: key, until: expiry)
    }
    func removeSecret(for key: String) { secrets.remove(key) }
    func removeToken(for key: String) { tokens.remove(key) }
}

/// A database user and password; the password is never shown.
public struct DatabaseCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The user name.
    public var user: String
    /// The password.
    public var password: String

    /// Creates credentials.
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "DatabaseCredentials(user: \(user), password: ***)" }
}

/// Values that expire at a wall-clock time (tokens and secrets are valid until a date).
final class ExpiringCache<Value: Sendable>: Sendable {
    private let entries = LockedValue<[String: (value: Value, expiry: Date)]>([:])
    /// The most entries kept: keys come from connection properties (users, hosts, secret ids).
    let capacity: Int

    init(capacity: Int = 10_000) { self.capacity = max(1, capacity) }

    /// How many entries are held (expired ones included until the next store sweeps them).
    var count: Int { entries.withLock { $0.count } }

    func value(for key: String, now: Date) -> Value? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            if entry.expiry > now { return entry.value }
            entries[key] = nil
            return nil
        }
    }

    /// Stores a value; when the cache is full, expired entries are swept first and then the
    /// entry that expires soonest makes room.
    func store(_ value: Value, for key: String, until expiry: Date, now: Date = Date()) {
        entries.withLock { entries in
            if entries[key] == nil, entries.count >= capacity {
                entries = entries.filter { $0.value.expiry > now }
                if entries.count >= capacity, let soonest = entries.min(by: { $0.value.expiry < $1.value.expiry })?.key {
                    entries[soonest] = nil
                }
            }
            entries[key] = (value, expiry)
        }
    }

    func remove(_ key: String) { entries.withLock { $0[key] = nil } }
    func removeAll() { entries.withLock { $0.removeAll() } }
}
