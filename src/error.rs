//! The top-level error of a command, and its exit code (via [`crate::exit`]).

use crate::aws::AwsError;
use crate::config::ConfigError;
use crate::domain::color::{Color, Weights};
use crate::domain::image::ImageError;
use crate::domain::TrafficError;
use crate::exit;
use crate::iac::IacError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Any other bad input (flags, module contract), with the fix.
    #[error("{message}\n  fix: {fix}")]
    BadInput { message: String, fix: String },
    #[error(transparent)]
    Iac(#[from] IacError),
    /// A stack's outputs break the module contract (docs/contract.md).
    #[error("{0}")]
    Contract(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Traffic could not be read or moved; production was not changed.
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    /// The request is valid but the environment's state doesn't allow it. Nothing changed.
    #[error("{message}\n  fix: {fix}")]
    Refused { message: String, fix: String },
    /// The deployment failed and production traffic was restored, read back and verified.
    #[error("{reason}\n{}", restored_line(*.restored, *.weights))]
    RolledBack {
        reason: String,
        /// `None` when no color was live before (the listener is back on its fixed response).
        restored: Option<Color>,
        weights: Weights,
    },
    /// Restoring traffic failed or could not be verified.
    #[error(
        "ROLLBACK FAILED — traffic may be on a bad stack.\n  why the deployment was failing: {reason}\n  \
         why the restore failed: {restore_error}\n  fix: check the listener now (`bluegreen status`), \
         then `bluegreen rollback` or set the weights by hand (docs/operations.md)"
    )]
    RollbackFailed {
        reason: String,
        restore_error: String,
    },
    /// Another command holds the environment lock. Nothing changed.
    #[error("{message}\n  fix: {fix}")]
    Locked {
        message: String,
        fix: String,
        holder: Box<crate::state::LockInfo>,
    },
    /// The journal or the lock could not be read or written.
    #[error(transparent)]
    State(#[from] crate::state::StoreError),
    /// `drift` found differences (the report was printed). Nothing changed.
    #[error("{message}")]
    Drift { message: String },
    /// A stack's plan failed during `drift` (the report was printed and says which).
    #[error("{0}")]
    DriftPlanFailed(String),
    /// A read-only report (`status`, `drift`) could not tell: something it needs could not be
    /// read (e.g. the shared stack has no Terraform state here). The report was printed and
    /// says `unknown` and why. Nothing changed.
    #[error("{message}\n  fix: {fix}")]
    Unknown { message: String, fix: String },
    /// The deployment stopped at its approval gate (not a failure): production traffic was not
    /// moved and the deployment is unfinished.
    #[error("{message}\n  next: {next}")]
    AwaitingApproval { message: String, next: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Image(_) | Error::BadInput { .. } => exit::BAD_INPUT,
            Error::Iac(_) | Error::Contract(_) => exit::IAC_FAILED,
            Error::Aws(_) | Error::Traffic(_) => exit::AWS_FAILED,
            Error::Refused { .. } => exit::REFUSED,
            Error::RolledBack { .. } => exit::ROLLED_BACK,
            Error::RollbackFailed { .. } => exit::ROLLBACK_FAILED,
            Error::Internal(_) => exit::INTERNAL,
            Error::Locked { .. } => exit::LOCKED,
            Error::Drift { .. } => exit::DRIFT,
            Error::AwaitingApproval { .. } => exit::AWAITING_APPROVAL,
            Error::DriftPlanFailed(_) => exit::IAC_FAILED,
            // "Could not read": the same code as a failed read of AWS or of the journal.
            Error::Unknown { .. } => exit::AWS_FAILED,
            // A damaged journal or lock document stops everything until a human looks.
            Error::State(crate::state::StoreError::Corrupt { .. }) => exit::REFUSED,
            Error::State(_) => exit::AWS_FAILED,
        }
    }

    pub fn bad_input(message: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::BadInput {
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn refused(message: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::Refused {
            message: message.into(),
            fix: fix.into(),
        }
    }
}

fn restored_line(restored: Option<Color>, weights: Weights) -> String {
    match restored {
        Some(c) => format!("production traffic is on {c} (read back and verified: {weights})"),
        None => {
            "no color was live before; the listener is back on its fixed response (verified)".into()
        }
    }
}
