import Foundation
import WrapperCore

/// Factories of the AWS authentication plugins: `iam` and `aws_secrets_manager`.
public enum AuthPluginFactories {
    /// The factories; the plugins read the credential chain from `environment`.
    public static func make(environment: AWSEnvironment = .process) -> [PluginFactory] {
        [
            PluginFactory(code: "iam", weight: ReferencePluginCodes.weight(of: "iam")!, properties: IamAuthPlugin.properties) { _ in
                IamAuthPlugin(environment: environment)
            },
            PluginFactory(code: "aws_secrets_manager", weight: ReferencePluginCodes.weight(of: "aws_secrets_manager")!,
                          properties: SecretsManagerPlugin.properties) { _ in
                SecretsManagerPlugin(environment: environment)
            },
        ]
    }
}
