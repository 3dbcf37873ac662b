import Foundation
import WrapperCore

/// The one STS call the credential chain needs: `AssumeRoleWithWebIdentity`, which is unsigned
/// (the web identity token is the proof).
struct STSClient: Sendable {
    let endpointOverride: String?
    let environment: AWSEnvironment
    let http: AWSHTTPClient

    init(endpointOverride: String?, environment: AWSEnvironment, http: AWSHTTPClient) {
        self.endpointOverride = endpointOverride ?? environment.endpointOverride(service: "STS")
        self.environment = environment
        self.http = http
    }

    func endpoint(region: String?) -> String {
        if let endpointOverride { return endpointOverride }
        if let region = region ?? environment.region { return "https://sts.\(region).amazonaws.com" }
        return "https://sts.amazonaws.com"
    }

    func assumeRoleWithWebIdentity(roleARN: String, sessionName: String, webIdentityToken: String) throws -> AWSCredentials {
        guard let url = URL(string: endpoint(region: nil)) else {
            throw AWSAuthError(.invalidCredentials, "The STS endpoint is not a URL.")
        }
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleARN),
            ("RoleSessionName", sessionName), ("WebIdentityToken", webIdentityToken),
        ].map { "\(SigV4.encode($0.0))=\(SigV4.encode($0.1))" }.joined(separator: "&")
        let response = try http.send(
            "POST", url, headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"], body: Data(form.utf8))
        let xml = response.text
        guard response.status == 200 else {
            let code = XMLText.first("Code", in: xml)
            throw AWSAuthError(
                .invalidCredentials,
                "STS refused AssumeRoleWithWebIdentity for \(roleARN) (HTTP \(response.status)\(code.map { ", \($0)" } ?? "")).",
                awsErrorType: code, httpStatus: response.status)
        }
        guard let key = XMLText.first("AccessKeyId", in: xml), let secret = XMLText.first("SecretAccessKey", in: xml) else {
            throw AWSAuthError(.malformedResponse, "STS answered AssumeRoleWithWebIdentity without credentials.")
        }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: XMLText.first("SessionToken", in: xml),
            expiration: XMLText.first("Expiration", in: xml).flatMap(AWSDates.parse))
    }
}

/// Reads the text of simple, unique elements of an AWS query-protocol answer.
enum XMLText {
    static func first(_ element: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(element)>"),
            let close = xml.range(of: "</\(element)>", range: open.upperBound..<xml.endIndex)
        else { return nil }
        return unescape(String(xml[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
