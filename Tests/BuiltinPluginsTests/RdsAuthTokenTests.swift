import BuiltinPlugins
import Foundation
import Testing

@Suite("RDS IAM tokens")
struct RdsAuthTokenTests {
    struct Vector: Decodable {
        let host: String
        let port: Int
        let user: String
        let region: String
        let accessKeyID: String
        let secretAccessKey: String
        let sessionToken: String?
        let epochSeconds: Int
        let token: String
    }

    /// Made by Vectors/make_rds_token_vectors.py with botocore's generate_db_auth_token.
    static func vectors() throws -> [Vector] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/rds_token_vectors.json")
        return try JSONDecoder().decode([Vector].self, from: Data(contentsOf: url))
    }

    @Test("tokens are identical to botocore's for fixed credentials and time")
    func matchesBotocore() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count >= 3)
        for vector in vectors {
            let token = RdsAuthToken.generate(
                host: vector.host, port: vector.port, user: vector.user, region: vector.region,
                credentials: AWSCredentials(
                    accessKeyID: vector.accessKeyID, secretAccessKey: vector.secretAccessKey, sessionToken: vector.sessionToken),
                date: Date(timeIntervalSince1970: TimeInterval(vector.epochSeconds)))
            #expect(token == vector.token)
        }
    }

    @Test("credentials never show their secret")
    func noSecretInDescription() {
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "very-secret", sessionToken: "tok-secret")
        #expect(!"\(credentials)".contains("very-secret"))
        #expect(!"\(credentials)".contains("tok-secret"))
        #expect("\(credentials)".contains("AKID"))
    }
}
