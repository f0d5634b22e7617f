//! One event stream, rendered for people (progress lines on stderr) or for pipelines (one JSON
//! object per line on stdout). Commands emit events; they never print directly.

mod event;

pub use event::Event;

use serde::Serialize;
use std::io::Write;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Progress lines for people on stderr, results on stdout.
    #[default]
    Human,
    /// One JSON object per line on stdout.
    Json,
}

pub struct Reporter {
    format: Format,
    started: Instant,
    /// Where events are kept instead of printed (tests: [`Reporter::keeping`]).
    kept: Option<Kept>,
}

/// Events kept instead of printed, in order.
pub type Kept = std::sync::Arc<std::sync::Mutex<Vec<Event>>>;

#[derive(Serialize)]
struct Line<'a> {
    elapsed_ms: u128,
    #[serde(flatten)]
    event: &'a Event,
}

impl Reporter {
    pub fn new(format: Format) -> Reporter {
        Reporter {
            format,
            started: Instant::now(),
            kept: None,
        }
    }

    /// Whether stdout is for machines (JSON lines, or one JSON result document).
    pub fn is_json(&self) -> bool {
        matches!(self.format, Format::Json)
    }

    /// A reporter that prints nothing and keeps every event (tests assert on them).
    #[cfg(test)]
    pub fn keeping() -> (Reporter, Kept) {
        let kept = Kept::default();
        let reporter = Reporter {
            kept: Some(kept.clone()),
            ..Reporter::new(Format::Human)
        };
        (reporter, kept)
    }

    pub fn emit(&self, event: Event) {
        if let Some(kept) = &self.kept {
            kept.lock().expect("kept events").push(event);
            return;
        }
        match self.format {
            Format::Human => {
                let secs = self.started.elapsed().as_secs_f64();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "[{secs:6.1}s] {event}");
            }
            Format::Json => {
                let line = Line {
                    elapsed_ms: self.started.elapsed().as_millis(),
                    event: &event,
                };
                if let Ok(s) = serde_json::to_string(&line) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{s}");
                }
            }
        }
    }

    /// A command's final result: pretty text for people, one JSON object for pipelines.
    pub fn result<T: Serialize>(&self, human: &str, value: &T) {
        if self.kept.is_some() {
            return;
        }
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Human => {
                let _ = writeln!(out, "{human}");
            }
            Format::Json => {
                if let Ok(s) = serde_json::to_string(value) {
                    let _ = writeln!(out, "{s}");
                }
            }
        }
    }
}

/// The Terraform `-json` messages worth a progress line, as that line. Resource progress,
/// provisioner output and diagnostics are shown; version banners, refresh chatter and
/// "still creating" ticks are not.
pub fn terraform_line(m: &crate::iac::UiMessage) -> Option<String> {
    use crate::iac::UiEvent as E;
    match &m.event {
        E::PlannedChange(_)
        | E::ChangeSummary(_)
        | E::ApplyStart(_)
        | E::ApplyComplete(_)
        | E::ApplyErrored(_)
        | E::ProvisionErrored(_)
        | E::ResourceDrift(_)
        | E::Diagnostic(_) => Some(m.message.clone()),
        E::ProvisionProgress(h) => h
            .output
            .as_ref()
            .map(|o| format!("{}: {}", h.resource.addr, o.trim_end())),
        _ => None,
    }
}
