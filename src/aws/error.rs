use aws_sdk_elasticloadbalancingv2::error::{DisplayErrorContext, ProvideErrorMetadata};
use std::error::Error as StdError;

pub use crate::domain::ports::AwsError;

/// The longest `message` kept; past it the text is cut (a long error message is a dump).
const MAX_MESSAGE: usize = 300;

impl AwsError {
    pub fn sdk<E>(operation: &'static str, resource: impl Into<String>, err: E) -> Self
    where
        E: StdError + ProvideErrorMetadata,
    {
        let resource = resource.into();
        tracing::debug!(
            operation,
            resource = %resource,
            error = %DisplayErrorContext(&err),
            "AWS call failed"
        );
        AwsError::new(operation, resource, sdk_summary(&err))
    }
}

/// One line for an SDK error: `Code: message` when AWS answered with an error, else what went
/// wrong on the way (timeout, connection refused, …) from the error's chain. Never the `Debug`
/// form, which carries the raw request and response.
pub fn sdk_summary<E>(err: &E) -> String
where
    E: StdError + ProvideErrorMetadata,
{
    let text = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        (None, Some(message)) => message.to_string(),
        (None, None) => chain(err),
    };
    one_line(&text)
}

/// "dispatch failure: io error: tcp connect error: Connection refused (os error 111)": each
/// cause's own text, without repeats.
fn chain(err: &dyn StdError) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Whitespace folded to single spaces, cut at [`MAX_MESSAGE`] characters.
fn one_line(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= MAX_MESSAGE {
        return folded;
    }
    let cut: String = folded.chars().take(MAX_MESSAGE).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::error::{ErrorMetadata, SdkError};
    use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerError;

    /// The raw response the SDK keeps in a service error (headers and body; its `Debug` form
    /// is what reached messages before).
    fn raw() -> String {
        let headers: String = (0..40)
            .map(|i| format!("x-amz-header-{i}: {}\n", "x".repeat(40)))
            .collect();
        format!(
            "{headers}\n<ErrorResponse>{}</ErrorResponse>",
            "z".repeat(4000)
        )
    }

    #[test]
    fn a_service_error_is_its_code_and_message_on_one_line() {
        let meta = ErrorMetadata::builder()
            .code("Throttling")
            .message("Rate exceeded")
            .build();
        let err: SdkError<ModifyListenerError, String> =
            SdkError::service_error(ModifyListenerError::generic(meta), raw());
        // What the old message was: the full context, kilobytes of it.
        assert!(DisplayErrorContext(&err).to_string().len() > 2000);

        let e = AwsError::sdk(
            "ModifyListener",
            "arn:aws:elasticloadbalancing:listener/x",
            err,
        );
        assert_eq!(
            e.to_string(),
            "AWS ModifyListener on arn:aws:elasticloadbalancing:listener/x failed: Throttling: Rate exceeded"
        );
    }

    #[test]
    fn a_transport_error_is_its_chain_on_one_line() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let err: SdkError<ModifyListenerError, String> = SdkError::timeout_error(io);
        let e = AwsError::sdk("ModifyListener", "arn:x", err);
        assert_eq!(
            e.message,
            "request has timed out: Connection refused (os error 111)"
        );
    }

    #[test]
    fn long_or_multiline_text_is_folded_and_cut() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let long = one_line(&"word ".repeat(200));
        assert_eq!(long.chars().count(), MAX_MESSAGE + 1);
        assert!(long.ends_with('…'));
    }
}
