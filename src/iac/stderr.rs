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
}
