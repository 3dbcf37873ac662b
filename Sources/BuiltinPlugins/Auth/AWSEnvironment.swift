import Foundation
import WrapperCore

/// What the credential chain reads from its surroundings: environment variables and the home
/// directory. Injected so that tests and multi-tenant applications can set their own.
public struct AWSEnvironment: Sendable {
    /// Environment variables (`AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_STS`, ...).
    public var variables: [String: String]
    /// The directory holding `.aws/credentials` and `.aws/config`.
    public var homeDirectory: String

    /// Creates an environment.
    public init(variables: [String: String], homeDirectory: String) {
        self.variables = variables
        self.homeDirectory = homeDirectory
    }

    /// The process's environment and home directory.
    public static var process: AWSEnvironment {
        let variables = ProcessInfo.processInfo.environment
        return AWSEnvironment(variables: variables, homeDirectory: variables["HOME"] ?? NSHomeDirectory())
    }

    /// A variable, `nil` when unset or empty.
    public subscript(name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// The region from `AWS_REGION` or `AWS_DEFAULT_REGION`.
    var region: String? { self["AWS_REGION"] ?? self["AWS_DEFAULT_REGION"] }

    /// The endpoint override for a service (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`).
    func endpointOverride(service: String) -> String? {
        self["AWS_ENDPOINT_URL_\(service.uppercased().replacingOccurrences(of: " ", with: "_"))"] ?? self["AWS_ENDPOINT_URL"]
    }

    var sharedCredentialsFile: String {
        expand(self["AWS_SHARED_CREDENTIALS_FILE"] ?? "~/.aws/credentials")
    }

    var configFile: String { expand(self["AWS_CONFIG_FILE"] ?? "~/.aws/config") }

    func expand(_ path: String) -> String {
        path.hasPrefix("~/") ? homeDirectory + path.dropFirst() : path
    }
}

/// The properties the AWS plugins share.
public enum AWSProperties {
    /// The credential chain's properties, validated when a connection opens.
    public static let all: [any PropertyValidating] = [profile, accessKeyID, secretAccessKey, sessionToken, stsEndpoint, requestTimeout]

    /// The profile of the shared credentials and config files.
    public static let profile = PropertyDefinition<String?>.optionalString(
        "aws_profile", "Name of the AWS profile in the shared credentials and config files to use for AWS credentials.")
    /// An explicit access key id (with `aws_secret_access_key`).
    public static let accessKeyID = PropertyDefinition<String?>.optionalString(
        "aws_access_key_id", "AWS access key id; when set, used instead of the credential chain.")
    /// An explicit secret access key.
    public static let secretAccessKey = PropertyDefinition<String?>.optionalString(
        "aws_secret_access_key", "AWS secret access key, with aws_access_key_id.")
    /// An explicit session token for temporary keys.
    public static let sessionToken = PropertyDefinition<String?>.optionalString(
        "aws_session_token", "AWS session token of temporary credentials, with aws_access_key_id.")
    /// The STS endpoint used for web identity credentials.
    public static let stsEndpoint = PropertyDefinition<String?>.optionalString(
        "aws_sts_endpoint", "STS endpoint URL for web identity credentials (default: AWS_ENDPOINT_URL_STS or the regional STS endpoint).")
    /// Time limit of one request to an AWS endpoint.
    public static let requestTimeout = PropertyDefinition<Int>.int(
        "aws_request_timeout_ms", default: 5000, in: 1...600_000, "Time limit of one request to an AWS endpoint, in milliseconds.")
}
