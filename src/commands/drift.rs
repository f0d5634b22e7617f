//! `drift`: two layers, never applying anything.
//!
//! 1. **Terraform**: `plan -detailed-exitcode` of the shared stack and of each provisioned
//!    color (with the inputs it was last applied with: the image from its own outputs), taking
//!    the state lock normally. A plan with changes is drift; the changed resources and
//!    attributes are listed from the redacted `show -json` (sensitive values never appear).
//! 2. **What bluegreen owns at run time**, which Terraform cannot see (the modules ignore
//!    listener weights and desired counts, and against the emulator Terraform refreshes
//!    nothing): what AWS says now against what the journal recorded — every production
//!    route's weights, each color's service task definition, image, target group and desired
//!    count.
//!
//! Exit 0 when both layers are clean, 9 (DRIFT) when either found a difference, and the usual
//! codes (3 Terraform, 4 AWS/state) when a check itself failed — after printing the report.
//! Unknown is never clean: a check that could not be made (a failed read, a failed plan, a
//! shared stack without Terraform state here) makes the report `unknown`, never "no drift".

use crate::aws::Services;
use crate::domain::color::{Color, Weights};
use crate::error::Error;
use crate::flow::context::{Ctx, StackId};
use crate::flow::drive::Routes;
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::iac::{IacTool, Stack};
use crate::state::Entry;
use serde::Serialize;

mod human;
use human::human;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
struct Report {
    env: String,
    /// `no-drift` (every check was made and found nothing), `drift` (a difference was found),
    /// or `unknown` (no difference found, but a check could not be made: see `errors`).
    result: &'static str,
    /// True only for `no-drift`.
    clean: bool,
    /// True when either layer found a difference.
    drift: bool,
    /// `checked`, `nothing-recorded` (the journal has no deployment to compare with), or
    /// `unknown` (AWS, the journal or the shared stack's state could not be read).
    runtime_status: &'static str,
    stacks: Vec<StackReport>,
    /// Differences between AWS now and the journal.
    runtime: Vec<Difference>,
    /// Desired-count differences of services whose desired count Application Auto Scaling
    /// manages: expected, reported for information, not drift.
    informational: Vec<Difference>,
    /// Checks that could not be made (the exit code is then 3 or 4, not 9).
    errors: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StackReport {
    stack: String,
    /// `no-drift`, `drift`, `not-provisioned`, `no-state` (the shared stack has no Terraform
    /// state here: nothing could be checked) or `error`.
    status: &'static str,
    changes: Vec<ResourceDrift>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct ResourceDrift {
    address: String,
    action: String,
    /// Top-level attributes whose planned value differs from the state (names only; a value
    /// may be sensitive).
    attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What: `listener …`, `service app-green`.
    pub resource: String,
    pub field: String,
    pub recorded: String,
    pub live: String,
}

/// What the journal recorded last about each color and the routes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub weights: Option<Weights>,
    pub task_definition: BTreeMap<Color, String>,
    pub image: BTreeMap<Color, String>,
    pub desired: BTreeMap<Color, u32>,
    /// The deployment these come from, newest.
    pub deployment: Option<String>,
}

impl Recorded {
    /// Folds every deployment's records, oldest first: the last word on each field wins.
    pub fn fold(journals: &[Vec<crate::state::Record>]) -> Recorded {
        let mut r = Recorded::default();
        for records in journals {
            let mut new = None;
            let mut image = None;
            for rec in records {
                match &rec.entry {
                    Entry::Started(s) => {
                        new = Some(s.spec.new);
                        image = Some(s.spec.image.clone());
                        r.deployment = Some(rec.deployment.clone());
                    }
                    Entry::RollbackStarted { .. } => r.deployment = Some(rec.deployment.clone()),
                    Entry::Provisioned {
                        color,
                        task_definition,
                        ..
                    } => {
                        r.task_definition.insert(*color, task_definition.clone());
                        if let (Some(n), Some(i)) = (new, &image) {
                            if n == *color {
                                r.image.insert(*color, i.clone());
                            }
                        }
                    }
                    Entry::ScaledUp { color, desired } => {
                        r.desired.insert(*color, *desired);
                    }
                    Entry::ScaledDown { color } => {
                        r.desired.insert(*color, 0);
                    }
                    Entry::WeightsVerified { weights, .. } | Entry::Restored { weights } => {
                        r.weights = Some(*weights);
                    }
                    _ => {}
                }
            }
        }
        r
    }
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let tool = ctx.tool()?;
    let mut report = Report::unknown(&ctx.cfg.name);
    let mut worst: Option<Error> = None;
    let mut fail = |report: &mut Report, e: Error| {
        report.errors.push(e.to_string());
        if worst.is_none() {
            worst = Some(e);
        }
    };

    ctx.step(format!(
        "drift in environment `{}`: Terraform plans (never applied), then AWS against the journal",
        ctx.cfg.name
    ));
    let (shared_stack, shared) = match ctx.read_shared(&tool).await {
        Ok(s) => s,
        Err(e) => {
            fail(&mut report, e);
            return finish(ctx, report, worst);
        }
    };
    let Some(shared) = shared else {
        let e = missing_state(ctx, &shared_stack).await;
        report.stacks.push(StackReport {
            stack: "shared".into(),
            status: "no-state",
            changes: vec![],
            // Said once, in `errors`.
            error: None,
        });
        fail(&mut report, e);
        return finish(ctx, report, worst);
    };
    report
        .stacks
        .push(plan_stack(ctx, &shared_stack, StackId::Shared).await);
    let provisioned = plan_colors(ctx, &tool, &shared, &mut report).await;
    for s in &report.stacks {
        if let Some(e) = &s.error {
            report.errors.push(format!("[{}] {e}", s.stack));
        }
    }
    let iac_failed = report.stacks.iter().any(|s| s.status == "error");

    match runtime_differences(ctx, &shared, &provisioned).await {
        Ok(None) => report.runtime_status = "nothing-recorded",
        Ok(Some((diffs, info))) => {
            report.runtime_status = "checked";
            report.runtime = diffs;
            report.informational = info;
        }
        Err(e) => fail(&mut report, e),
    }
    report.drift = report.stacks.iter().any(|s| s.status == "drift") || !report.runtime.is_empty();
    if iac_failed && worst.is_none() {
        worst = Some(Error::DriftPlanFailed(
            "a stack's plan failed, so drift could not be checked there (see the report)".into(),
        ));
    }
    finish(ctx, report, worst)
}

impl Report {
    /// Nothing checked yet.
    fn unknown(env: &str) -> Report {
        Report {
            env: env.to_string(),
            result: "unknown",
            clean: false,
            drift: false,
            runtime_status: "unknown",
            stacks: Vec::new(),
            runtime: Vec::new(),
            informational: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// Plans each provisioned color (never applied) into the report; returns the outputs of the
/// provisioned ones, read once, for the plan and for the runtime comparison.
async fn plan_colors(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    report: &mut Report,
) -> BTreeMap<Color, ServiceOutputs> {
    let mut provisioned = BTreeMap::new();
    for color in Color::ALL {
        let stack = match ctx.color_outputs(tool, color, shared).await {
            Ok(Some(out)) => {
                let r = plan_color(ctx, tool, shared, color, &out).await;
                provisioned.insert(color, out);
                r
            }
            Ok(None) => StackReport {
                stack: color.as_str().into(),
                status: "not-provisioned",
                changes: vec![],
                error: None,
            },
            Err(e) => errored(color.as_str().into(), e),
        };
        report.stacks.push(stack);
    }
    provisioned
}

/// Why drift cannot check anything: the shared stack has no Terraform state here.
async fn missing_state(ctx: &Ctx, shared: &Stack) -> Error {
    let location = ctx.state_location(shared);
    let store = ctx.store().await;
    let message = match ctx.journal_evidence(&store).await {
        Ok(Some(evidence)) => format!(
            "{evidence}, but the shared stack has no Terraform state in {location}: its state is \
             missing here, so drift could not be checked"
        ),
        _ => format!(
            "the shared stack has no Terraform state in {location}: nothing was deployed to `{}` \
             yet, or its state is elsewhere; drift could not be checked",
            ctx.cfg.name
        ),
    };
    Error::Unknown {
        message,
        fix: ctx.point_at_state_fix(),
    }
}

fn finish(ctx: &Ctx, mut report: Report, error: Option<Error>) -> Result<(), Error> {
    let unknown = error.is_some() || !report.errors.is_empty();
    report.result = match (report.drift, unknown) {
        (true, _) => "drift",
        (false, true) => "unknown",
        (false, false) => "no-drift",
    };
    report.clean = report.result == "no-drift";
    ctx.out.result(&human(&report), &report);
    if let Some(e) = error {
        return Err(e);
    }
    if report.drift {
        let n = report.stacks.iter().filter(|s| s.status == "drift").count();
        return Err(Error::Drift {
            message: format!(
                "drift in `{}`: {n} stack(s) with planned changes, {} runtime difference(s)",
                report.env,
                report.runtime.len()
            ),
        });
    }
    Ok(())
}

/// Plans a provisioned color with the inputs it was last applied with: its own outputs say
/// which image.
async fn plan_color(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    color: Color,
    out: &ServiceOutputs,
) -> StackReport {
    let name = color.as_str().to_string();
    let stack = match ctx.service_stack(tool, color, shared, &out.image) {
        Ok(s) => s,
        Err(e) => return errored(name, e),
    };
    if let Err(e) = stack
        .prepare(&mut ctx.tf_progress(StackId::Color(color)))
        .await
    {
        return errored(name, e.into());
    }
    plan_stack(ctx, &stack, StackId::Color(color)).await
}

fn errored(stack: String, e: Error) -> StackReport {
    StackReport {
        stack,
        status: "error",
        changes: vec![],
        error: Some(e.to_string()),
    }
}

async fn plan_stack(ctx: &Ctx, stack: &Stack, id: StackId) -> StackReport {
    let name = id.name().to_string();
    let path = ctx.work.plans_dir().join(format!("drift-{name}.tfplan"));
    if let Err(e) = std::fs::create_dir_all(ctx.work.plans_dir()) {
        return errored(
            name,
            Error::Internal(format!("cannot create the plans dir: {e}")),
        );
    }
    ctx.step(format!(
        "[{name}] terraform plan -detailed-exitcode (not applied)"
    ));
    let outcome = match stack.plan(&path, &mut ctx.tf_progress(id)).await {
        Ok(o) => o,
        Err(e) => return errored(name, e.into()),
    };
    let _ = std::fs::remove_file(&path);
    let changes = changed_resources(&outcome.redacted_plan.to_value());
    let status = if outcome.has_changes {
        "drift"
    } else {
        "no-drift"
    };
    StackReport {
        stack: name,
        status,
        changes,
        error: None,
    }
}

/// Resource changes other than no-op/read, with the top-level attributes that differ.
fn changed_resources(plan: &Value) -> Vec<ResourceDrift> {
    let mut out = Vec::new();
    for rc in plan["resource_changes"].as_array().into_iter().flatten() {
        let actions: Vec<&str> = rc["change"]["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if actions.iter().all(|a| *a == "no-op" || *a == "read") {
            continue;
        }
        let before = rc["change"]["before"].as_object();
        let after = rc["change"]["after"].as_object();
        let unknown = rc["change"]["after_unknown"].as_object();
        let mut attributes: Vec<String> = Vec::new();
        let keys: std::collections::BTreeSet<&String> = before
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(after.into_iter().flat_map(|m| m.keys()))
            .collect();
        for k in keys {
            let b = before.and_then(|m| m.get(k));
            let a = after.and_then(|m| m.get(k));
            let becomes_unknown = unknown
                .and_then(|m| m.get(k))
                .is_some_and(|v| v.as_bool() == Some(true));
            if b != a || becomes_unknown {
                attributes.push(k.clone());
            }
        }
        out.push(ResourceDrift {
            address: rc["address"].as_str().unwrap_or("?").to_string(),
            action: actions.join(","),
            attributes,
        });
    }
    out
}

/// The differences, and the desired-count ones of autoscaled services apart; `None` when the
/// journal recorded nothing to compare with.
async fn runtime_differences(
    ctx: &Ctx,
    shared: &SharedOutputs,
    provisioned: &BTreeMap<Color, ServiceOutputs>,
) -> Result<Option<Differences>, Error> {
    let recorded = Recorded::fold(&ctx.store().await.journals().await?);
    if recorded.deployment.is_none() {
        ctx.info("the journal has no deployment yet: nothing recorded to compare AWS with");
        return Ok(None);
    }
    let aws = ctx.aws().await;
    let tgs = &shared.target_groups;
    let routes = Routes::read(&aws, tgs, &shared.production_routes()).await?;
    let mut live = Live::default();
    for (arn, v) in &routes.before {
        live.routes.push((arn.clone(), v.weights()));
    }
    for (&color, out) in provisioned {
        let Some(svc) = aws
            .services
            .describe(&out.cluster_name, &out.service_name)
            .await?
        else {
            live.services.insert(
                color,
                LiveService {
                    name: out.service_name.clone(),
                    missing: true,
                    ..LiveService::default()
                },
            );
            continue;
        };
        let images = aws
            .services
            .task_definition_images(&svc.task_definition)
            .await?;
        let autoscaled = aws
            .autoscaling
            .ecs_service_target(&out.cluster_name, &out.service_name)
            .await?
            .is_some();
        live.services.insert(
            color,
            LiveService {
                name: out.service_name.clone(),
                missing: false,
                task_definition: svc.task_definition,
                image: images.into_iter().next().unwrap_or_default(),
                desired: svc.desired,
                attached_to_its_target_group: svc.target_groups.iter().any(|t| t == tgs.of(color)),
                autoscaled,
            },
        );
    }
    Ok(Some(split_informational(compare(&recorded, &live), &live)))
}

/// Runtime differences, and the informational ones (autoscaled desired counts).
type Differences = (Vec<Difference>, Vec<Difference>);

/// Desired-count differences of autoscaled services are autoscaling doing its job.
pub fn split_informational(
    diffs: Vec<Difference>,
    live: &Live,
) -> (Vec<Difference>, Vec<Difference>) {
    let autoscaled: Vec<String> = live
        .services
        .iter()
        .filter(|(_, s)| s.autoscaled)
        .map(|(c, s)| format!("{c} service {}", s.name))
        .collect();
    diffs
        .into_iter()
        .partition(|d| !(d.field == "desired_count" && autoscaled.contains(&d.resource)))
}

/// What AWS says now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Live {
    /// Every production route and its weights.
    pub routes: Vec<(String, Weights)>,
    pub services: BTreeMap<Color, LiveService>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LiveService {
    pub name: String,
    pub missing: bool,
    pub task_definition: String,
    pub image: String,
    pub desired: i32,
    pub attached_to_its_target_group: bool,
    /// Application Auto Scaling manages its desired count.
    pub autoscaled: bool,
}

/// Every difference between what the journal recorded and what AWS says, field by field.
pub fn compare(recorded: &Recorded, live: &Live) -> Vec<Difference> {
    let mut out = Vec::new();
    if let Some(w) = recorded.weights {
        for (arn, lw) in &live.routes {
            if *lw != w {
                out.push(Difference {
                    resource: format!("route {arn}"),
                    field: "weights".into(),
                    recorded: w.to_string(),
                    live: lw.to_string(),
                });
            }
        }
    }
    for (color, svc) in &live.services {
        let resource = format!("{color} service {}", svc.name);
        let mut diff = |field: &str, recorded: String, live: String| {
            if recorded != live {
                out.push(Difference {
                    resource: resource.clone(),
                    field: field.into(),
                    recorded,
                    live,
                });
            }
        };
        if svc.missing {
            diff(
                "exists",
                "true".into(),
                "false (the service is gone)".into(),
            );
            continue;
        }
        if let Some(td) = recorded.task_definition.get(color) {
            diff("task_definition", td.clone(), svc.task_definition.clone());
        }
        if let Some(img) = recorded.image.get(color) {
            diff("image", img.clone(), svc.image.clone());
        }
        if recorded.task_definition.contains_key(color) {
            diff(
                "target_group",
                "attached to its color's target group".into(),
                if svc.attached_to_its_target_group {
                    "attached to its color's target group".into()
                } else {
                    "NOT attached to its color's target group".into()
                },
            );
        }
        if let Some(d) = recorded.desired.get(color) {
            diff("desired_count", d.to_string(), svc.desired.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            routes: vec![("l1".into(), Weights::all_on(Color::Green))],
            services: [(
                Color::Green,
                LiveService {
                    name: "app-green".into(),
                    missing: false,
                    task_definition: "td:2".into(),
                    image: "app:2".into(),
                    desired: 2,
                    attached_to_its_target_group: true,
                    autoscaled: false,
                },
            )]
            .into(),
        }
    }

    fn recorded() -> Recorded {
        Recorded {
            weights: Some(Weights::all_on(Color::Green)),
            task_definition: [(Color::Green, "td:2".to_string())].into(),
            image: [(Color::Green, "app:2".to_string())].into(),
            desired: [(Color::Green, 2)].into(),
            deployment: Some("d".into()),
        }
    }

    #[test]
    fn nothing_differs_when_aws_is_what_was_recorded() {
        assert_eq!(compare(&recorded(), &live()), vec![]);
    }

    #[test]
    fn every_changed_field_is_reported_with_both_values() {
        let mut l = live();
        l.routes.push((
            "l2".into(),
            Weights {
                blue: 50,
                green: 50,
            },
        ));
        let g = l.services.get_mut(&Color::Green).unwrap();
        g.task_definition = "td:9".into();
        g.image = "evil:1".into();
        g.desired = 5;
        g.attached_to_its_target_group = false;
        let d = compare(&recorded(), &l);
        let fields: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|d| (d.field.as_str(), d.recorded.as_str(), d.live.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("weights", "blue 0 / green 100", "blue 50 / green 50"),
                ("task_definition", "td:2", "td:9"),
                ("image", "app:2", "evil:1"),
                (
                    "target_group",
                    "attached to its color's target group",
                    "NOT attached to its color's target group"
                ),
                ("desired_count", "2", "5"),
            ]
        );
        assert_eq!(d[0].resource, "route l2");

        l.services.get_mut(&Color::Green).unwrap().autoscaled = true;
        let (drift, info) = split_informational(d, &l);
        assert_eq!(drift.len(), 4);
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].field, "desired_count");
    }

    #[test]
    fn the_journal_folds_to_the_last_word_on_each_field() {
        use crate::domain::{DeploymentSpec, Gate, Schedule};
        use crate::state::journal::{CommandKind, FinalOutcome, Start};
        use crate::state::Record;
        use std::time::Duration;
        let rec = |d: &str, seq: u64, entry: Entry| Record {
            schema: 1,
            deployment: d.into(),
            seq,
            at_ms: seq,
            at: String::new(),
            entry,
            fence: None,
        };
        let start = |new: Color, image: &str| {
            Entry::Started(Start {
                command: CommandKind::Deploy,
                user: "u".into(),
                host: "h".into(),
                pid: 1,
                before: Weights::all_on(new.other()),
                spec: DeploymentSpec {
                    image: image.into(),
                    image_requested: None,
                    old: Some(new.other()),
                    new,
                    strategy: "all-at-once".into(),
                    schedule: Schedule::recorded(vec![]),
                    health_timeout: Duration::ZERO,
                    poll_interval: Duration::ZERO,
                    post_bake: Duration::ZERO,
                    termination_wait: Duration::ZERO,
                    scale_down: true,
                    desired: 2,
                    approval: Gate::default(),
                    signals: vec![],
                    until: None,
                },
                plan_artifact: None,
                unsafe_plan_allowed: vec![],
            })
        };
        let provisioned = |color: Color, td: &str| Entry::Provisioned {
            color,
            cluster: "c".into(),
            service: "s".into(),
            task_definition: td.into(),
        };
        let first = vec![
            rec("d1", 1, start(Color::Green, "app:1")),
            rec("d1", 2, provisioned(Color::Green, "g:1")),
            rec(
                "d1",
                3,
                Entry::ScaledUp {
                    color: Color::Green,
                    desired: 2,
                },
            ),
            rec(
                "d1",
                4,
                Entry::WeightsVerified {
                    weights: Weights::all_on(Color::Green),
                    step: Some(0),
                },
            ),
            rec("d1", 5, Entry::ScaledDown { color: Color::Blue }),
        ];
        let rollback = vec![
            rec(
                "d2",
                1,
                Entry::RollbackStarted {
                    user: "u".into(),
                    host: "h".into(),
                    pid: 1,
                    from: Weights::all_on(Color::Green),
                    to: Color::Blue,
                    ends: None,
                    forced: Vec::new(),
                },
            ),
            rec(
                "d2",
                2,
                Entry::ScaledUp {
                    color: Color::Blue,
                    desired: 2,
                },
            ),
            rec(
                "d2",
                3,
                Entry::WeightsVerified {
                    weights: Weights::all_on(Color::Blue),
                    step: None,
                },
            ),
            rec(
                "d2",
                4,
                Entry::Finished {
                    outcome: FinalOutcome::RolledBack,
                    detail: String::new(),
                    failing_signal: None,
                },
            ),
        ];
        let r = Recorded::fold(&[first, rollback]);
        assert_eq!(r.weights, Some(Weights::all_on(Color::Blue)));
        assert_eq!(
            r.desired.get(&Color::Blue),
            Some(&2),
            "the rollback scaled blue up again"
        );
        assert_eq!(
            r.task_definition.get(&Color::Green).map(String::as_str),
            Some("g:1")
        );
        assert_eq!(
            r.image.get(&Color::Green).map(String::as_str),
            Some("app:1")
        );
        assert_eq!(r.deployment.as_deref(), Some("d2"));
    }

    #[test]
    fn changed_resources_list_the_attributes_that_differ() {
        let plan = serde_json::json!({"resource_changes": [
            {"address": "a.x", "change": {"actions": ["no-op"], "before": {}, "after": {}}},
            {"address": "b.y", "change": {"actions": ["update"],
                "before": {"k": 1, "same": "s", "secret": "(sensitive)"},
                "after": {"k": 2, "same": "s", "secret": "(sensitive)", "new": true},
                "after_unknown": {"id": true}}}
        ]});
        let c = changed_resources(&plan);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].address, "b.y");
        assert_eq!(c[0].attributes, vec!["k".to_string(), "new".to_string()]);
    }
}
