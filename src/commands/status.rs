//! `status`: the live color and the weights, read from the load balancer (never from a cache),
//! plus what each color runs.

use super::context::Ctx;
use super::shift::Routes;
use crate::aws::{Services, Traffic};
use crate::color::{Color, Weights};
use crate::deploy::ListenerView;
use crate::error::Error;
use crate::state::journal::Progress;
use crate::state::{now_ms, LockInfo, Summary};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Status {
    env: String,
    /// Read from the ALB: the color with all production traffic, if one has it.
    live_color: Option<Color>,
    /// Read from the ALB.
    weights: Weights,
    /// `forward`, or what the listener does instead (e.g. `fixed-response 503`).
    listener_action: String,
    listener_arn: Option<String>,
    /// Every production route (listener default actions and rules) with its weights.
    routes: Vec<RouteStatus>,
    colors: Vec<ColorStatus>,
    /// The deployment running right now (or one whose process died mid-way), if any, from
    /// the journal.
    deployment: Option<Deployment>,
    /// Who holds the environment lock, if anyone.
    lock: Option<LockStatus>,
    /// Why the journal or the lock could not be read (a damaged journal); the rest of the
    /// status is still read from AWS.
    journal_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct LockStatus {
    #[serde(flatten)]
    lock: LockInfo,
    /// Why the lock may be taken over (lease ran out, holder gone), if it may.
    stale: Option<String>,
}

#[derive(Debug, Serialize)]
struct RouteStatus {
    arn: String,
    weights: Weights,
}

#[derive(Debug, Serialize)]
struct Deployment {
    #[serde(flatten)]
    summary: Summary,
    /// True while its command holds the lock and is alive; false once it was interrupted.
    running: bool,
    /// What the journal says the production weights are: the last verified weights (or,
    /// before any change, the weights it started from) …
    journal_weights: Option<Weights>,
    /// … and a change it announced but never verified (it may or may not have landed).
    pending_weights: Option<Weights>,
    /// Whether `resume` can continue from what the routes read now: every route reads one of
    /// those two (or the deployment was rolling back). `None` for a journal that is not a
    /// deploy's.
    live_matches_journal: Option<bool>,
    #[serde(skip)]
    progress: Option<Progress>,
}

#[derive(Debug, Serialize)]
struct ColorStatus {
    color: Color,
    provisioned: bool,
    service: Option<String>,
    image: Option<String>,
    task_definition: Option<String>,
    desired: Option<i32>,
    running: Option<i32>,
    healthy_targets: Option<usize>,
    targets: Option<usize>,
}

/// The unfinished deployment and the lock, from the state store.
async fn journal_state(ctx: &Ctx) -> Result<(Option<Deployment>, Option<LockStatus>), Error> {
    let store = ctx.store().await;
    let lock = store.lock_info().await?.map(|lock| LockStatus {
        stale: lock.stale_because(now_ms()),
        lock,
    });
    let deployment = store.unfinished().await?.map(|(summary, records)| {
        let progress = Progress::of(&records);
        Deployment {
            running: lock
                .as_ref()
                .is_some_and(|l| l.stale.is_none() && l.lock.holder.deployment == summary.id),
            journal_weights: progress
                .as_ref()
                .map(Progress::verified_weights)
                .or(summary.last_verified),
            pending_weights: progress.as_ref().and_then(|p| p.pending.map(|(w, _)| w)),
            live_matches_journal: None,
            progress,
            summary,
        }
    });
    Ok((deployment, lock))
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let tool = ctx.tool()?;
    // A damaged journal must not hide the listener: status shows what AWS says, names the
    // damage, and still exits non-zero.
    let (deployment, lock, journal_error) = match journal_state(ctx).await {
        Ok((d, l)) => (d, l, None),
        Err(e) => (None, None, Some(e)),
    };
    let (_, shared) = ctx.shared_outputs(&tool).await?;
    let Some(shared) = shared else {
        let s = Status {
            env: ctx.cfg.name.clone(),
            live_color: None,
            weights: Weights::default(),
            listener_action: "none (shared stack not provisioned)".into(),
            listener_arn: None,
            routes: vec![],
            colors: vec![],
            deployment,
            lock,
            journal_error: journal_error.as_ref().map(|e| e.to_string()),
        };
        ctx.out.result(&human(&s), &s);
        return journal_error.map_or(Ok(()), Err);
    };
    let aws = ctx.aws().await;
    // One read per route; the first route is the production listener.
    let read = Routes::read(&aws, &shared.target_groups, &shared.production_routes()).await?;
    let view = read.primary().clone();
    let routes: Vec<RouteStatus> = read
        .before
        .iter()
        .map(|(arn, v)| RouteStatus {
            arn: arn.clone(),
            weights: v.weights(),
        })
        .collect();
    let mut colors = Vec::new();
    for color in Color::ALL {
        let mut cs = ColorStatus {
            color,
            provisioned: false,
            service: None,
            image: None,
            task_definition: None,
            desired: None,
            running: None,
            healthy_targets: None,
            targets: None,
        };
        if let Some(out) = ctx.color_outputs(&tool, color, &shared).await? {
            cs.provisioned = true;
            if let Some(svc) = aws
                .services
                .describe(&out.cluster_name, &out.service_name)
                .await?
            {
                cs.image = aws
                    .services
                    .task_definition_images(&svc.task_definition)
                    .await?
                    .into_iter()
                    .next();
                cs.task_definition = Some(svc.task_definition);
                cs.desired = Some(svc.desired);
                cs.running = Some(svc.running);
            }
            cs.service = Some(out.service_name);
            let th = aws
                .traffic
                .target_health(shared.target_groups.of(color))
                .await?;
            cs.targets = Some(th.len());
            cs.healthy_targets = Some(th.iter().filter(|t| t.state == "healthy").count());
        }
        colors.push(cs);
    }
    let mut deployment = deployment;
    if let Some(d) = deployment.as_mut() {
        let reads: Vec<Weights> = read.before.iter().map(|(_, v)| v.weights()).collect();
        d.live_matches_journal = d.progress.as_ref().map(|p| p.can_resume(&reads));
    }
    let s = Status {
        env: ctx.cfg.name.clone(),
        live_color: view.weights().live_color(),
        weights: view.weights(),
        listener_action: match &view {
            ListenerView::Forwarding { .. } => "forward".into(),
            ListenerView::NotForwarding { action } => action.clone(),
        },
        listener_arn: Some(shared.listener_arn.clone()),
        routes,
        colors,
        deployment,
        lock,
        journal_error: journal_error.as_ref().map(|e| e.to_string()),
    };
    ctx.out.result(&human(&s), &s);
    journal_error.map_or(Ok(()), Err)
}

fn human(s: &Status) -> String {
    let mut out = format!(
        "environment: {}\nlive color:  {}\nweights:     {} (listener: {})\n",
        s.env,
        s.live_color
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".into()),
        s.weights,
        s.listener_action
    );
    for r in s.routes.iter().skip(1) {
        out.push_str(&format!("route:       {} reads {}\n", r.arn, r.weights));
    }
    if let Some(d) = &s.deployment {
        let sum = &d.summary;
        out.push_str(&format!(
            "deployment:  {} ({} {} → {}), at: {}{}{}\n",
            sum.id,
            sum.command,
            sum.image.as_deref().unwrap_or("-"),
            sum.to_color.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            sum.step,
            if sum.paused && d.running {
                ", PAUSED (run `bluegreen promote`)"
            } else {
                ""
            },
            if sum.awaiting_approval {
                format!(
                    ", AWAITING APPROVAL: `bluegreen approve --env {0}` approves production traffic{1}",
                    s.env,
                    if d.running {
                        " (the deploy is waiting for it)".to_string()
                    } else {
                        format!(", then `bluegreen resume --env {}` continues", s.env)
                    }
                )
            } else if let (Some(at), false) = (&sum.stopped_at, d.running) {
                format!(
                    ", STOPPED at {at} (--until): `bluegreen resume --env {0}` continues it, `bluegreen rollback --env {0}` puts traffic back",
                    s.env
                )
            } else if d.running {
                ", running".to_string()
            } else {
                format!(
                    ", INTERRUPTED: `bluegreen resume --env {0}` continues it, `bluegreen rollback --env {0}` puts traffic back",
                    s.env
                )
            }
        ));
    }
    if let Some(d) = s.deployment.as_ref().filter(|d| !d.running) {
        if let Some(j) = d.journal_weights {
            out.push_str(&format!(
                "journal:     last verified {j}{}; the listener reads {}: {}\n",
                d.pending_weights
                    .map(|p| format!(" (a change to {p} was under way)"))
                    .unwrap_or_default(),
                s.weights,
                match d.live_matches_journal {
                    Some(true) => "`resume` can continue from here",
                    Some(false) =>
                        "that is NOT what the journal allows, `resume` will refuse; use `rollback`",
                    None => "unknown",
                }
            ));
        }
    }
    if let Some(d) = &s.deployment {
        for a in &d.summary.approvals {
            out.push_str(&format!("approved:    {} by {}\n", a.at, a.approval));
        }
    }
    if let Some(e) = &s.journal_error {
        out.push_str(&format!("journal:     UNREADABLE: {e}\n"));
    }
    match &s.lock {
        Some(l) => out.push_str(&format!(
            "lock:        held by {}{}\n",
            l.lock,
            l.stale
                .as_ref()
                .map(|why| format!(" — STALE: {why}; the next command takes it over"))
                .unwrap_or_default()
        )),
        None => out.push_str("lock:        free\n"),
    }
    for c in &s.colors {
        if !c.provisioned {
            out.push_str(&format!("{:<6} not provisioned\n", c.color.as_str()));
            continue;
        }
        out.push_str(&format!(
            "{:<6} service {} image {} running {}/{} targets healthy {}/{}\n",
            c.color.as_str(),
            c.service.as_deref().unwrap_or("?"),
            c.image.as_deref().unwrap_or("?"),
            c.running
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            c.desired
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            c.healthy_targets
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            c.targets
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
        ));
    }
    out.trim_end().to_string()
}
