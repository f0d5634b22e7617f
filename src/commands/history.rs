//! `history`, `unlock --force` and `journal repair`: reading and looking after the journal and
//! the lock.

use crate::error::Error;
use crate::flow::context::Ctx;
use crate::state::Summary;
use serde::Serialize;

#[derive(Serialize)]
struct History<'a> {
    env: &'a str,
    backend: String,
    /// Newest first.
    deployments: Vec<Summary>,
}

pub async fn history(ctx: &Ctx, limit: usize) -> Result<(), Error> {
    let store = ctx.store().await;
    let mut all = store.history().await?;
    all.reverse();
    all.truncate(limit);
    let h = History {
        env: &ctx.cfg.name,
        backend: store.describe(),
        deployments: all,
    };
    ctx.out.result(&human(&h), &h);
    Ok(())
}

fn human(h: &History) -> String {
    if h.deployments.is_empty() {
        return format!("no deployments recorded for `{}` ({})", h.env, h.backend);
    }
    let mut out = String::new();
    for s in &h.deployments {
        let colors = match (s.from_color, s.to_color) {
            (Some(f), Some(t)) => format!("{f} → {t}"),
            (None, Some(t)) => format!("→ {t}"),
            _ => "-".into(),
        };
        let outcome = s
            .outcome
            .map(|o| o.as_str().to_string())
            .unwrap_or_else(|| format!("UNFINISHED (at: {})", s.step));
        let took = s
            .duration_ms
            .map(|ms| {
                humantime::format_duration(std::time::Duration::from_secs(ms / 1000)).to_string()
            })
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{}  {:<8} {}  by {}@{}  {}  {}  {}  took {}\n",
            s.id,
            s.command,
            s.started,
            s.user,
            s.host,
            s.image.as_deref().unwrap_or("-"),
            colors,
            outcome,
            took
        ));
        if let Some(sig) = &s.failing_signal {
            out.push_str(&format!("    failing signal: {sig}\n"));
        }
        if let (Some(d), Some(o)) = (&s.detail, s.outcome) {
            if o.as_str() != "deployed" {
                out.push_str(&format!("    {d}\n"));
            }
        }
        for a in &s.approvals {
            out.push_str(&format!("    {}: approved by {}\n", a.at, a.approval));
        }
        for e in &s.events {
            out.push_str(&format!("    {e}\n"));
        }
    }
    out.trim_end().to_string()
}
