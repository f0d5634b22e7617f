//! `status` for people. What could not be read says `unknown` and why, in the line where the
//! value would be; a split names every route.

use super::{ColorStatus, Deployment, Status};

pub(super) fn render(s: &Status) -> String {
    let mut out = format!("environment: {}\n", s.env);
    traffic(s, &mut out);
    deployment(s, &mut out);
    if let Some(e) = &s.journal_error {
        out.push_str(&format!("journal:     UNREADABLE: {e}\n"));
    }
    match (&s.lock, &s.lock_error) {
        (_, Some(e)) => out.push_str(&format!(
            "lock:        unknown ({e}); a command may hold it\n"
        )),
        (Some(l), None) => out.push_str(&format!(
            "lock:        held by {}{}\n",
            l.lock,
            l.stale
                .as_ref()
                .map(|why| format!(" — STALE: {why}; the next command takes it over"))
                .unwrap_or_default()
        )),
        (None, None) => out.push_str("lock:        free\n"),
    }
    for c in &s.colors {
        out.push_str(&color(c));
    }
    out.trim_end().to_string()
}

/// The live color, the weights and the routes.
fn traffic(s: &Status, out: &mut String) {
    match s.traffic {
        "split" => {
            out.push_str(
                "live color:  none: traffic is SPLIT (the production routes disagree, or are not all on one color)\n",
            );
            out.push_str("weights:     split, route by route:\n");
        }
        "unknown" => {
            let why = s.unknown.first().map(String::as_str).unwrap_or("?");
            out.push_str(&format!("live color:  UNKNOWN: {why}\n"));
            if s.routes.is_empty() {
                out.push_str("weights:     unknown\n");
            } else {
                out.push_str("weights:     unknown, route by route:\n");
            }
        }
        _ => {
            let live = s.live_color.map(|c| c.to_string());
            out.push_str(&format!(
                "live color:  {}\nweights:     {} (listener: {})\n",
                live.as_deref().unwrap_or("none"),
                s.weights.unwrap_or_default(),
                s.listener_action
            ));
        }
    }
    // One color everywhere: the listener line says it; otherwise every route is listed.
    let skip = usize::from(matches!(s.traffic, "single" | "none"));
    for r in s.routes.iter().skip(skip) {
        let what = match (&r.weights, &r.error) {
            (_, Some(e)) => format!("UNREADABLE: {e}"),
            (Some(w), None) if r.action == "forward" => format!("reads {w}"),
            (_, None) => format!("does {}", r.action),
        };
        out.push_str(&format!("route:       {} {what}\n", r.arn));
    }
    // An unfinished deployment's line says what to run instead (resume or rollback).
    if s.traffic == "split" && s.deployment.is_none() {
        out.push_str(&format!(
            "next:        a deploy refuses a split; put every route on one color with \
             `bluegreen rollback --env {} --to COLOR`, the color you know is good \
             (docs/operations.md, \"Traffic is split\")\n",
            s.env_arg
        ));
    }
}

fn deployment(s: &Status, out: &mut String) {
    let Some(d) = &s.deployment else {
        return;
    };
    let sum = &d.summary;
    let lock_unknown = s.lock_error.is_some();
    out.push_str(&format!(
        "deployment:  {} ({} {} → {}), at: {}{}{}\n",
        sum.id,
        sum.command,
        sum.image.as_deref().unwrap_or("-"),
        sum.to_color
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        sum.step,
        if sum.paused && d.running {
            ", PAUSED (run `bluegreen promote`)"
        } else {
            ""
        },
        state_words(s, d, lock_unknown)
    ));
    if !d.running {
        if let Some(j) = d.journal_weights {
            journal_line(s, d, j, out);
        }
    }
    for a in &d.summary.approvals {
        out.push_str(&format!("approved:    {} by {}\n", a.at, a.approval));
    }
}

/// Whether the deployment runs, waits or was interrupted, and what to run next.
fn state_words(s: &Status, d: &Deployment, lock_unknown: bool) -> String {
    let sum = &d.summary;
    let env = &s.env_arg;
    if sum.awaiting_approval {
        return format!(
            ", AWAITING APPROVAL: `bluegreen approve --env {env}` approves production traffic{}",
            if d.running {
                " (the deploy is waiting for it)".to_string()
            } else {
                format!(", then `bluegreen resume --env {env}` continues")
            }
        );
    }
    if let (Some(at), false) = (&sum.stopped_at, d.running) {
        return format!(
            ", STOPPED at {at} (--until): `bluegreen resume --env {env}` continues it, `bluegreen rollback --env {env}` puts traffic back"
        );
    }
    if d.running {
        return ", running".to_string();
    }
    if lock_unknown {
        return ", running or INTERRUPTED (unknown: the lock could not be read)".to_string();
    }
    format!(
        ", INTERRUPTED: `bluegreen resume --env {env}` continues it, `bluegreen rollback --env {env}` puts traffic back"
    )
}

fn journal_line(s: &Status, d: &Deployment, j: crate::domain::color::Weights, out: &mut String) {
    let read: Option<Vec<_>> = s.routes.iter().map(|r| r.weights).collect();
    let reads = match read.as_deref() {
        Some([first, rest @ ..]) if rest.iter().all(|w| w == first) => first.to_string(),
        Some([_, ..]) => "weights that disagree (above)".to_string(),
        _ => "unknown weights".to_string(),
    };
    out.push_str(&format!(
        "journal:     last verified {j}{}; the routes read {reads}: {}\n",
        d.pending_weights
            .map(|p| format!(" (a change to {p} was under way)"))
            .unwrap_or_default(),
        match d.live_matches_journal {
            Some(true) => "`resume` can continue from here",
            Some(false) =>
                "that is NOT what the journal allows, `resume` will refuse; use `rollback`",
            None => "unknown",
        }
    ));
}

fn color(c: &ColorStatus) -> String {
    if !c.provisioned {
        return format!("{:<6} not provisioned\n", c.color.as_str());
    }
    let n = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    format!(
        "{:<6} service {} image {} running {}/{} targets healthy {}/{}\n",
        c.color.as_str(),
        c.service.as_deref().unwrap_or("?"),
        c.image.as_deref().unwrap_or("?"),
        n(c.running.map(|v| v.to_string())),
        n(c.desired.map(|v| v.to_string())),
        n(c.healthy_targets.map(|v| v.to_string())),
        n(c.targets.map(|v| v.to_string())),
    )
}
