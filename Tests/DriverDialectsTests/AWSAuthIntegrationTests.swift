import BuiltinPlugins
import Foundation
import InMemoryDriver
import Logging
import Testing
import WrapperCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The mock AWS that `scripts/aws-mock.sh` starts: moto, and a metadata server for instance and
/// container credentials that hands out moto-issued keys.
enum MockAWS {
    static var endpoint: String { ProcessInfo.processInfo.environment["WRAPPER_AWS_ENDPOINT"] ?? "http://127.0.0.1:54566" }
    static var metadataEndpoint: String {
        ProcessInfo.processInfo.environment["WRAPPER_AWS_METADATA_ENDPOINT"] ?? "http://127.0.0.1:54567"
    }
    static var containerToken: String {
        ProcessInfo.processInfo.environment["WRAPPER_AWS_CONTAINER_AUTH_TOKEN"] ?? "wrapper-container-token"
    }

    /// Static keys; moto does not check signatures, but the plugins sign anyway.
    static let environment = AWSEnvironment(
        variables: ["AWS_ACCESS_KEY_ID": "AKIDINTEGRATION", "AWS_SECRET_ACCESS_KEY": "integration-secret-key", "AWS_EC2_METADATA_DISABLED": "true"],
        homeDirectory: "/nonexistent")

    /// A Secrets Manager call (moto routes on the credential scope).
    @discardableResult
    static func secretsManager(_ action: String, _ body: [String: String], region: String = "us-east-1") throws -> Int {
        var request = URLRequest(url: URL(string: endpoint)!)
        request.httpMethod = "POST"
        request.setValue("application/x-amz-json-1.1", forHTTPHeaderField: "Content-Type")
        request.setValue("secretsmanager.\(action)", forHTTPHeaderField: "X-Amz-Target")
        request.setValue(
            "AWS4-HMAC-SHA256 Credential=AKIDADMIN/20260101/\(region)/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
            forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let status = LockedValue<Int?>(nil)
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { _, response, _ in
            status.withLock { $0 = (response as? HTTPURLResponse)?.statusCode }
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        guard let code = status.withLock({ $0 }) else { throw WrapperError(.network, "mock AWS did not answer at \(endpoint)") }
        return code
    }

    static func createSecret(_ name: String, _ value: String) throws {
        let status = try secretsManager("CreateSecret", ["Name": name, "SecretString": value])
        if status != 200 { throw WrapperError(.internalError, "CreateSecret answered \(status)") }
    }

    static func putSecret(_ name: String, _ value: String) throws {
        let status = try secretsManager("PutSecretValue", ["SecretId": name, "SecretString": value])
        if status != 200 { throw WrapperError(.internalError, "PutSecretValue answered \(status)") }
    }
}

extension Backend {
    /// Creates a login user with `password` (the test user may create users), dropped by `dropUser`.
    func createUser(_ name: String, password: String) throws {
        let admin = try open()
        defer { try? admin.close() }
        if self == .postgres {
            try admin.execute("CREATE ROLE \(unsafeSQL: name) LOGIN PASSWORD '\(unsafeSQL: password)'")
            try admin.execute("GRANT CONNECT ON DATABASE \(unsafeSQL: database) TO \(unsafeSQL: name)")
        } else {
            try admin.execute("CREATE USER '\(unsafeSQL: name)'@'127.0.0.1' IDENTIFIED BY '\(unsafeSQL: password)'")
            try admin.execute("GRANT SELECT ON \(unsafeSQL: database).* TO '\(unsafeSQL: name)'@'127.0.0.1'")
        }
    }

    func setPassword(of name: String, to password: String) throws {
        let admin = try open()
        defer { try? admin.close() }
        if self == .postgres {
            try admin.execute("ALTER ROLE \(unsafeSQL: name) PASSWORD '\(unsafeSQL: password)'")
        } else {
            try admin.execute("ALTER USER '\(unsafeSQL: name)'@'127.0.0.1' IDENTIFIED BY '\(unsafeSQL: password)'")
        }
    }

    func dropUser(_ name: String) {
        guard let admin = try? open() else { return }
        defer { try? admin.close() }
        _ = try? admin.execute(self == .postgres ? "DROP ROLE IF EXISTS \(unsafeSQL: name)" : "DROP USER IF EXISTS '\(unsafeSQL: name)'@'127.0.0.1'")
    }

    /// Whether the connection runs over TLS, as the server sees it.
    func usesTLS(_ connection: WrapperConnection) throws -> Bool {
        if self == .postgres {
            return try connection.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").decode(Bool.self).first == true
        }
        let rows: [(String, String)] = try connection.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'").decode(String.self, String.self)
        return !(rows.first?.1 ?? "").isEmpty
    }

    var currentUserSQL: SQLQuery { self == .postgres ? "SELECT current_user" : "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)" }
}

@Suite("AWS authentication on real servers and a mock AWS")
struct AWSAuthIntegrationTests {
    static func uniqueName(_ prefix: String) -> String { "\(prefix)_\(UInt32.random(in: 0...UInt32.max))" }

    /// A registry whose AWS plugins read `environment`.
    static func registry(_ environment: AWSEnvironment = MockAWS.environment) -> PluginRegistry {
        let registry = PluginRegistry()
        for factory in AuthPluginFactories.make(environment: environment) { try? registry.register(factory) }
        return registry
    }

    static func secretURL(_ backend: Backend, secret: String, extra: String = "") -> String {
        "\(backend.scheme)://\(backend.host):\(backend.port)/\(backend.database)?plugins=aws_secrets_manager"
            + "&secrets_manager_secret_id=\(secret)&secrets_manager_region=us-east-1&secrets_manager_endpoint=\(MockAWS.endpoint)\(extra)"
    }

    @Test("logs in with credentials from a Secrets Manager secret, caches it, and refetches once after a rotation", arguments: Backend.allCases)
    func secretLogin(backend: Backend) throws {
        let user = Self.uniqueName("sm")
        let password = "Pw-\(UUID().uuidString)"
        try backend.createUser(user, password: password)
        defer { backend.dropUser(user) }
        let secret = "db/\(user)"
        try MockAWS.createSecret(secret, #"{"username":"\#(user)","password":"\#(password)"}"#)
        let registry = Self.registry()
        let logs = LogCapture()

        let first = try WrapperConnection.open(Self.secretURL(backend, secret: secret), driver: backend.driver, registry: registry, logger: logs.logger)
        #expect(try first.execute(backend.currentUserSQL).decode(String.self).first == user)
        try first.close()

        // Cached: a changed secret is not read while the cached one still logs in.
        try MockAWS.putSecret(secret, #"{"username":"\#(user)","password":"not-the-password"}"#)
        let second = try WrapperConnection.open(Self.secretURL(backend, secret: secret), driver: backend.driver, registry: registry, logger: logs.logger)
        try second.close()

        // Rotated: the cached password fails, the secret is fetched once more and works.
        let rotated = "Rot-\(UUID().uuidString)"
        try backend.setPassword(of: user, to: rotated)
        try MockAWS.putSecret(secret, #"{"username":"\#(user)","password":"\#(rotated)"}"#)
        let third = try WrapperConnection.open(Self.secretURL(backend, secret: secret), driver: backend.driver, registry: registry, logger: logs.logger)
        #expect(try third.execute(backend.currentUserSQL).decode(String.self).first == user)
        try third.close()
        #expect(logs.all.filter { $0.contains("Login with the cached secret failed") }.count == 1)
        #expect(logs.all.filter { $0.contains("Fetching database credentials") }.count == 2)

        #expect(!logs.all.isEmpty)
        for line in logs.all { #expect(!line.contains(password) && !line.contains(rotated), "a password in a log line") }
    }

    @Test("bad secrets and endpoints are typed errors without secrets in messages or logs")
    func secretBadInput() throws {
        let backend = Backend.postgres
        let base = Self.uniqueName("bad")
        let hidden = "Hidden-\(UUID().uuidString)"
        try MockAWS.createSecret("\(base)/malformed", #"{"username":"u","password":"\#(hidden)""#)
        try MockAWS.createSecret("\(base)/keys", #"{"user":"u","pass":"\#(hidden)"}"#)
        let logs = LogCapture()
        let registry = Self.registry()
        func failure(_ url: String) -> AWSAuthError? {
            #expect(throws: AWSAuthError.self) { try WrapperConnection.open(url, driver: backend.driver, registry: registry, logger: logs.logger) }
        }
        #expect(failure(Self.secretURL(backend, secret: "\(base)/absent"))?.code == .secretNotFound)
        #expect(failure(Self.secretURL(backend, secret: "\(base)/malformed"))?.code == .malformedSecret)
        let keys = failure(Self.secretURL(backend, secret: "\(base)/keys"))
        #expect(keys?.code == .missingSecretKey)
        #expect(keys?.message.contains("secrets_manager_secret_username_key") == true)
        // The secret exists in us-east-1 only.
        let otherRegion = failure(Self.secretURL(backend, secret: "\(base)/keys").replacingOccurrences(of: "region=us-east-1", with: "region=eu-west-1"))
        #expect(otherRegion?.code == .secretNotFound)
        let unreachable = failure(
            Self.secretURL(backend, secret: "\(base)/keys").replacingOccurrences(of: MockAWS.endpoint, with: "http://127.0.0.1:9"))
        #expect(unreachable?.code == .endpointUnreachable)
        let noRegion = failure(Self.secretURL(backend, secret: "\(base)/keys").replacingOccurrences(of: "&secrets_manager_region=us-east-1", with: ""))
        #expect(noRegion?.code == .missingRegion)
        let noCredentials = #expect(throws: AWSAuthError.self) {
            try WrapperConnection.open(
                Self.secretURL(backend, secret: "\(base)/keys"), driver: backend.driver,
                registry: Self.registry(AWSEnvironment(variables: ["AWS_EC2_METADATA_DISABLED": "true"], homeDirectory: "/nonexistent")))
        }
        #expect(noCredentials?.code == .credentialsNotFound)
        for error in [keys, otherRegion, unreachable, noRegion, noCredentials] {
            #expect(error.map { !"\($0)".contains(hidden) && !"\($0)".contains("integration-secret-key") } == true)
        }
        for line in logs.all { #expect(!line.contains(hidden) && !line.contains("integration-secret-key")) }
    }

    @Test("iam logs in with its token over TLS, renews a rejected cached token once, and fails typed on an expired one", arguments: Backend.allCases)
    func iamLogin(backend: Backend) throws {
        let rdsHost = "lab-db.xyz123.us-east-1.rds.amazonaws.com"
        let credentials = AWSCredentials(accessKeyID: "AKIDIAM", secretAccessKey: "iam-secret-key")
        let clock = TestClock(Date(timeIntervalSince1970: 1_790_000_000))
        let user = Self.uniqueName("iam")
        func token(at date: Date) -> String {
            RdsAuthToken.generate(host: rdsHost, port: backend.port, user: user, region: "us-east-1", credentials: credentials, date: date)
        }
        // The server knows the token of that moment as the user's password, so the real login checks it.
        try backend.createUser(user, password: token(at: clock.now))
        defer { backend.dropUser(user) }
        let chain = PluginChain { IamAuthPlugin(credentials: StaticCredentialsProvider(credentials), now: clock.function) }
        let runtime = WrapperRuntime()
        let logs = LogCapture()
        let url = "\(backend.scheme)://\(user)@\(backend.host):\(backend.port)/\(backend.database)?iam_host=\(rdsHost)"
        func open() throws -> WrapperConnection {
            try WrapperConnection.open(url, driver: backend.driver, chain: chain, runtime: runtime, logger: logs.logger)
        }

        let first = try open()
        #expect(try first.execute(backend.currentUserSQL).decode(String.self).first == user)
        #expect(try backend.usesTLS(first), "ssl_mode raised to require for a token")
        try first.close()

        // The server now expects a newer token; the cached one is refused, renewed once, accepted.
        clock.advance(60)
        try backend.setPassword(of: user, to: token(at: clock.now))
        try open().close()
        #expect(logs.all.contains { $0.contains("cached token failed; renewing it once") })

        // Past iam_expiration a new token is signed; the server does not know it: a login error.
        clock.advance(1000)
        let expired = #expect(throws: WrapperError.self) { try open() }
        #expect(expired?.code == .login)
        let tokens = [token(at: clock.now), token(at: clock.now.addingTimeInterval(-1000))]
        for text in [expired.map { "\($0)" } ?? ""] + logs.all {
            #expect(!text.contains("X-Amz-Signature") && !tokens.contains { text.contains($0) } && !text.contains("iam-secret-key"))
        }
    }

    @Test("web identity credentials come from STS and log in through a secret")
    func webIdentity() throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("web-identity-\(UUID().uuidString)")
        try "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let environment = AWSEnvironment(
            variables: [
                "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/wrapper-role",
                "AWS_ENDPOINT_URL_STS": MockAWS.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
            ], homeDirectory: "/nonexistent")
        let chain = try AWSCredentialsChain(properties: [:], environment: environment, cache: AWSCredentialsCache(), now: { Date() })
        let credentials = try chain.requireCredentials()
        #expect(credentials.accessKeyID.hasPrefix("ASIA"))
        #expect(credentials.sessionToken?.isEmpty == false)
        #expect((credentials.expiration?.timeIntervalSinceNow ?? 0) > 600)

        let backend = Backend.postgres
        let secret = Self.uniqueName("web")
        try MockAWS.createSecret(secret, #"{"username":"\#(backend.user)","password":"\#(backend.password)"}"#)
        let connection = try WrapperConnection.open(Self.secretURL(backend, secret: secret), driver: backend.driver, registry: Self.registry(environment))
        #expect(try connection.execute("SELECT 1").decode(Int.self).first == 1)
        try connection.close()
    }

    @Test("instance metadata (IMDSv2) credentials are fetched once and cached until they near expiry")
    func instanceMetadata() throws {
        let environment = AWSEnvironment(
            variables: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": MockAWS.metadataEndpoint], homeDirectory: "/nonexistent")
        let cache = AWSCredentialsCache()
        let chain = try AWSCredentialsChain(properties: [:], environment: environment, cache: cache, now: { Date() })
        let first = try chain.requireCredentials()
        #expect(first.accessKeyID.hasPrefix("ASIA"))
        #expect(first.expiration != nil)
        // The metadata server issues new keys on every fetch: equal keys prove the cache.
        #expect(try chain.requireCredentials() == first)
        let fresh = try AWSCredentialsChain(properties: [:], environment: environment, cache: AWSCredentialsCache(), now: { Date() })
        #expect(try fresh.requireCredentials().accessKeyID != first.accessKeyID)
    }

    @Test("container credentials need the authorization token when one is configured")
    func containerCredentials() throws {
        func chain(token: String) throws -> AWSCredentialsChain {
            try AWSCredentialsChain(
                properties: [:],
                environment: AWSEnvironment(
                    variables: [
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(MockAWS.metadataEndpoint)/v1/credentials",
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": token, "AWS_EC2_METADATA_DISABLED": "true",
                    ], homeDirectory: "/nonexistent"),
                cache: AWSCredentialsCache(), now: { Date() })
        }
        #expect(try chain(token: MockAWS.containerToken).requireCredentials().accessKeyID.hasPrefix("ASIA"))
        let refused = #expect(throws: AWSAuthError.self) { try chain(token: "wrong-token").requireCredentials() }
        #expect(refused?.code == .invalidCredentials)
        #expect(refused?.httpStatus == 401)
        #expect(refused.map { !"\($0)".contains("wrong-token") } == true)
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: LockedValue<Date>
    init(_ start: Date) { current = LockedValue(start) }
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}
