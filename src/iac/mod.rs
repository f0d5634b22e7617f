//! Terraform/OpenTofu: discovery, command builder, runner, JSON formats.
//!
//! Commands are built as data ([`CommandBuilder`] → [`TfCommand`]) and run
//! without a shell ([`run_streaming`], [`run_capture`]); [`Stack`] strings
//! them together for the deploy. The JSON formats (`-json` UI stream,
//! `show -json`, `output -json`) are parsed tolerantly, and nothing Terraform
//! marks sensitive escapes through a `Debug`, `Display` or `Serialize` of
//! the types here. [`check_plan`] judges a redacted plan of the idle color
//! before it is applied.

mod backend;
mod command;
mod discover;
mod error;
mod outputs;
mod plan;
mod prepared;
mod private;
mod redact;
mod redacted;
mod runner;
mod safety;
mod stack;
mod stderr;
mod ui;

pub use backend::declared_backend;
pub use command::{CommandBuilder, StackDirs, TfCommand, REDACTED_VALUE, REMOVED_ENV};
pub use discover::{discover, discover_in, IacKind, IacPreference, IacTool};
pub use error::IacError;
pub use outputs::{OutputValue, Outputs};
pub use plan::{Action, PlanSummary, ReplaceOrder, ResourceChange};
pub use private::{open_private, write_private, PRIVATE_MODE};
pub use redact::{
    redact_plan_json, redact_value, redacted_plan_json, MIN_SUBSTRING_SECRET, REDACTED,
};
pub use redacted::{summarized_plan_json, RedactedPlan};
pub use runner::{failure, run_capture, run_streaming, Captured, StreamOutcome};
pub use safety::{check_plan, check_redacted_plan, Finding, ForeignObjects, Rule, SafetyPolicy};
pub use stack::{PlanOutcome, Stack, StateMeta, DEFAULT_WORKSPACE};
pub use stderr::{disk_full, filter_stderr, human_diagnostics, DiskFull};
pub use ui::{
    parse_ui_line, ChangeOperation, ChangeSummary, Diagnostic, Hook, PlannedChange, ResourceAddr,
    Severity, SourcePos, SourceRange, ToolVersion, UiAction, UiEvent, UiMessage, UiOutput,
};
