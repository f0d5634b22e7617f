use crate::domain::color::{Color, Weights};
use serde::Serialize;
use std::fmt;

/// Everything a command tells its caller while it works.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A new phase of the command.
    Step { message: String },
    /// A detail within the current phase.
    Info { message: String },
    /// A line of Terraform/OpenTofu progress, from its `-json` stream.
    Terraform { stack: String, message: String },
    /// What a saved plan will do.
    Plan {
        stack: String,
        add: usize,
        change: usize,
        replace: usize,
        destroy: usize,
    },
    /// A health signal as polled.
    Health {
        color: Color,
        signal: String,
        ok: bool,
        observed: String,
    },
    /// Weights written to a listener and read back.
    WeightsVerified {
        listener: String,
        weights: Weights,
        reads: u32,
    },
    /// Something went wrong and bluegreen is reacting.
    Warning { message: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Step { message } => write!(f, "==> {message}"),
            Event::Info { message } => write!(f, "    {message}"),
            Event::Terraform { stack, message } => write!(f, "    [{stack}] {message}"),
            Event::Plan {
                stack,
                add,
                change,
                replace,
                destroy,
            } => write!(
                f,
                "    [{stack}] plan: {add} to add, {change} to change, {replace} to replace, {destroy} to destroy"
            ),
            Event::Health {
                color,
                signal,
                ok,
                observed,
            } => {
                let v = if *ok { "ok" } else { "waiting" };
                write!(f, "    {color} {signal}: {v} — {observed}")
            }
            Event::WeightsVerified {
                listener,
                weights,
                reads,
            } => write!(
                f,
                "    {} reads back {weights} (verified after {reads} read(s))",
                short_arn(listener)
            ),
            Event::Warning { message } => write!(f, "!!! {message}"),
        }
    }
}

/// `listener app/<lb>/<lb-id>/<id>` or `rule app/<lb>/<lb-id>/<listener-id>/<id>`: the tail of
/// the ARN is enough for people (JSON output keeps the full ARN).
fn short_arn(arn: &str) -> String {
    if let Some((_, t)) = arn.split_once(":listener-rule/") {
        format!("rule {t}")
    } else if let Some((_, t)) = arn.split_once(":listener/") {
        format!("listener {t}")
    } else {
        arn.to_string()
    }
}
