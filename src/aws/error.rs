use aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext;

/// An AWS call that failed: which operation, on which resource, and the SDK's full error chain.
#[derive(Debug, thiserror::Error)]
#[error("AWS {operation} on {resource} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: String,
    pub message: String,
}

impl AwsError {
    pub fn new(
        operation: &'static str,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            operation,
            resource: resource.into(),
            message: message.into(),
        }
    }

    pub fn sdk<E: std::error::Error>(
        operation: &'static str,
        resource: impl Into<String>,
        err: E,
    ) -> Self {
        AwsError::new(operation, resource, DisplayErrorContext(err).to_string())
    }
}
