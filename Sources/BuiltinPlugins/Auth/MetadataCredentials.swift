import Foundation
import WrapperCore

/// Container credentials (ECS, EKS Pod Identity): a GET of `AWS_CONTAINER_CREDENTIALS_FULL_URI`,
/// or of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on 169.254.170.2, with the authorization token
/// from `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)` when set.
struct ContainerCredentialsProvider: AWSCredentialsProvider {
    let environment: AWSEnvironment
    let http: AWSHTTPClient
    let cache: AWSCredentialsCache
    let now: @Sendable () -> Date

    var sourceName: String { "container credentials" }

    func resolveCredentials() throws -> AWSCredentials? {
        let address: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            address = "http://169.254.170.2" + relative
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
            address = full
        } else {
            return nil
        }
        guard let url = URL(string: address), url.scheme == "http" || url.scheme == "https" else {
            throw AWSAuthError(.invalidCredentials, "The container credentials URI is not an http(s) URL.")
        }
        return try cache.credentials(for: "container|\(address)", now: now()) {
            var headers: [String: String] = [:]
            if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
                guard let token = FileManager.default.contents(atPath: file) else {
                    throw AWSAuthError(.invalidCredentials, "The container authorization token file \(file) cannot be read.")
                }
                headers["Authorization"] = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
                headers["Authorization"] = token
            }
            let response = try http.send("GET", url, headers: headers)
            guard response.status == 200 else {
                throw AWSAuthError(
                    .invalidCredentials, "The container credentials endpoint answered HTTP \(response.status).", httpStatus: response.status)
            }
            return try MetadataCredentialsDocument.decode(response.body, source: "container credentials endpoint")
        }
    }
}

/// EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then the
/// role name and its credentials. `AWS_EC2_METADATA_SERVICE_ENDPOINT` overrides the address;
/// `AWS_EC2_METADATA_DISABLED=true` turns the source off.
struct InstanceMetadataCredentialsProvider: AWSCredentialsProvider {
    let environment: AWSEnvironment
    let http: AWSHTTPClient
    let cache: AWSCredentialsCache
    let now: @Sendable () -> Date

    var sourceName: String { "instance metadata" }

    func resolveCredentials() throws -> AWSCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        guard let root = URL(string: base.hasSuffix("/") ? String(base.dropLast()) : base), root.scheme != nil else {
            throw AWSAuthError(.invalidCredentials, "AWS_EC2_METADATA_SERVICE_ENDPOINT is not a URL.")
        }
        let explicitlyConfigured = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] != nil
        do {
            return try cache.credentials(for: "imds|\(base)", now: now()) { try fetch(root) }
        } catch let error as AWSAuthError where error.code == .endpointUnreachable && !explicitlyConfigured {
            // Not on EC2: the last source of the chain simply has nothing.
            return nil
        }
    }

    private func fetch(_ root: URL) throws -> AWSCredentials {
        // Instance metadata answers within milliseconds when it exists at all.
        let timeout = Duration.seconds(1)
        let tokenResponse = try http.send(
            "PUT", root.appendingPathComponent("latest/api/token"), headers: ["X-aws-ec2-metadata-token-ttl-seconds": "21600"],
            timeout: timeout)
        guard tokenResponse.status == 200, !tokenResponse.body.isEmpty else {
            throw AWSAuthError(.invalidCredentials, "Instance metadata refused a session token (HTTP \(tokenResponse.status)).", httpStatus: tokenResponse.status)
        }
        let headers = ["X-aws-ec2-metadata-token": tokenResponse.text]
        let rolesURL = root.appendingPathComponent("latest/meta-data/iam/security-credentials/")
        let roles = try http.send("GET", rolesURL, headers: headers, timeout: timeout)
        guard roles.status == 200,
            let role = roles.text.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
            !role.isEmpty
        else {
            throw AWSAuthError(.credentialsNotFound, "Instance metadata has no IAM role (HTTP \(roles.status)); attach an instance profile.", httpStatus: roles.status)
        }
        let credentials = try http.send("GET", rolesURL.appendingPathComponent(role), headers: headers, timeout: timeout)
        guard credentials.status == 200 else {
            throw AWSAuthError(.invalidCredentials, "Instance metadata answered HTTP \(credentials.status) for the role's credentials.", httpStatus: credentials.status)
        }
        return try MetadataCredentialsDocument.decode(credentials.body, source: "instance metadata")
    }
}

/// The JSON credentials document of instance metadata and container endpoints.
struct MetadataCredentialsDocument: Decodable {
    var AccessKeyId: String?
    var SecretAccessKey: String?
    var Token: String?
    var Expiration: String?

    static func decode(_ data: Data, source: String) throws -> AWSCredentials {
        guard let document = try? JSONDecoder().decode(Self.self, from: data), let key = document.AccessKeyId,
            let secret = document.SecretAccessKey
        else {
            throw AWSAuthError(.malformedResponse, "The \(source) did not answer with a credentials document (AccessKeyId, SecretAccessKey).")
        }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: document.Token,
            expiration: document.Expiration.flatMap(AWSDates.parse))
    }
}

/// ISO 8601 dates as AWS writes them, with or without fractional seconds.
enum AWSDates {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
