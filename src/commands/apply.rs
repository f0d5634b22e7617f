//! `apply FILE`: carries out a plan artifact exactly — its saved Terraform plan, its image
//! digest, its schedule — after checking that it is intact and that nothing it was made
//! against has moved. Any difference refuses the artifact with every difference listed, and
//! nothing changes (no Terraform run, no AWS write, no journal record).

use crate::aws::SdkImages;
use crate::domain::image::ImageRef;
use crate::domain::{Machine, Plan, Until};
use crate::error::Error;
use crate::flow::context::{Ctx, StackId};
use crate::flow::drive::Routes;
use crate::flow::idle::{
    artifact_error, enforce_safety, env_file_sha256, safety_findings, LiveColor,
};
use crate::flow::planfile::PlanBody;
use crate::flow::provision::{prepare_new_color, Provision};
use crate::flow::run::{check_until, refuse_if_unfinished, run_machine, start_record, Shift};
use crate::flow::session::{after_release, Session};
use crate::state::journal::Start;
use crate::state::Entry;
use std::time::Duration;

/// Reads and checks the artifact's integrity and format (no key needed), for `dispatch` to
/// find the environment before anything else happens.
/// An artifact read from its file: integrity and format checked, not yet decrypted.
pub struct Artifact {
    pub bytes: Vec<u8>,
    pub body: PlanBody,
    pub checksum: String,
    /// The id of the key it was sealed with.
    pub key_id: String,
}

pub fn read(file: &std::path::Path) -> Result<Artifact, Error> {
    // A regular file of bounded size: `apply /dev/zero` or a FIFO is refused before reading.
    let bytes = crate::input::read(file, crate::input::PLAN_ARTIFACT_MAX).map_err(|e| {
        Error::bad_input(
            format!("apply FILE: the plan artifact {e}"),
            format!(
                "{}; pass the file `bluegreen plan --out FILE` wrote",
                e.fix("the plan artifact")
            ),
        )
    })?;
    let opened = crate::artifact::inspect(&bytes).map_err(|e| {
        let e = artifact_error(e);
        match e {
            Error::BadInput { message, fix } => Error::BadInput {
                message: format!("{}: {message}", file.display()),
                fix,
            },
            other => other,
        }
    })?;
    let body: PlanBody = serde_json::from_value(opened.body).map_err(|e| {
        Error::bad_input(
            format!(
                "{}: the plan's body does not read as a bluegreen plan of this version: {e}",
                file.display()
            ),
            "make a new plan with this bluegreen's `bluegreen plan`",
        )
    })?;
    Ok(Artifact {
        bytes,
        body,
        checksum: opened.checksum,
        key_id: opened.key_id,
    })
}

pub async fn run(
    ctx: &Ctx,
    file: &std::path::Path,
    artifact: Artifact,
    until: Option<Until>,
    lock_wait: Duration,
) -> Result<(), Error> {
    let body = &artifact.body;
    if body.env != ctx.cfg.name {
        return Err(Error::bad_input(
            format!(
                "{} was planned for environment `{}`, not `{}`",
                file.display(),
                body.env,
                ctx.cfg.name
            ),
            format!(
                "apply it to `{}` (omit --env), or make a plan for this one",
                body.env
            ),
        ));
    }
    let key_file = ctx.work.plan_key_file();
    if std::env::var_os(crate::artifact::KEY_ENV).is_none() && !key_file.exists() {
        // Never make up a key here: it could only be the wrong one.
        return Err(Error::bad_input(
            format!(
                "no plan key on this machine to open {} (sealed with key {}): {} is not set and {} does not exist",
                file.display(),
                artifact.key_id,
                crate::artifact::KEY_ENV,
                key_file.display()
            ),
            format!(
                "set {} to the key the plan was made with (docs/plan-then-deploy.md)",
                crate::artifact::KEY_ENV
            ),
        ));
    }
    let (key, _) = crate::artifact::PlanKey::load(&key_file).map_err(artifact_error)?;
    let (_, tf_plan) = crate::artifact::open(&artifact.bytes, &key).map_err(artifact_error)?;
    let schedule = Start::schedule_of(&body.schedule).map_err(|e| {
        Error::bad_input(
            format!("the plan's schedule is invalid: {e}"),
            "make a new plan",
        )
    })?;
    check_until(until, &schedule, " (the plan's schedule)")?;
    let tool = ctx.tool()?;
    let mut session = Session::begin(ctx, "apply", lock_wait).await?;
    let result = locked(
        ctx,
        &tool,
        &mut session,
        file,
        body,
        &artifact.checksum,
        &tf_plan,
        schedule,
        until,
    )
    .await;
    after_release(result, session.release().await)
}

#[allow(clippy::too_many_arguments)]
async fn locked(
    ctx: &Ctx,
    tool: &crate::iac::IacTool,
    session: &mut Session,
    file: &std::path::Path,
    body: &PlanBody,
    checksum: &str,
    tf_plan: &[u8],
    schedule: crate::domain::Schedule,
    until: Option<Until>,
) -> Result<(), Error> {
    refuse_if_unfinished(ctx, session).await?;
    ctx.step(format!(
        "applying plan {} ({checksum}) to `{}`, deployment {}",
        file.display(),
        ctx.cfg.name,
        session.deployment()
    ));

    // Staleness: everything the plan was made against, compared with now.
    let mut moved: Vec<String> = Vec::new();
    if env_file_sha256(ctx)? != body.env_file_sha256 {
        moved.push(format!(
            "the environment file {} changed since the plan was made (its signals, gates and timeouts are part of the plan)",
            ctx.cfg.file.display()
        ));
    }
    let latest = session.store.latest().await?.map(|s| s.id);
    if latest != body.last_deployment {
        moved.push(format!(
            "another deployment ran since the plan was made: the journal's newest is {} (the plan was made after {})",
            latest.as_deref().unwrap_or("none"),
            body.last_deployment.as_deref().unwrap_or("none")
        ));
    }
    let (shared_stack, shared) = ctx.shared_outputs(tool).await?;
    let Some(shared) = shared else {
        return Err(Error::refused(
            "the plan is stale: the shared stack has no outputs any more",
            "make a new plan with `bluegreen plan`",
        ));
    };
    let aws = ctx.aws().await;
    let arns = shared.production_routes();
    let routes = Routes::read(&aws, &shared.target_groups, &arns).await?;
    let planned_routes: Vec<(&str, crate::domain::color::Weights)> = body
        .routes
        .iter()
        .map(|r| (r.route.as_str(), r.weights))
        .collect();
    let now_routes: Vec<(&str, crate::domain::color::Weights)> = routes
        .before
        .iter()
        .map(|(a, v)| (a.as_str(), v.weights()))
        .collect();
    if planned_routes.len() != now_routes.len()
        || planned_routes
            .iter()
            .zip(&now_routes)
            .any(|(p, n)| p.0 != n.0)
    {
        moved.push(format!(
            "the production routes changed: the plan knew {}, the shared stack has {} now",
            planned_routes.len(),
            now_routes.len()
        ));
    } else {
        for ((route, planned), (_, now)) in planned_routes.iter().zip(&now_routes) {
            if planned != now {
                moved.push(format!(
                    "production traffic moved on {route}: planned against {planned}, now {now}"
                ));
            }
        }
    }
    let live = body.live_color;
    let idle = body.idle_color;
    let idle_stack = ctx.service_stack(tool, idle, &shared, &body.image.pinned)?;
    idle_stack
        .prepare(&mut ctx.tf_progress(StackId::Color(idle)))
        .await?;
    let mut states = vec![
        (
            "shared",
            body.states.shared.clone(),
            shared_stack.state_meta().await?,
        ),
        (
            "idle",
            body.states.idle.clone(),
            idle_stack.state_meta().await?,
        ),
    ];
    let live_out = match live {
        Some(l) => {
            let out = ctx.color_outputs(tool, l, &shared).await?;
            let st = ctx.service_stack(tool, l, &shared, "")?;
            let now = if out.is_some() {
                st.state_meta().await?
            } else {
                None
            };
            states.push(("live", body.states.live.clone(), now));
            out
        }
        None => None,
    };
    for (name, planned, now) in states {
        if planned != now {
            let show = |m: &Option<crate::iac::StateMeta>| match m {
                Some(m) => format!("serial {} lineage {}", m.serial, m.lineage),
                None => "no state".to_string(),
            };
            moved.push(format!(
                "the {name} stack's Terraform state moved: planned against {}, now {}",
                show(&planned),
                show(&now)
            ));
        }
    }
    if body.image.ecr {
        let pinned = ImageRef::parse(&body.image.pinned)?;
        let conf = crate::aws::sdk_config(&ctx.cfg.region).await;
        let exists = SdkImages::new(&conf)
            .digest_exists(&pinned)
            .await
            .map_err(crate::flow::idle::lookup_error)?;
        if !exists {
            moved.push(format!(
                "the planned image {} is no longer in ECR (deleted, or expired by a lifecycle policy)",
                body.image.pinned
            ));
        }
    }
    if !moved.is_empty() {
        return Err(Error::refused(
            format!(
                "the plan {} is stale; nothing was changed:\n    {}",
                file.display(),
                moved.join("\n    ")
            ),
            format!(
                "make a new plan: `bluegreen plan --env {} --image {} --out FILE`, review it, apply it",
                ctx.cfg.name, body.image.requested
            ),
        ));
    }

    // Plan safety again, against what the other stacks own now.
    let live_color = live.map(|color| LiveColor {
        color,
        read: live_out.is_some(),
    });
    let findings = safety_findings(
        ctx,
        tool,
        &shared,
        live_color,
        &body.terraform.redacted_plan,
    )
    .await?;
    let new_findings: Vec<_> = findings
        .iter()
        .filter(|f| !body.safety.findings.contains(f))
        .cloned()
        .collect();
    enforce_safety(ctx, &new_findings, false)?;
    enforce_safety(ctx, &body.safety.findings, body.safety.allowed)?;

    // The saved plan goes where `deploy` keeps its own, and is applied exactly.
    let plan_path = ctx.plan_path(StackId::Color(idle));
    crate::flow::provision::create_parent(&plan_path)?;
    // The decrypted plan holds every variable value: owner-only, like the plans deploy makes.
    crate::iac::write_private(&plan_path, tf_plan)?;
    // Read it back with this machine's Terraform: it must be able to apply it, and it must be
    // the plan the body describes.
    let changes =
        match idle_stack.show_plan(&plan_path).await {
            Ok((summary, _)) => crate::flow::idle::change_lines(&summary),
            Err(e) => return Err(Error::refused(
                format!(
                "this {} cannot read the saved plan (made by version {}); nothing was changed: {e}",
                tool.program.display(),
                body.terraform.version
            ),
                "apply with the Terraform/OpenTofu version that made the plan, or make a new plan",
            )),
        };
    if changes != body.terraform.changes {
        return Err(Error::refused(
            "the saved Terraform plan does not read back as the changes the plan artifact lists; nothing was changed",
            "make a new plan with `bluegreen plan`",
        ));
    }

    let plan = Plan {
        old: live,
        new: idle,
        schedule,
        health_timeout: Duration::from_millis(body.health_timeout_ms),
        post_bake: Duration::from_millis(body.post_bake_ms),
        termination_wait: Duration::from_millis(body.termination_wait_ms),
        scale_down: body.scale_down,
        approval: body
            .approval_required
            .then(|| Duration::from_millis(body.approval_wait_ms)),
        until,
    };
    let machine = Machine::new(plan);
    let strategy = body.strategy.as_str();
    let mut start = start_record(
        ctx,
        &body.image.pinned,
        strategy,
        routes.primary().weights(),
        machine.plan(),
    );
    start.image_requested =
        (body.image.requested != body.image.pinned).then(|| body.image.requested.clone());
    start.command = Some("apply".to_string());
    start.plan_artifact = Some(checksum.to_string());
    start.approval_required = body.approval_required;
    start.unsafe_plan_allowed = body
        .safety
        .findings
        .iter()
        .map(crate::flow::idle::describe_finding)
        .collect();
    start.desired = body.desired;
    session.write(Entry::Started(start)).await?;
    session.record_takeover(ctx).await;
    ctx.step(format!(
        "strategy {strategy}: {} (recorded in the plan)",
        body.schedule_text
    ));
    let shift = Shift {
        strategy,
        image: &body.image.pinned,
        shared: &shared,
        live_out: live_out.as_ref(),
    };
    let provision = Provision::Saved {
        stack: &idle_stack,
        plan: &plan_path,
        has_changes: body.terraform.has_changes,
    };
    let prepared = prepare_new_color(
        ctx,
        tool,
        &aws,
        session,
        &shared,
        idle,
        &body.image.pinned,
        provision,
    )
    .await;
    // Production traffic never moved: a failure here ends the deployment.
    let out = session.failed_unless_ok(ctx, prepared).await?;
    run_machine(ctx, &aws, session, routes, &out, &shift, machine).await
}
