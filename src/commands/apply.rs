//! `apply FILE`: carries out a plan artifact exactly — its saved Terraform plan, its image
//! digest, its schedule — after checking that it is intact and that nothing it was made
//! against has moved. Any difference refuses the artifact with every difference listed, and
//! nothing changes (no Terraform run, no AWS write, no journal record).

use crate::domain::{DeploymentSpec, Machine, Until};
use crate::error::Error;
use crate::flow::context::{Ctx, StackId};
use crate::flow::idle::{
    artifact_error, change_lines, describe_finding, enforce_safety, safety_findings, LiveColor,
};
use crate::flow::outputs::SharedOutputs;
use crate::flow::planfile::PlanBody;
use crate::flow::provision::Provision;
use crate::flow::run::{
    begin_deployment, provision_new_color, refuse_if_unfinished, run_machine, Stacks,
};
use crate::flow::session::{after_release, Session};
use crate::flow::spec::{deployment_spec, start_record, Source, Today};
use crate::flow::staleness::{read_now, what_moved, Now};
use crate::iac::{IacTool, Stack};
use crate::state::journal::CommandKind;
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
    let source = Source::Artifact { body, until };
    let spec = deployment_spec(&Today::of(&ctx.cfg), source)?;
    let tool = ctx.tool()?;
    let mut session = Session::begin(ctx, "apply", lock_wait).await?;
    let planned = Planned {
        file,
        body,
        checksum: &artifact.checksum,
        tf_plan: &tf_plan,
    };
    let result = locked(ctx, &tool, &mut session, &planned, spec).await;
    after_release(result, session.release().await)
}

/// The artifact being applied.
struct Planned<'a> {
    file: &'a std::path::Path,
    body: &'a PlanBody,
    checksum: &'a str,
    /// The decrypted Terraform plan.
    tf_plan: &'a [u8],
}

async fn locked(
    ctx: &Ctx,
    tool: &IacTool,
    session: &mut Session,
    planned: &Planned<'_>,
    spec: DeploymentSpec,
) -> Result<(), Error> {
    let body = planned.body;
    refuse_if_unfinished(ctx, session).await?;
    ctx.step(format!(
        "applying plan {} ({}) to `{}`, deployment {}",
        planned.file.display(),
        planned.checksum,
        ctx.cfg.name,
        session.deployment()
    ));
    let (shared_stack, shared) = ctx.shared_outputs(tool).await?;
    let Some(shared) = shared else {
        return Err(Error::refused(
            "the plan is stale: the shared stack has no outputs any more",
            "make a new plan with `bluegreen plan`",
        ));
    };
    let aws = ctx.aws().await;
    let world = read_now(ctx, (tool, &aws), session, body, (&shared_stack, &shared)).await?;
    refuse_if_stale(ctx, planned, &world.now)?;
    check_safety_again(ctx, tool, &shared, body, world.live_out.is_some()).await?;
    let plan_path = restore_saved_plan(ctx, tool, &world.idle_stack, planned).await?;

    let mut start = start_record(CommandKind::Apply, world.routes.primary().weights(), &spec);
    start.plan_artifact = Some(planned.checksum.to_string());
    start.unsafe_plan_allowed = body.safety.findings.iter().map(describe_finding).collect();
    begin_deployment(ctx, session, start).await?;
    ctx.step(format!(
        "strategy {}: {} (recorded in the plan)",
        spec.strategy, body.schedule_text
    ));
    let stacks = Stacks {
        shared: &shared,
        live_out: world.live_out.as_ref(),
    };
    let provision = Provision::Saved {
        stack: &world.idle_stack,
        plan: &plan_path,
        has_changes: body.terraform.has_changes,
    };
    let out = provision_new_color(ctx, tool, &aws, session, &shared, &spec, provision).await?;
    let machine = Machine::new(spec);
    run_machine(ctx, &aws, session, world.routes, &out, &stacks, machine).await
}

/// Refuses the artifact, listing every fact that moved since it was planned.
fn refuse_if_stale(ctx: &Ctx, planned: &Planned<'_>, now: &Now) -> Result<(), Error> {
    let moved = what_moved(planned.body, now, &ctx.cfg.file);
    if moved.is_empty() {
        return Ok(());
    }
    Err(Error::refused(
        format!(
            "the plan {} is stale; nothing was changed:\n    {}",
            planned.file.display(),
            moved.join("\n    ")
        ),
        format!(
            "make a new plan: `bluegreen plan --env {} --image {} --out FILE`, review it, apply it",
            ctx.cfg.env_arg, planned.body.image.requested
        ),
    ))
}

/// Plan safety again, against what the other stacks own now: a finding the reviewer did not
/// see is refused even with `--allow-unsafe-plan`.
async fn check_safety_again(
    ctx: &Ctx,
    tool: &IacTool,
    shared: &SharedOutputs,
    body: &PlanBody,
    live_read: bool,
) -> Result<(), Error> {
    let live_color = body.spec.old.map(|color| LiveColor {
        color,
        read: live_read,
    });
    let plan = &body.terraform.redacted_plan;
    let findings = safety_findings(ctx, tool, shared, live_color, plan).await?;
    let new_findings: Vec<_> = findings
        .iter()
        .filter(|f| !body.safety.findings.contains(f))
        .cloned()
        .collect();
    enforce_safety(ctx, &new_findings, false)?;
    enforce_safety(ctx, &body.safety.findings, body.safety.allowed)
}

/// Writes the decrypted saved plan where `deploy` keeps its own and reads it back with this
/// machine's Terraform: it must be able to apply it, and it must be the plan the body lists.
async fn restore_saved_plan(
    ctx: &Ctx,
    tool: &IacTool,
    idle_stack: &Stack,
    planned: &Planned<'_>,
) -> Result<std::path::PathBuf, Error> {
    let body = planned.body;
    let plan_path = ctx.plan_path(StackId::Color(body.spec.new));
    crate::flow::provision::create_parent(&plan_path)?;
    // The decrypted plan holds every variable value: owner-only, like the plans deploy makes.
    crate::iac::write_private(&plan_path, planned.tf_plan)?;
    let changes =
        match idle_stack.show_plan(&plan_path).await {
            Ok((summary, _)) => change_lines(&summary),
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
    Ok(plan_path)
}
