import Foundation
import WrapperCore

/// A source of AWS credentials.
public protocol AWSCredentialsProvider: Sendable {
    /// A short name for messages (`environment`, `profile "dev"`, `instance metadata`).
    var sourceName: String { get }
    /// The credentials, or `nil` when this source is not configured, so a chain moves on.
    /// Throws when the source is configured but fails.
    func resolveCredentials() throws -> AWSCredentials?
}

/// Credentials given as they are.
public struct StaticCredentialsProvider: AWSCredentialsProvider {
    let credentials: AWSCredentials
    /// Creates the provider.
    public init(_ credentials: AWSCredentials) { self.credentials = credentials }
    public var sourceName: String { "static credentials" }
    public func resolveCredentials() throws -> AWSCredentials? { credentials }
}

/// The botocore-style chain: explicit properties; then, unless `aws_profile` names a profile,
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` +
/// `AWS_ROLE_ARN`), the shared credentials and config files (`AWS_PROFILE` or `default`),
/// container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`/`FULL_URI`) and EC2
/// instance metadata (IMDSv2, unless `AWS_EC2_METADATA_DISABLED=true`). With `aws_profile`
/// only that profile is used, and a missing profile is an error.
///
/// Temporary credentials fetched over the network are cached in the runtime until five minutes
/// before they expire.
public struct AWSCredentialsChain: AWSCredentialsProvider {
    /// The sources, in order.
    public let providers: [any AWSCredentialsProvider]

    /// A chain of the given sources.
    public init(_ providers: [any AWSCredentialsProvider]) { self.providers = providers }

    /// The default chain for connection properties.
    public init(properties: Properties, environment: AWSEnvironment, cache: AWSCredentialsCache, now: @escaping @Sendable () -> Date) throws {
        let timeout = Duration.milliseconds(try properties.value(AWSProperties.requestTimeout))
        let http = AWSHTTPClient(timeout: timeout)
        let key = try properties.value(AWSProperties.accessKeyID)
        let secret = try properties.value(AWSProperties.secretAccessKey)
        switch (key, secret) {
        case (let key?, let secret?):
            self.init([StaticCredentialsProvider(AWSCredentials(
                accessKeyID: key, secretAccessKey: secret, sessionToken: try properties.value(AWSProperties.sessionToken)))])
            return
        case (nil, nil):
            break
        default:
            throw AWSAuthError(.invalidCredentials, "aws_access_key_id and aws_secret_access_key must be set together.")
        }
        let sts = STSClient(
            endpointOverride: try properties.value(AWSProperties.stsEndpoint), environment: environment, http: http)
        if let profile = try properties.value(AWSProperties.profile) {
            self.init([ProfileCredentialsProvider(
                profile: profile, environment: environment, sts: sts, cache: cache, now: now, required: true)])
            return
        }
        self.init([
            EnvironmentCredentialsProvider(environment: environment),
            WebIdentityCredentialsProvider(
                tokenFile: environment["AWS_WEB_IDENTITY_TOKEN_FILE"], roleARN: environment["AWS_ROLE_ARN"],
                sessionName: environment["AWS_ROLE_SESSION_NAME"], sts: sts, cache: cache, now: now),
            ProfileCredentialsProvider(
                profile: environment["AWS_PROFILE"] ?? "default", environment: environment, sts: sts, cache: cache, now: now,
                required: false),
            ContainerCredentialsProvider(environment: environment, http: http, cache: cache, now: now),
            InstanceMetadataCredentialsProvider(environment: environment, http: http, cache: cache, now: now),
        ])
    }

    public var sourceName: String { "credential chain" }

    public func resolveCredentials() throws -> AWSCredentials? {
        for provider in providers {
            if let credentials = try provider.resolveCredentials() { return credentials }
        }
        return nil
    }

    /// The credentials, or an error naming every place that was searched.
    public func requireCredentials() throws -> AWSCredentials {
        if let credentials = try resolveCredentials() { return credentials }
        throw AWSAuthError(
            .credentialsNotFound,
            "No AWS credentials found (searched: \(providers.map(\.sourceName).joined(separator: ", "))). "
                + "Set aws_access_key_id/aws_secret_access_key, aws_profile, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                + "or run where container or instance credentials exist.")
    }
}

/// Temporary credentials shared by the connections of a runtime, kept until five minutes before
/// they expire.
public final class AWSCredentialsCache: Sendable {
    private let entries = ExpiringCache<AWSCredentials>()

    /// Creates an empty cache.
    public init() {}

    /// The cached credentials for `key`, or those `fetch` returns (cached when they expire).
    func credentials(for key: String, now: Date, fetch: () throws -> AWSCredentials) throws -> AWSCredentials {
        if let cached = entries.value(for: key, now: now) { return cached }
        let fresh = try fetch()
        if let expiration = fresh.expiration {
            entries.store(fresh, for: key, until: expiration.addingTimeInterval(-300))
        }
        return fresh
    }

    /// Forgets everything (credentials were rejected).
    public func removeAll() { entries.removeAll() }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
struct EnvironmentCredentialsProvider: AWSCredentialsProvider {
    let environment: AWSEnvironment
    var sourceName: String { "environment" }

    func resolveCredentials() throws -> AWSCredentials? {
        let key = environment["AWS_ACCESS_KEY_ID"]
        let secret = environment["AWS_SECRET_ACCESS_KEY"]
        switch (key, secret) {
        case (nil, nil): return nil
        case (let key?, let secret?):
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
        default:
            throw AWSAuthError(.invalidCredentials, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together.")
        }
    }
}

/// STS `AssumeRoleWithWebIdentity` with a token read from a file (EKS service accounts).
struct WebIdentityCredentialsProvider: AWSCredentialsProvider {
    let tokenFile: String?
    let roleARN: String?
    let sessionName: String?
    let sts: STSClient
    let cache: AWSCredentialsCache
    let now: @Sendable () -> Date

    var sourceName: String { "web identity" }

    func resolveCredentials() throws -> AWSCredentials? {
        guard let tokenFile else { return nil }
        guard let roleARN else {
            throw AWSAuthError(.invalidCredentials, "A web identity token file is set but no role ARN (AWS_ROLE_ARN or role_arn).")
        }
        return try cache.credentials(for: "web-identity|\(roleARN)|\(tokenFile)|\(sts.endpoint(region: nil))", now: now()) {
            guard let token = FileManager.default.contents(atPath: tokenFile) else {
                throw AWSAuthError(.invalidCredentials, "The web identity token file \(tokenFile) cannot be read.")
            }
            return try sts.assumeRoleWithWebIdentity(
                roleARN: roleARN, sessionName: sessionName ?? "swift-advanced-wrapper-\(Int(now().timeIntervalSince1970))",
                webIdentityToken: String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// A profile of the shared credentials file and the config file: static keys, or `role_arn`
/// with `web_identity_token_file`.
struct ProfileCredentialsProvider: AWSCredentialsProvider {
    let profile: String
    let environment: AWSEnvironment
    let sts: STSClient
    let cache: AWSCredentialsCache
    let now: @Sendable () -> Date
    /// Whether a missing profile is an error (it was named by `aws_profile`).
    let required: Bool

    var sourceName: String { "profile \"\(profile)\"" }

    func resolveCredentials() throws -> AWSCredentials? {
        let credentialsFile = SharedConfigFile.read(environment.sharedCredentialsFile)?[profile]
        let configFile = SharedConfigFile.read(environment.configFile)?[profile == "default" ? "default" : "profile \(profile)"]
        guard credentialsFile != nil || configFile != nil else {
            if required {
                throw AWSAuthError(
                    .credentialsNotFound,
                    "The AWS profile \"\(profile)\" (aws_profile) is in neither \(environment.sharedCredentialsFile) nor \(environment.configFile).")
            }
            return nil
        }
        for section in [credentialsFile, configFile].compactMap({ $0 }) {
            let key = section["aws_access_key_id"]
            let secret = section["aws_secret_access_key"]
            if let key, let secret {
                return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: section["aws_session_token"])
            }
            if key != nil || secret != nil {
                throw AWSAuthError(.invalidCredentials, "The AWS profile \"\(profile)\" has only one of aws_access_key_id and aws_secret_access_key.")
            }
        }
        if let configFile, let tokenFile = configFile["web_identity_token_file"] {
            return try WebIdentityCredentialsProvider(
                tokenFile: environment.expand(tokenFile), roleARN: configFile["role_arn"], sessionName: configFile["role_session_name"],
                sts: sts, cache: cache, now: now
            ).resolveCredentials()
        }
        if required {
            throw AWSAuthError(.invalidCredentials, "The AWS profile \"\(profile)\" has no usable credentials (static keys or role_arn with web_identity_token_file).")
        }
        return nil
    }
}

/// The `[section]` / `key = value` files of the AWS CLI.
enum SharedConfigFile {
    static func read(_ path: String) -> [String: [String: String]]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return parse(String(decoding: data, as: UTF8.self))
    }

    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            // Indented lines continue a nested setting (s3 = ...), which no credential uses.
            if rawLine.first == " " || rawLine.first == "\t" { continue }
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}

/// Where an AWS plugin takes its credentials from: an explicit provider, or the default chain
/// built from the connection's properties and the environment. Shared by `iam` and
/// `aws_secrets_manager`.
struct AWSCredentialSource: Sendable {
    let environment: AWSEnvironment
    let provider: (any AWSCredentialsProvider)?
    let now: @Sendable () -> Date

    /// The credentials for a connection with `properties`, or a typed error naming what was searched.
    func credentials(properties: Properties, caches: AWSAuthCaches) throws -> AWSCredentials {
        guard let provider else {
            return try AWSCredentialsChain(properties: properties, environment: environment, cache: caches.credentials, now: now)
                .requireCredentials()
        }
        if let chain = provider as? AWSCredentialsChain { return try chain.requireCredentials() }
        guard let found = try provider.resolveCredentials() else {
            throw AWSAuthError(.credentialsNotFound, "The \(provider.sourceName) gave no AWS credentials.")
        }
        return found
    }
}
