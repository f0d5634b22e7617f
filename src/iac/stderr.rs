//! Stderr of OpenTofu/Terraform: a bounded tail for error messages, without
//! the noise every command prints, and the errors of human-readable output.

use std::collections::VecDeque;

use super::error::truncate;
use super::ui::{Diagnostic, Severity};

/// Bytes of filtered stderr kept for error messages.
const STDERR_TAIL_BYTES: usize = 8 * 1024;

const NOISE_HEADER: &str = "There are some problems with the CLI configuration:";
const NOISE_MARKER: &str = "Unable to open CLI configuration file";

/// A bounded tail of stderr without the CLI-configuration warning box.
///
/// Terraform draws diagnostics as boxes (`╷`, `│ …`, `╵`). A box that is the
/// missing-CLI-config warning is dropped, with the header line before it and
/// the blank lines after it; everything else is kept.
#[derive(Default)]
pub(crate) struct StderrTail {
    kept: VecDeque<String>,
    kept_bytes: usize,
    header: Option<String>,
    open_box: Option<Vec<String>>,
    after_noise: bool,
}

impl StderrTail {
    pub(crate) fn push_line(&mut self, line: &str) {
        let line = &strip_ansi(line);
        let trimmed = line.trim();
        if let Some(lines) = self.open_box.as_mut() {
            lines.push(line.to_owned());
            if trimmed.starts_with('╵') {
                let lines = self.open_box.take().unwrap_or_default();
                self.close_box(lines);
            }
        } else if trimmed.starts_with('╷') {
            self.open_box = Some(vec![line.to_owned()]);
        } else if trimmed == NOISE_HEADER {
            self.flush_header();
            self.header = Some(line.to_owned());
        } else if !(trimmed.is_empty() && self.after_noise) {
            self.flush_header();
            self.after_noise = false;
            self.keep(line);
        }
    }

    fn close_box(&mut self, lines: Vec<String>) {
        if lines.iter().any(|l| l.contains(NOISE_MARKER)) {
            self.header = None;
            self.after_noise = true;
            return;
        }
        self.flush_header();
        self.after_noise = false;
        for line in lines {
            self.keep(&line);
        }
    }

    fn flush_header(&mut self) {
        if let Some(header) = self.header.take() {
            self.keep(&header);
        }
    }

    fn keep(&mut self, line: &str) {
        self.kept_bytes += line.len() + 1;
        self.kept.push_back(line.to_owned());
        while self.kept_bytes > STDERR_TAIL_BYTES && self.kept.len() > 1 {
            if let Some(dropped) = self.kept.pop_front() {
                self.kept_bytes -= dropped.len() + 1;
            }
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.flush_header();
        for line in self.open_box.take().unwrap_or_default() {
            self.keep(&line);
        }
        let mut text: String = self.kept.into_iter().map(|l| l + "\n").collect();
        if self.kept_bytes > STDERR_TAIL_BYTES {
            text = truncate(&text, STDERR_TAIL_BYTES);
        }
        text
    }
}

/// `text` without ANSI escape sequences (`workspace select` colours its
/// errors even in automation, and has no `-no-color`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
        } else if chars.next() == Some('[') {
            // CSI: parameters and intermediates, then one final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// Filters the CLI-configuration noise out of a whole stderr text.
pub fn filter_stderr(text: &str) -> String {
    let mut tail = StderrTail::default();
    text.lines().for_each(|line| tail.push_line(line));
    tail.finish()
}

/// Diagnostics from human-readable output (`Error: …` / `Warning: …` and the
/// paragraph after it, boxed or not), for commands run without `-json`.
pub fn human_diagnostics(stderr: &str) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut current: Option<Diagnostic> = None;
    for raw in stderr.lines() {
        let line = raw.trim_start_matches(['╷', '╵', '│']).trim();
        let start = [
            ("Error: ", Severity::Error),
            ("Warning: ", Severity::Warning),
        ]
        .into_iter()
        .find_map(|(prefix, severity)| line.strip_prefix(prefix).map(|s| (s, severity)));
        if let Some((summary, severity)) = start {
            out.extend(current.take());
            current = Some(Diagnostic {
                severity,
                summary: summary.trim().to_owned(),
                detail: String::new(),
                address: None,
                range: None,
            });
        } else if raw.trim_start().starts_with('╵') {
            out.extend(current.take());
        } else if let Some(d) = current.as_mut() {
            if !d.detail.is_empty() || !line.is_empty() {
                d.detail.push_str(line);
                d.detail.push('\n');
            }
        }
    }
    out.extend(current);
    for d in &mut out {
        d.detail = d.detail.trim().to_owned();
    }
    out
}

/// What the operating system says when a write finds no room: ENOSPC, EDQUOT
/// (as Go spells them on Unix) and Windows' ERROR_DISK_FULL.
const DISK_FULL_MARKERS: &[&str] = &[
    "no space left on device",
    "disk quota exceeded",
    "not enough space on the disk",
];

/// Terraform failed because a disk is full, as its errors say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFull {
    /// The operating system's words, e.g. "no space left on device".
    pub reason: &'static str,
    /// The file Terraform could not write, when the message names one.
    pub path: Option<String>,
    /// Terraform reported it could not acquire the state lock: writing the lock
    /// information failed, no other run holds the lock.
    pub lock_error: bool,
    /// Terraform could not persist the state and left it in `errored.tfstate`.
    pub errored_state: bool,
}

/// Reads a full disk out of a failed command's error diagnostics and stderr.
///
/// Terraform does not call a full disk by its name. With the local backend the
/// first write of a run is the lock information, so a full disk reads
/// `Error acquiring the state lock` with `write …/.terraform.tfstate.lock.info:
/// no space left on device` in the detail; a full disk at the end of an apply
/// reads `Failed to save state`. The OS error text is what tells, wherever it
/// is, and it wins over the state-lock reading. Human output wraps lines, so
/// the text is searched with its whitespace collapsed.
pub fn disk_full(diagnostics: &[Diagnostic], stderr_tail: &str) -> Option<DiskFull> {
    let mut text = String::new();
    for d in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
        text.push_str(&d.summary);
        text.push(' ');
        text.push_str(&d.detail);
        text.push(' ');
    }
    text.push_str(stderr_tail);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = text.to_ascii_lowercase();
    let (at, reason) = DISK_FULL_MARKERS
        .iter()
        .filter_map(|m| lower.find(m).map(|at| (at, *m)))
        .min()?;
    Some(DiskFull {
        reason,
        path: written_path(&text[..at]),
        lock_error: lower.contains("error acquiring the state lock")
            || lower.contains("error locking state"),
        errored_state: lower.contains("errored.tfstate"),
    })
}

/// The path of Go's `op PATH: <errno text>`, i.e. the last word before the
/// error text, when it looks like a path.
fn written_path(before: &str) -> Option<String> {
    let word = before
        .trim_end()
        .trim_end_matches(':')
        .split(' ')
        .next_back()?;
    let word = word.trim_matches(['"', '\'', '`']);
    (word.contains('/') || word.contains('\\')).then(|| word.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The box every command prints when the CLI configuration file is missing.
    pub(crate) const NOISE: &str = "There are some problems with the CLI configuration:\n\
        ╷\n\
        │ Warning: Unable to open CLI configuration file\n\
        │\n\
        │ The CLI configuration file at \"/root/.terraformrc\" does not exist.\n\
        ╵\n\
        \n";

    #[test]
    fn the_cli_config_warning_box_is_filtered() {
        assert_eq!(filter_stderr(NOISE), "");
        let text =
            format!("{NOISE}\nError: Invalid backend configuration argument\n\nThe backend …\n");
        assert_eq!(
            filter_stderr(&text),
            "Error: Invalid backend configuration argument\n\nThe backend …\n"
        );
    }

    #[test]
    fn other_boxes_and_headers_are_kept() {
        let other = "There are some problems with the CLI configuration:\n╷\n│ Error: Invalid provider installation\n╵\n";
        assert_eq!(filter_stderr(other), other);
        let both = format!("{NOISE}╷\n│ Error: Failed to lock\n│ held\n╵\n");
        assert_eq!(
            filter_stderr(&both),
            "╷\n│ Error: Failed to lock\n│ held\n╵\n"
        );
    }

    #[test]
    fn colour_codes_are_stripped() {
        let text =
            "\u{1b}[31m\nThe selected workspace is currently overridden\n\u{1b}[0m\u{1b}[0m\n";
        assert_eq!(
            filter_stderr(text),
            "\nThe selected workspace is currently overridden\n\n"
        );
    }

    #[test]
    fn stderr_tail_is_bounded() {
        let mut tail = StderrTail::default();
        for i in 0..10_000 {
            tail.push_line(&format!("line {i}"));
        }
        let text = tail.finish();
        assert!(text.len() <= STDERR_TAIL_BYTES + 4, "{}", text.len());
        assert!(text.ends_with("line 9999\n") && !text.contains("line 1\n"));
    }

    #[test]
    fn human_diagnostics_plain_and_boxed() {
        let plain = "Error: Invalid backend configuration argument\n\nThe backend configuration argument \"nosuch\" given on the command line is not\nexpected for the selected backend type.\n";
        let d = human_diagnostics(plain);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].summary, "Invalid backend configuration argument");
        assert!(d[0]
            .detail
            .starts_with("The backend configuration argument"));

        let boxed =
            "╷\n│ Error: Error acquiring the state lock\n│\n│ Lock Info:\n╵\n╷\n│ Warning: W\n╵\n";
        let d = human_diagnostics(boxed);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].severity, d[0].detail.as_str()),
            (Severity::Error, "Lock Info:")
        );
        assert_eq!(d[1].severity, Severity::Warning);
    }

    fn error(summary: &str, detail: &str) -> Diagnostic {
        Diagnostic::error_for_tests(summary, detail)
    }

    /// `plan -json` with the local backend's state on a full file system (Terraform 1.11.4).
    pub(crate) fn lock_info_enospc() -> Diagnostic {
        error(
            "Error acquiring the state lock",
            "Error message: could not write lock info for \"/w/local/state/terraform.tfstate\": \
             write /w/local/state/.terraform.tfstate.lock.info: no space left on device\n\n\
             Terraform acquires a state lock to protect the state from being written\nby multiple \
             users at the same time. Please resolve the issue above and try\nagain. For most \
             commands, you can disable locking with the \"-lock=false\"\nflag, but this is not \
             recommended.",
        )
    }

    #[test]
    fn item_12_full_disk_is_diagnosed_as_full_disk() {
        // The state lock's information could not be written: a full disk, not a held lock.
        let full = disk_full(&[lock_info_enospc()], "").unwrap();
        assert_eq!(
            full,
            DiskFull {
                reason: "no space left on device",
                path: Some("/w/local/state/.terraform.tfstate.lock.info".into()),
                lock_error: true,
                errored_state: false,
            }
        );

        // The same in human output, wrapped (`plan -no-color`).
        let human = "Error: Error acquiring the state lock\n\nError message: could not write lock \
            info for \"/w/s/terraform.tfstate\":\nwrite /w/s/.terraform.tfstate.lock.info: no space \
            left on device\n\nTerraform acquires a state lock to protect the state from being \
            written\n";
        let full = disk_full(&human_diagnostics(human), "").unwrap();
        assert_eq!(
            full.path.as_deref(),
            Some("/w/s/.terraform.tfstate.lock.info")
        );
        assert!(full.lock_error);

        // `init` when TF_DATA_DIR is on the full disk: one long summary line on stderr.
        let init = "\nError: Error locking state: [{%!s(tfdiags.Severity=69) Error acquiring the \
            state lock Error message: could not write lock info for \"/w/tf/blue/data/terraform.tfstate\": \
            write /w/tf/blue/data/.terraform.tfstate.lock.info: no space left on device\n\n\
            Terraform acquires a state lock to protect the state from being written\n";
        let full = disk_full(&human_diagnostics(init), init).unwrap();
        assert_eq!(
            (full.path.as_deref(), full.lock_error),
            (Some("/w/tf/blue/data/.terraform.tfstate.lock.info"), true)
        );

        // `apply -json`: the resources were changed but the state could not be saved.
        let apply = [
            error(
                "Failed to write state",
                "An error occured while writing the serialized state: write \
                 /w/s/terraform.tfstate: no space left on device.",
            ),
            error(
                "Failed to save state",
                "Error saving state: Failed to write state: An error occured while writing the \
                 serialized state: write /w/s/terraform.tfstate: no space left on device.",
            ),
            error(
                "Failed to persist state to backend",
                "The error shown above has prevented Terraform from writing the updated state to \
                 the configured backend. To allow for recovery, the state has been written to the \
                 file \"errored.tfstate\" in the current working directory.\n\nRunning \
                 \"terraform apply\" again at this point will create a forked state, making it \
                 harder to recover.\n\nTo retry writing this state, use the following command:\n    \
                 terraform state push errored.tfstate\n",
            ),
        ];
        let full = disk_full(&apply, "").unwrap();
        assert_eq!(
            full,
            DiskFull {
                reason: "no space left on device",
                path: Some("/w/s/terraform.tfstate".into()),
                lock_error: false,
                errored_state: true,
            }
        );

        // A quota, on stderr only (a crashed provider), without a path.
        let full = disk_full(&[], "Error: failed: disk quota exceeded\n").unwrap();
        assert_eq!((full.reason, full.path), ("disk quota exceeded", None));
    }

    #[test]
    fn a_held_lock_or_a_warning_is_no_full_disk() {
        let held = error(
            "Error acquiring the state lock",
            "Error message: resource temporarily unavailable\nLock Info:\n  ID: 1\n  Path: \
             /w/s/terraform.tfstate\n  Operation: OperationTypeApply",
        );
        assert_eq!(disk_full(&[held], ""), None);
        let warning = Diagnostic {
            severity: Severity::Warning,
            ..error("W", "write /x: no space left on device")
        };
        assert_eq!(disk_full(&[warning], ""), None);
    }
}
