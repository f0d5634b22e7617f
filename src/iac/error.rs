//! The one error type of the IaC layer.
//!
//! Every variant that comes from running a command names it (program and
//! arguments; environment values never appear). Failures carry the first
//! error diagnostics and a bounded, filtered tail of stderr. Nothing here ever
//! holds a value Terraform marked sensitive: JSON documents that may carry
//! secrets (`show -json`, `output -json`) are reported by position only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::stderr::DiskFull;
use super::ui::{Diagnostic, Severity};

/// How many error diagnostics an error message shows.
const SHOWN_DIAGNOSTICS: usize = 3;
/// How much of one diagnostic's detail an error message shows.
const SHOWN_DETAIL_CHARS: usize = 600;

#[derive(Debug, thiserror::Error)]
pub enum IacError {
    #[error(
        "no OpenTofu or Terraform binary found ({searched}). Install OpenTofu (`tofu`) or \
         Terraform (`terraform`, 1.4 or newer) on PATH, or set the binary's path explicitly"
    )]
    NotFound { searched: String },

    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "`{command}` failed with exit code {exit_code}{}",
        describe(diagnostics, stderr_tail)
    )]
    Failed {
        command: String,
        exit_code: i32,
        diagnostics: Vec<Diagnostic>,
        stderr_tail: String,
    },

    /// A disk (or a disk quota) is full. Checked before [`IacError::StateLocked`]:
    /// with a full disk Terraform cannot write its lock information and says it
    /// could not acquire the state lock, although no one holds it.
    #[error(
        "the disk is full: `{command}` failed with exit code {exit_code}{}\n  fix: {}{}",
        full_cause(full),
        full_fix(full),
        describe(diagnostics, stderr_tail)
    )]
    DiskFull {
        command: String,
        exit_code: i32,
        full: Box<DiskFull>,
        diagnostics: Vec<Diagnostic>,
        stderr_tail: String,
    },

    /// `plan -out` reported success and left the plan file empty: Terraform
    /// (1.11) does not report a failed write of the plan file, which is what a
    /// full disk does to it.
    #[error(
        "`{command}` exited {exit_code} but the saved plan {} is empty: the disk holding it is \
         probably full (Terraform does not report a failed write of the plan file)\n  fix: free \
         space on the file system that holds {} (`df -h`), then run the command again",
        path.display(),
        path.parent().unwrap_or(path).display()
    )]
    EmptyPlanFile {
        command: String,
        exit_code: i32,
        path: PathBuf,
    },

    #[error(
        "`{command}` could not acquire the state lock (exit code {exit_code}): another run holds \
         it. Wait for that run to finish or raise the lock timeout; if no run is active, the lock \
         is left over from a crash and must be released with `force-unlock`{}",
        describe(diagnostics, stderr_tail)
    )]
    StateLocked {
        command: String,
        exit_code: i32,
        diagnostics: Vec<Diagnostic>,
        stderr_tail: String,
    },

    #[error(
        "`{command}`: the saved plan is stale: the state changed after the plan was made \
         (exit code {exit_code}). Nothing was applied; make a new plan and review it"
    )]
    StalePlan {
        command: String,
        exit_code: i32,
        diagnostics: Vec<Diagnostic>,
    },

    #[error(
        "unreadable JSON from {what} ({position}): {source}{}",
        excerpt_suffix(excerpt)
    )]
    BadJson {
        what: String,
        /// "line N" for a stream, "line N, column M" for a document.
        position: String,
        /// A truncated copy of the offending line; `None` for documents that
        /// may hold sensitive values (`show -json`, `output -json`).
        excerpt: Option<String>,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "{what} version {found} is not supported (bluegreen understands {supported}); use a \
         supported OpenTofu/Terraform release or upgrade bluegreen"
    )]
    UnsupportedVersion {
        what: &'static str,
        found: String,
        supported: &'static str,
    },

    #[error(
        "plan action {actions:?} on `{address}` is unknown to bluegreen; refusing to judge a plan \
         it cannot read. Upgrade bluegreen or use a supported OpenTofu/Terraform release"
    )]
    UnknownAction {
        address: String,
        actions: Vec<String>,
    },

    #[error(
        "output `{name}` is missing or null; the root module must declare it and give it a value \
         (see docs/contract.md)"
    )]
    MissingOutput { name: String },

    #[error("output `{name}` is {found}, expected {expected} (see docs/contract.md)")]
    OutputType {
        name: String,
        expected: &'static str,
        found: String,
    },

    #[error(
        "asked for workspace `{expected}` but `{command}` reports `{actual}`; check the backend \
         configuration and the data directory"
    )]
    WorkspaceMismatch {
        command: String,
        expected: String,
        actual: String,
    },

    #[error(
        "root module {} declares no backend; add one (`terraform {{ backend \"local\" {{}} }}`, \
         `backend \"s3\" {{}}`, …) so state never lands in the module directory",
        root.display()
    )]
    NoBackend { root: PathBuf },

    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot parse {}: {message}", path.display())]
    Hcl { path: PathBuf, message: String },
}

impl IacError {
    /// The diagnostics Terraform reported, for errors that come from a command.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            IacError::Failed { diagnostics, .. }
            | IacError::DiskFull { diagnostics, .. }
            | IacError::StateLocked { diagnostics, .. }
            | IacError::StalePlan { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

/// The error diagnostics (or, when there are none, the stderr tail) for a message.
fn describe(diagnostics: &[Diagnostic], stderr_tail: &str) -> String {
    let mut out = String::new();
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    for diagnostic in errors.iter().take(SHOWN_DIAGNOSTICS) {
        let _ = write!(out, "\n  Error: {}", diagnostic.summary);
        let detail = diagnostic.detail.trim();
        if !detail.is_empty() {
            let _ = write!(out, ": {}", truncate(detail, SHOWN_DETAIL_CHARS));
        }
    }
    if errors.len() > SHOWN_DIAGNOSTICS {
        let _ = write!(
            out,
            "\n  (and {} more errors)",
            errors.len() - SHOWN_DIAGNOSTICS
        );
    }
    if errors.is_empty() && !stderr_tail.trim().is_empty() {
        let _ = write!(out, "\n  stderr (tail):\n{}", stderr_tail.trim_end());
    }
    out
}

/// What could not be written, for [`IacError::DiskFull`]'s headline.
fn full_cause(full: &DiskFull) -> String {
    match &full.path {
        Some(path) => format!(": it could not write {path} ({})", full.reason),
        None => format!(" ({})", full.reason),
    }
}

/// What to do about a full disk: where to free space, and what not to do.
fn full_fix(full: &DiskFull) -> String {
    let place = match &full.path {
        Some(path) => {
            let dir = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty());
            format!(
                "the file system that holds {}",
                dir.map_or(path.clone(), |d| d.display().to_string())
            )
        }
        None => "the work directory (`--work-dir`: Terraform's data, saved plans, local state) \
                 and the state backend's storage"
            .to_owned(),
    };
    let mut fix = format!(
        "free space on {place} (`df -h` shows how full it is), or raise the disk quota, then run \
         the command again"
    );
    if full.lock_error {
        fix.push_str(
            ". Terraform's \"Error acquiring the state lock\" is the same full disk (it could not \
             write the lock information), not another run holding the lock: do not \
             `force-unlock`",
        );
    }
    if full.errored_state {
        fix.push_str(
            ". Terraform could not save the state and wrote it to `errored.tfstate` in the root \
             module's directory: once there is space, push it back (`terraform state push \
             errored.tfstate`, same backend and workspace) before running bluegreen again",
        );
    }
    fix
}

fn excerpt_suffix(excerpt: &Option<String>) -> String {
    match excerpt {
        Some(line) => format!(": {line}"),
        None => String::new(),
    }
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(summary: &str, detail: &str) -> Diagnostic {
        Diagnostic::error_for_tests(summary, detail)
    }

    #[test]
    fn failure_names_command_code_and_first_errors() {
        let warning = Diagnostic {
            severity: Severity::Warning,
            ..error("ignored warning", "")
        };
        let err = IacError::Failed {
            command: "terraform -chdir=/m plan".into(),
            exit_code: 1,
            diagnostics: vec![warning, error("Bad thing", "it broke"), error("Second", "")],
            stderr_tail: "noise".into(),
        };
        let text = err.to_string();
        assert!(text.starts_with("`terraform -chdir=/m plan` failed with exit code 1"));
        assert!(text.contains("Error: Bad thing: it broke"));
        assert!(text.contains("Error: Second"));
        assert!(!text.contains("ignored warning"));
        // Diagnostics explain the failure; the stderr tail is only a fallback.
        assert!(!text.contains("noise"));
    }

    #[test]
    fn failure_without_diagnostics_shows_stderr_tail() {
        let err = IacError::Failed {
            command: "tofu init".into(),
            exit_code: 1,
            diagnostics: vec![],
            stderr_tail: "Error: Failed to get existing workspaces\n".into(),
        };
        assert!(err
            .to_string()
            .contains("Failed to get existing workspaces"));
    }

    #[test]
    fn many_errors_are_bounded() {
        let many: Vec<_> = (0..10).map(|i| error(&format!("e{i}"), "")).collect();
        let text = describe(&many, "");
        assert!(text.contains("e2") && !text.contains("e3"));
        assert!(text.contains("(and 7 more errors)"));
    }

    #[test]
    fn truncate_cuts_on_char_boundaries() {
        assert_eq!(truncate("ééééé", 2), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
