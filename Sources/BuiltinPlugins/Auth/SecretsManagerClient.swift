import Foundation
import WrapperCore

/// `GetSecretValue` of AWS Secrets Manager (JSON 1.1 protocol, SigV4-signed headers).
struct SecretsManagerClient: Sendable {
    let endpoint: URL
    let region: String
    let http: AWSHTTPClient

    /// The default endpoint of a region.
    static func defaultEndpoint(region: String) -> String {
        region.hasPrefix("cn-") ? "https://secretsmanager.\(region).amazonaws.com.cn" : "https://secretsmanager.\(region).amazonaws.com"
    }

    /// The secret's `SecretString`.
    func secretString(id: String, credentials: AWSCredentials, date: Date) throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["SecretId": id], options: [.withoutEscapingSlashes])
        var headers = [
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue",
        ]
        SigV4.signHeaders(
            method: "POST", url: endpoint, headers: &headers, body: body, service: "secretsmanager", region: region,
            credentials: credentials, date: date)
        let response = try http.send("POST", endpoint, headers: headers, body: body)
        let document = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any]
        guard response.status == 200 else {
            let type = (document?["__type"] as? String).map { $0.split(separator: "#").last.map(String.init) ?? $0 }
            if type == "ResourceNotFoundException" {
                throw AWSAuthError(
                    .secretNotFound,
                    "The secret \(id) does not exist in \(region) (or is not visible to these credentials): check secrets_manager_secret_id and secrets_manager_region.",
                    awsErrorType: type, httpStatus: response.status)
            }
            throw AWSAuthError(
                .serviceError, "Secrets Manager refused GetSecretValue for \(id) (HTTP \(response.status)\(type.map { ", \($0)" } ?? "")).",
                awsErrorType: type, httpStatus: response.status)
        }
        guard let secret = document?["SecretString"] as? String else {
            throw AWSAuthError(
                .malformedSecret, "The secret \(id) has no SecretString (binary secrets are not supported): store a JSON object of strings.")
        }
        return secret
    }
}
