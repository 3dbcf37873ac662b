import Foundation
import InMemoryDriver
import Testing
import WrapperCore

@testable import BuiltinPlugins

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: LockedValue<Date>
    init(_ start: Date) { current = LockedValue(start) }
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}

@Suite("AWS authentication")
struct AWSAuthTests {
    static let credentials = AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "test/secret+key")
    static let rdsHost = "db-1.xyz123.us-west-2.rds.amazonaws.com"

    struct HeaderVector: Decodable {
        let url: String, region: String, accessKeyID: String, secretAccessKey: String, sessionToken: String?
        let body: String, epochSeconds: Int, authorization: String, amzDate: String
    }

    @Test("header signatures are identical to botocore's SigV4Auth for fixed credentials and time")
    func headerSigningMatchesBotocore() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/sigv4_header_vectors.json")
        let vectors = try JSONDecoder().decode([HeaderVector].self, from: Data(contentsOf: file))
        #expect(vectors.count >= 2)
        for vector in vectors {
            var headers = ["Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"]
            SigV4.signHeaders(
                method: "POST", url: try #require(URL(string: vector.url)), headers: &headers, body: Data(vector.body.utf8),
                service: "secretsmanager", region: vector.region,
                credentials: AWSCredentials(accessKeyID: vector.accessKeyID, secretAccessKey: vector.secretAccessKey, sessionToken: vector.sessionToken),
                date: Date(timeIntervalSince1970: TimeInterval(vector.epochSeconds)))
            #expect(headers["Authorization"] == vector.authorization)
            #expect(headers["X-Amz-Date"] == vector.amzDate)
        }
    }

    // MARK: Credential chain

    /// A home directory with `.aws/credentials` and `.aws/config`.
    static func home(credentials: String, config: String = "") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aws-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".aws"), withIntermediateDirectories: true)
        try credentials.write(to: directory.appendingPathComponent(".aws/credentials"), atomically: true, encoding: .utf8)
        try config.write(to: directory.appendingPathComponent(".aws/config"), atomically: true, encoding: .utf8)
        return directory.path
    }

    static func chain(_ properties: Properties = [:], variables: [String: String] = [:], home: String = "/nonexistent") throws -> AWSCredentialsChain {
        var variables = variables
        variables["AWS_EC2_METADATA_DISABLED"] = variables["AWS_EC2_METADATA_DISABLED"] ?? "true"
        return try AWSCredentialsChain(
            properties: properties, environment: AWSEnvironment(variables: variables, homeDirectory: home),
            cache: AWSCredentialsCache(), now: { Date() })
    }

    @Test("the chain takes explicit properties, then the environment, then the profile files")
    func chainOrder() throws {
        let home = try Self.home(
            credentials: """
                # comment
                [default]
                aws_access_key_id = AKIDFILE
                aws_secret_access_key = file-secret
                [dev]
                aws_access_key_id=AKIDDEV
                aws_secret_access_key=dev-secret
                aws_session_token=dev-token
                """,
            config: """
                [profile cfg]
                region = eu-west-1
                aws_access_key_id = AKIDCFG
                aws_secret_access_key = cfg-secret
                  nested = ignored
                """)
        let environment = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"]
        let explicit: Properties = ["aws_access_key_id": "AKIDPROP", "aws_secret_access_key": "prop-secret"]
        #expect(try Self.chain(explicit, variables: environment, home: home).requireCredentials().accessKeyID == "AKIDPROP")
        #expect(try Self.chain(variables: environment, home: home).requireCredentials().accessKeyID == "AKIDENV")
        #expect(try Self.chain(home: home).requireCredentials().accessKeyID == "AKIDFILE")
        #expect(try Self.chain(variables: ["AWS_PROFILE": "dev"], home: home).requireCredentials()
            == AWSCredentials(accessKeyID: "AKIDDEV", secretAccessKey: "dev-secret", sessionToken: "dev-token"))
        // aws_profile wins over the environment and reads the config file too.
        #expect(try Self.chain(["aws_profile": "cfg"], variables: environment, home: home).requireCredentials().accessKeyID == "AKIDCFG")
        // A named profile that does not exist is an error, not a silent fallback.
        let missing = #expect(throws: AWSAuthError.self) { try Self.chain(["aws_profile": "nope"], home: home).requireCredentials() }
        #expect(missing?.code == .credentialsNotFound)
        #expect(missing?.message.contains("nope") == true)
    }

    @Test("half-given keys and an empty chain are typed errors without secrets")
    func chainErrors() throws {
        let half = #expect(throws: AWSAuthError.self) { try Self.chain(["aws_secret_access_key": "s3cr3t-value"]) }
        #expect(half?.code == .invalidCredentials)
        let halfEnv = #expect(throws: AWSAuthError.self) {
            try Self.chain(variables: ["AWS_SECRET_ACCESS_KEY": "s3cr3t-value"]).requireCredentials()
        }
        #expect(halfEnv?.code == .invalidCredentials)
        let none = #expect(throws: AWSAuthError.self) { try Self.chain().requireCredentials() }
        #expect(none?.code == .credentialsNotFound)
        #expect(none?.message.contains("environment") == true)
        for error in [half, halfEnv, none] { #expect(error.map { !"\($0)".contains("s3cr3t-value") } == true) }
        #expect(!"\(Self.credentials)".contains("test/secret+key"))
    }

    @Test("an unreachable instance metadata endpoint, when configured, is a typed error")
    func metadataUnreachable() throws {
        let chain = try Self.chain(variables: [
            "AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9",
        ])
        let error = #expect(throws: AWSAuthError.self) { try chain.requireCredentials() }
        #expect(error?.code == .endpointUnreachable)
    }

    // MARK: iam

    static func iamConnection(
        _ url: String, clock: TestClock, runtime: WrapperRuntime, driver: InMemoryDriver = InMemoryDriver(), properties: Properties = [:]
    ) throws -> WrapperConnection {
        let chain = PluginChain { IamAuthPlugin(credentials: StaticCredentialsProvider(credentials), now: clock.function) }
        return try WrapperConnection.open(url, properties: properties, driver: driver, chain: chain, runtime: runtime)
    }

    @Test("iam logs in with botocore's token for the host, port, user and region, and reuses it until it expires")
    func iamToken() throws {
        let clock = TestClock(Date(timeIntervalSince1970: 1_704_164_645))
        let runtime = WrapperRuntime()
        let driver = InMemoryDriver()
        _ = try Self.iamConnection("postgresql://iam_user@\(Self.rdsHost):5432/db", clock: clock, runtime: runtime, driver: driver)
        let expected = RdsAuthToken.generate(
            host: Self.rdsHost, port: 5432, user: "iam_user", region: "us-west-2", credentials: Self.credentials, date: clock.now)
        #expect(driver.openedConnections.last?.properties["password"] == expected)
        #expect(driver.openedConnections.last?.properties["user"] == "iam_user")

        clock.advance(600)
        _ = try Self.iamConnection("postgresql://iam_user@\(Self.rdsHost):5432/db", clock: clock, runtime: runtime, driver: driver)
        #expect(driver.openedConnections.last?.properties["password"] == expected, "reused within iam_expiration")

        clock.advance(300)  // past 900 s minus the renewal margin
        _ = try Self.iamConnection("postgresql://iam_user@\(Self.rdsHost):5432/db", clock: clock, runtime: runtime, driver: driver)
        let renewed = try #require(driver.openedConnections.last?.properties["password"])
        #expect(renewed != expected)
        #expect(renewed.contains("X-Amz-Date=20240102T031905Z"))

        // Another user, port or runtime does not share the token.
        _ = try Self.iamConnection("postgresql://other@\(Self.rdsHost):5432/db", clock: clock, runtime: runtime, driver: driver)
        #expect(driver.openedConnections.last?.properties["password"]?.contains("DBUser=other") == true)
    }

    @Test("iam_host, iam_region and iam_default_port override what the token is signed for")
    func iamOverrides() throws {
        let clock = TestClock(Date(timeIntervalSince1970: 1_704_164_645))
        let driver = InMemoryDriver()
        _ = try Self.iamConnection(
            "postgresql://u@127.0.0.1:55432/db", clock: clock, runtime: WrapperRuntime(), driver: driver,
            properties: ["iam_host": Self.rdsHost, "iam_region": "eu-central-1", "iam_default_port": "6543"])
        let token = try #require(driver.openedConnections.last?.properties["password"])
        #expect(token.hasPrefix("\(Self.rdsHost):6543/?Action=connect&DBUser=u&"))
        #expect(token.contains("%2Feu-central-1%2Frds-db%2Faws4_request"))
    }

    @Test("iam rejects an IP host, a host without region, a missing user and an out-of-range expiration")
    func iamBadInput() throws {
        let clock = TestClock(Date())
        let ip = #expect(throws: AWSAuthError.self) {
            try Self.iamConnection("postgresql://u@10.0.0.1/db", clock: clock, runtime: WrapperRuntime())
        }
        #expect(ip?.code == .invalidHost)
        #expect(ip?.message.contains("iam_host") == true)
        let global = #expect(throws: AWSAuthError.self) {
            try Self.iamConnection("postgresql://u@mydb.global-abc123xyz.global.rds.amazonaws.com/db", clock: clock, runtime: WrapperRuntime())
        }
        #expect(global?.code == .missingRegion)
        let noUser = #expect(throws: WrapperError.self) {
            try Self.iamConnection("postgresql://\(Self.rdsHost)/db", clock: clock, runtime: WrapperRuntime())
        }
        #expect(noUser?.code == .missingProperty)
        let expiration = #expect(throws: WrapperError.self) {
            try Self.iamConnection("postgresql://u@\(Self.rdsHost)/db", clock: clock, runtime: WrapperRuntime(), properties: ["iam_expiration": "3600"])
        }
        #expect(expiration?.code == .invalidProperty)
    }

    @Test("the registry builds iam and aws_secrets_manager with the reference's weights")
    func registry() throws {
        #expect(Set(PluginRegistry.default.registeredCodes).isSuperset(of: ["iam", "aws_secrets_manager"]))
        let error = #expect(throws: WrapperError.self) {
            try WrapperConnection.open("postgresql://u@h/db?plugins=aws_secrets_manager", driver: InMemoryDriver(), registry: .default)
        }
        #expect(error?.code == .missingProperty)
        #expect(error?.message.contains("secrets_manager_secret_id") == true)
    }

    // MARK: aws_secrets_manager

    @Test("secrets decode by key; malformed JSON, missing keys and non-strings are typed errors naming keys, never values")
    func secretDecoding() throws {
        let ok = try SecretsManagerPlugin.decode(
            #"{"username":"app","password":"pw-Value-123","host":"x"}"#, secretID: "db", usernameKey: "username", passwordKey: "password")
        #expect(ok == DatabaseCredentials(user: "app", password: "pw-Value-123"))
        #expect(!"\(ok)".contains("pw-Value-123"))
        let cases: [(String, AWSAuthError.Code)] = [
            (#"{"username":"app","password":"pw-Value-123""#, .malformedSecret),
            ("pw-Value-123", .malformedSecret),
            (#"["pw-Value-123"]"#, .malformedSecret),
            (#"{"user":"app","pass":"pw-Value-123"}"#, .missingSecretKey),
            (#"{"username":"app","password":42}"#, .malformedSecret),
        ]
        for (text, code) in cases {
            let error = #expect(throws: AWSAuthError.self) {
                try SecretsManagerPlugin.decode(text, secretID: "db", usernameKey: "username", passwordKey: "password")
            }
            #expect(error?.code == code)
            #expect(error.map { !"\($0)".contains("pw-Value-123") && !"\($0)".contains("42") } == true)
        }
    }

    @Test("the secret's region comes from the property or its ARN; otherwise an error says how to fix it")
    func secretRegion() throws {
        #expect(SecretsManagerPlugin.region(ofARN: "arn:aws:secretsmanager:eu-west-3:123456789012:secret:db-AbC") == "eu-west-3")
        #expect(SecretsManagerPlugin.region(ofARN: "arn:aws-cn:secretsmanager:cn-north-1:1:secret:x") == "cn-north-1")
        #expect(SecretsManagerPlugin.region(ofARN: "plain-name") == nil)
        let plugin = SecretsManagerPlugin(environment: AWSEnvironment(variables: [:], homeDirectory: "/nonexistent"))
        let error = #expect(throws: AWSAuthError.self) { try plugin.location(["secrets_manager_secret_id": "plain-name"]) }
        #expect(error?.code == .missingRegion)
        #expect(error?.message.contains("secrets_manager_region") == true)
        let location = try plugin.location(["secrets_manager_secret_id": "arn:aws:secretsmanager:eu-west-3:1:secret:x-1"])
        #expect(location.endpoint.absoluteString == "https://secretsmanager.eu-west-3.amazonaws.com")
        let bad = #expect(throws: WrapperError.self) {
            try plugin.location(["secrets_manager_secret_id": "x", "secrets_manager_region": "us-east-1", "secrets_manager_endpoint": "not a url"])
        }
        #expect(bad?.code == .invalidProperty)
    }
}
