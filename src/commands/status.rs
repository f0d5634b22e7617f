//! `status`: the live color and the weights of every production route, read from the load
//! balancer (never from a cache), plus what each color runs, the unfinished deployment and the
//! lock.
//!
//! Unknown is never clean: what could not be read (the shared stack's Terraform state, a
//! route, the lock, the journal) is printed as `unknown` with the reason, and `status` exits
//! non-zero after printing the report. Routes that disagree, or are not all on one color, are
//! `split`: no single live color.

mod human;

use crate::aws::{Services, Traffic};
use crate::domain::color::{Color, Weights};
use crate::domain::ListenerView;
use crate::error::Error;
use crate::flow::context::Ctx;
use crate::flow::outputs::SharedOutputs;
use crate::flow::traffic::read_view;
use crate::iac::IacTool;
use crate::state::journal::Progress;
use crate::state::{now_ms, LockInfo, Store, StoreError, Summary};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Status {
    env: String,
    /// How a command line names the environment, for the human lines' hints (not in the JSON).
    #[serde(skip)]
    env_arg: String,
    /// Read from the ALB: the color with all production traffic on every route, if one has
    /// it; `null` when traffic is split, nothing is live yet, or it could not be read.
    live_color: Option<Color>,
    /// `single` (every production route sends all traffic to `live_color`), `split` (the
    /// routes disagree, or one is not all on one color: see `routes`), `none` (no route
    /// forwards yet) or `unknown` (something could not be read: see `unknown`).
    traffic: &'static str,
    /// Read from the ALB: the production listener's weights (`null` when unread).
    weights: Option<Weights>,
    /// `forward`, what the listener does instead (e.g. `fixed-response 503`), or `unknown …`.
    listener_action: String,
    listener_arn: Option<String>,
    /// Every production route (listener default actions and rules) with its weights.
    routes: Vec<RouteStatus>,
    colors: Vec<ColorStatus>,
    /// The deployment running right now (or one whose process died mid-way), if any, from
    /// the journal.
    deployment: Option<Deployment>,
    /// Who holds the environment lock, if anyone (see `lock_state`).
    lock: Option<LockStatus>,
    /// `free`, `held`, or `unknown` when the lock could not be read (`lock_error` says why).
    lock_state: &'static str,
    lock_error: Option<String>,
    /// Why the journal could not be read (a damaged journal); the rest of the status is still
    /// read from AWS.
    journal_error: Option<String>,
    /// Everything that could not be read, in words; empty when the report is complete.
    unknown: Vec<String>,
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
    /// `null` when the route could not be read (`error` says why).
    weights: Option<Weights>,
    /// `forward`, what the route does instead (`fixed-response 503`), or `unknown`.
    action: String,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Deployment {
    #[serde(flatten)]
    summary: Summary,
    /// True while its command holds the lock and is alive; false once it was interrupted (or
    /// when the lock could not be read: `lock_state` is then `unknown`).
    running: bool,
    /// What the journal says the production weights are: the last verified weights (or,
    /// before any change, the weights it started from) …
    journal_weights: Option<Weights>,
    /// … and a change it announced but never verified (it may or may not have landed).
    pending_weights: Option<Weights>,
    /// Whether `resume` can continue from what the routes read now: every route reads one of
    /// those two (or the deployment was rolling back). `None` for a journal that is not a
    /// deploy's, or when a route could not be read.
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

/// The lock, read on its own: a lock that cannot be read is `unknown`, never `free`.
async fn read_lock(store: &Store) -> Result<Option<LockStatus>, StoreError> {
    Ok(store.lock_info().await?.map(|lock| LockStatus {
        stale: lock.stale_because(now_ms()),
        lock,
    }))
}

/// The unfinished deployment, if any; `lock` (when it could be read) says whether it runs.
async fn read_deployment(
    store: &Store,
    lock: Option<&LockStatus>,
) -> Result<Option<Deployment>, StoreError> {
    Ok(store.unfinished().await?.map(|(summary, records)| {
        let progress = Progress::of(&records);
        Deployment {
            running: lock
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
    }))
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let tool = ctx.tool()?;
    // A damaged or unreadable journal or lock must not hide the listener: status shows what
    // AWS says, says what it could not read, and still exits non-zero.
    let store = ctx.store().await;
    let lock = read_lock(&store).await;
    let deployment = read_deployment(&store, lock.as_ref().ok().and_then(Option::as_ref)).await;
    let mut s = Status {
        env: ctx.cfg.name.clone(),
        env_arg: ctx.cfg.env_arg.clone(),
        live_color: None,
        traffic: "unknown",
        weights: None,
        listener_action: "unknown".into(),
        listener_arn: None,
        routes: vec![],
        colors: vec![],
        deployment: None,
        lock: None,
        lock_state: "unknown",
        lock_error: None,
        journal_error: None,
        unknown: vec![],
    };
    // The first thing that could not be read is the error status exits with.
    let mut first: Option<Error> = None;
    match lock {
        Ok(l) => {
            s.lock_state = if l.is_some() { "held" } else { "free" };
            s.lock = l;
        }
        Err(e) => {
            s.lock_error = Some(e.to_string());
            s.unknown.push(format!("the lock: {e}"));
            first.get_or_insert(e.into());
        }
    }
    match deployment {
        Ok(d) => s.deployment = d,
        Err(e) => {
            s.journal_error = Some(e.to_string());
            s.unknown.push(format!("the journal: {e}"));
            first = Some(e.into()); // a damaged journal's own code (7) wins over the lock's
        }
    }

    let (shared_stack, shared) = ctx.recorded_shared(&tool).await?;
    let Some(shared) = shared else {
        let why = match ctx.journal_evidence(&store).await {
            Ok(Some(evidence)) => format!(
                "{evidence}, but the shared stack has no Terraform state in {}: its state is missing here",
                ctx.state_location(&shared_stack)
            ),
            _ => format!(
                "the shared stack has no Terraform state in {}: nothing was deployed to `{}` yet, \
                 or its state is elsewhere",
                ctx.state_location(&shared_stack),
                ctx.cfg.name
            ),
        };
        s.listener_action = "unknown (no Terraform state for the shared stack)".into();
        s.unknown.insert(0, why.clone());
        ctx.out.result(&human::render(&s), &s);
        return Err(Error::Unknown {
            message: format!("status of `{}` is unknown: {why}", ctx.cfg.name),
            fix: ctx.point_at_state_fix(),
        });
    };

    let aws = ctx.aws().await;
    if let Err(e) = read_routes(&aws.traffic, &shared, &mut s).await {
        // Routes come first: what production traffic does is what status is for.
        first = Some(e);
    }
    s.colors = read_colors(ctx, &tool, &aws, &shared).await?;
    ctx.out.result(&human::render(&s), &s);
    first.map_or(Ok(()), Err)
}

/// Reads every production route (one read each; the first is the production listener) into
/// `s`, and decides the traffic: single, split, none, or unknown. Returns the first read error.
async fn read_routes<T: Traffic>(
    traffic: &T,
    shared: &SharedOutputs,
    s: &mut Status,
) -> Result<(), Error> {
    s.listener_arn = Some(shared.listener_arn.clone());
    let tgs = &shared.target_groups;
    let mut first = None;
    let mut views = Vec::new();
    for arn in shared.production_routes() {
        match read_view(traffic, &arn, tgs).await {
            Ok(view) => {
                s.routes.push(RouteStatus {
                    arn,
                    weights: Some(view.weights()),
                    action: action_of(&view),
                    error: None,
                });
                views.push(Some(view));
            }
            Err(e) => {
                s.unknown.push(format!("route {arn}: {e}"));
                s.routes.push(RouteStatus {
                    arn,
                    weights: None,
                    action: "unknown".into(),
                    error: Some(e.to_string()),
                });
                views.push(None);
                first.get_or_insert(Error::Traffic(e));
            }
        }
    }
    if let Some(Some(primary)) = views.first() {
        s.weights = Some(primary.weights());
        s.listener_action = action_of(primary);
    }
    let read: Option<Vec<&ListenerView>> = views.iter().map(Option::as_ref).collect();
    (s.traffic, s.live_color) = match read {
        None => ("unknown", None),
        Some(read) => traffic_of(&read),
    };
    if let (Some(d), Some(read)) = (s.deployment.as_mut(), views_weights(&views)) {
        d.live_matches_journal = d.progress.as_ref().map(|p| p.can_resume(&read));
    }
    first.map_or(Ok(()), Err)
}

fn views_weights(views: &[Option<ListenerView>]) -> Option<Vec<Weights>> {
    views
        .iter()
        .map(|v| v.as_ref().map(ListenerView::weights))
        .collect()
}

fn action_of(view: &ListenerView) -> String {
    match view {
        ListenerView::Forwarding { .. } => "forward".into(),
        ListenerView::NotForwarding { action } => action.clone(),
    }
}

/// `single` with the live color when every route sends everything to one color; `none` when
/// no route forwards yet; `split` otherwise (routes that disagree, a weighted split, or some
/// routes forwarding while others do not).
fn traffic_of(routes: &[&ListenerView]) -> (&'static str, Option<Color>) {
    if routes
        .iter()
        .all(|v| matches!(v, ListenerView::NotForwarding { .. }))
    {
        return ("none", None);
    }
    let live: Option<Vec<Color>> = routes
        .iter()
        .map(|v| match v {
            ListenerView::Forwarding { weights, .. } => weights.live_color(),
            ListenerView::NotForwarding { .. } => None,
        })
        .collect();
    match live.as_deref() {
        Some([first, rest @ ..]) if rest.iter().all(|c| c == first) => ("single", Some(*first)),
        _ => ("split", None),
    }
}

/// What each color's stack, service and target group say; the two colors side by side.
async fn read_colors(
    ctx: &Ctx,
    tool: &IacTool,
    aws: &crate::flow::context::Aws,
    shared: &SharedOutputs,
) -> Result<Vec<ColorStatus>, Error> {
    let [a, b] = Color::ALL;
    let (a, b) = tokio::join!(
        read_color(ctx, tool, aws, shared, a),
        read_color(ctx, tool, aws, shared, b)
    );
    Ok(vec![a?, b?])
}

async fn read_color(
    ctx: &Ctx,
    tool: &IacTool,
    aws: &crate::flow::context::Aws,
    shared: &SharedOutputs,
    color: Color,
) -> Result<ColorStatus, Error> {
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
    let Some(out) = ctx.recorded_color(tool, color, shared).await? else {
        return Ok(cs);
    };
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
    Ok(cs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(blue: u16, green: u16) -> ListenerView {
        ListenerView::Forwarding {
            weights: Weights { blue, green },
            stickiness: None,
        }
    }

    fn fixed() -> ListenerView {
        ListenerView::NotForwarding {
            action: "fixed-response 503".into(),
        }
    }

    /// Routes as read, and what `status` must call them.
    type Case = (Vec<ListenerView>, (&'static str, Option<Color>));

    #[test]
    fn one_color_on_every_route_is_single_anything_else_is_split() {
        let cases: Vec<Case> = vec![
            (vec![fwd(0, 100)], ("single", Some(Color::Green))),
            (
                vec![fwd(100, 0), fwd(100, 0), fwd(100, 0)],
                ("single", Some(Color::Blue)),
            ),
            (vec![fixed(), fixed()], ("none", None)),
            // The partial restore of issue 12, item 2: listeners back, the rule not.
            (vec![fwd(0, 100), fwd(0, 100), fwd(20, 80)], ("split", None)),
            (vec![fwd(80, 20)], ("split", None)),
            (vec![fwd(100, 0), fwd(0, 100)], ("split", None)),
            (vec![fwd(0, 100), fixed()], ("split", None)),
            (vec![fwd(0, 0)], ("split", None)),
        ];
        for (routes, want) in cases {
            let refs: Vec<&ListenerView> = routes.iter().collect();
            assert_eq!(traffic_of(&refs), want, "{routes:?}");
        }
    }
}
