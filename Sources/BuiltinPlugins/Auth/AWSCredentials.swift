import Foundation
import WrapperCore

/// AWS credentials for signing.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The access key id.
    public var accessKeyID: String
    /// The secret access key; never shown.
    public var secretAccessKey: String
    /// The session token of temporary credentials; never shown.
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-term keys.
    public var expiration: Date?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secret: ***\(sessionToken == nil ? "" : ", session token: ***"))"
    }
}

/// A failure of AWS authentication: credentials, regions, AWS endpoints and secrets.
///
/// Messages say what is wrong and how to fix it, and never contain a key, token, password or
/// secret value.
public struct AWSAuthError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No source in the credential chain had credentials.
        public static let credentialsNotFound = Code("credentialsNotFound")
        /// A credential source was configured but gave unusable credentials.
        public static let invalidCredentials = Code("invalidCredentials")
        /// No region could be determined.
        public static let missingRegion = Code("missingRegion")
        /// The host cannot be used for IAM authentication.
        public static let invalidHost = Code("invalidHost")
        /// An AWS endpoint could not be reached or did not answer in time.
        public static let endpointUnreachable = Code("endpointUnreachable")
        /// An AWS service answered with an error.
        public static let serviceError = Code("serviceError")
        /// The secret does not exist.
        public static let secretNotFound = Code("secretNotFound")
        /// The secret is not a JSON object of strings.
        public static let malformedSecret = Code("malformedSecret")
        /// The secret lacks the username or password key.
        public static let missingSecretKey = Code("missingSecretKey")
        /// An AWS answer could not be read.
        public static let malformedResponse = Code("malformedResponse")
    }

    /// What went wrong.
    public var code: Code
    /// What is wrong and how to fix it, without secrets.
    public var message: String
    /// The AWS error type (`ResourceNotFoundException`, `ExpiredToken`, ...) when a service answered.
    public var awsErrorType: String?
    /// The HTTP status when a service answered.
    public var httpStatus: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, awsErrorType: String? = nil, httpStatus: Int? = nil) {
        self.code = code
        self.message = SecretRedactor.redact(message)
        self.awsErrorType = awsErrorType
        self.httpStatus = httpStatus
    }

    /// The code and message, passed through ``SecretRedactor`` (also a message set after creation).
    public var description: String { SecretRedactor.redact("AWSAuthError.\(code): \(message)") }
}
