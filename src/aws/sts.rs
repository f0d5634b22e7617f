//! STS: who the AWS credentials in use belong to, for the record of who deployed.

use aws_sdk_sts as sts;

use super::AwsError;

#[derive(Clone)]
pub struct SdkIdentity {
    client: sts::Client,
}

impl SdkIdentity {
    pub fn new(conf: &aws_config::SdkConfig) -> Self {
        SdkIdentity {
            client: sts::Client::new(conf),
        }
    }

    /// The ARN of the caller (GetCallerIdentity), e.g.
    /// `arn:aws:sts::123456789012:assumed-role/deploy/pipeline`.
    pub async fn caller_arn(&self) -> Result<String, AwsError> {
        const OPERATION: &str = "GetCallerIdentity";
        const RESOURCE: &str = "the caller's identity";
        let out = self
            .client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::sdk(OPERATION, RESOURCE, e))?;
        out.arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::new(OPERATION, RESOURCE, "the response has no Arn"))
    }
}
