//! Whether a plan artifact is still true: everything it was made against (the environment
//! file, the journal's newest deployment, every production route's weights, the three
//! Terraform states, the pinned image) read again under the lock ([`read_now`]) and compared
//! ([`what_moved`], pure).

use crate::aws::SdkImages;
use crate::domain::color::Weights;
use crate::domain::image::ImageRef;
use crate::error::Error;
use crate::flow::context::{Aws, Ctx, StackId};
use crate::flow::drive::Routes;
use crate::flow::idle::env_file_sha256;
use crate::flow::outputs::{ServiceOutputs, SharedOutputs};
use crate::flow::planfile::{PlanBody, States};
use crate::flow::session::Session;
use crate::iac::{IacTool, Stack, StateMeta};

/// What the world reads now, for each fact a plan artifact was made against.
#[derive(Debug, Clone, PartialEq)]
pub struct Now {
    pub env_file_sha256: String,
    /// The journal's newest deployment.
    pub latest: Option<String>,
    /// Every production route and its weights, in the shared stack's order.
    pub routes: Vec<(String, Weights)>,
    /// The live color's state is only read (and compared) when the plan has a live color.
    pub states: States,
    /// Whether the pinned image is still in ECR (`None`: not an ECR image, not checked).
    pub image_exists: Option<bool>,
}

/// Every fact that moved since `body` was planned, in words, in the order `apply` documents
/// (docs/plan-then-deploy.md, "What apply checks first"). `env_file` names the file.
pub fn what_moved(body: &PlanBody, now: &Now, env_file: &std::path::Path) -> Vec<String> {
    let mut moved = Vec::new();
    if now.env_file_sha256 != body.env_file_sha256 {
        moved.push(format!(
            "the environment file {} changed since the plan was made (its signals, gates and timeouts are part of the plan)",
            env_file.display()
        ));
    }
    if now.latest != body.last_deployment {
        moved.push(format!(
            "another deployment ran since the plan was made: the journal's newest is {} (the plan was made after {})",
            now.latest.as_deref().unwrap_or("none"),
            body.last_deployment.as_deref().unwrap_or("none")
        ));
    }
    routes_moved(body, now, &mut moved);
    let mut states = vec![
        ("shared", &body.states.shared, &now.states.shared),
        ("idle", &body.states.idle, &now.states.idle),
    ];
    if body.spec.old.is_some() {
        states.push(("live", &body.states.live, &now.states.live));
    }
    for (name, planned, now) in states {
        if planned != now {
            moved.push(format!(
                "the {name} stack's Terraform state moved: planned against {}, now {}",
                show(planned),
                show(now)
            ));
        }
    }
    if now.image_exists == Some(false) {
        moved.push(format!(
            "the planned image {} is no longer in ECR (deleted, or expired by a lifecycle policy)",
            body.spec.image
        ));
    }
    moved
}

fn routes_moved(body: &PlanBody, now: &Now, moved: &mut Vec<String>) {
    let planned = &body.routes;
    if planned.len() != now.routes.len()
        || planned.iter().zip(&now.routes).any(|(p, n)| p.route != n.0)
    {
        moved.push(format!(
            "the production routes changed: the plan knew {}, the shared stack has {} now",
            planned.len(),
            now.routes.len()
        ));
        return;
    }
    for (p, (_, now)) in planned.iter().zip(&now.routes) {
        if p.weights != *now {
            moved.push(format!(
                "production traffic moved on {}: planned against {}, now {now}",
                p.route, p.weights
            ));
        }
    }
}

fn show(m: &Option<StateMeta>) -> String {
    match m {
        Some(m) => format!("serial {} lineage {}", m.serial, m.lineage),
        None => "no state".to_string(),
    }
}

/// What `apply` reads under the lock: the world now, and the stacks and routes it goes on with.
pub struct World<'a> {
    pub now: Now,
    pub routes: Routes<'a>,
    /// The idle color's stack, prepared (its workspace selected).
    pub idle_stack: Stack,
    /// The live color's outputs, when it has a stack.
    pub live_out: Option<ServiceOutputs>,
}

/// Reads every fact `body` was made against, in the documented order. The shared stack's
/// outputs are read by the caller (a plan without them is refused at once).
pub async fn read_now<'a>(
    ctx: &Ctx,
    (tool, aws): (&IacTool, &Aws),
    session: &Session,
    body: &PlanBody,
    (shared_stack, shared): (&Stack, &'a SharedOutputs),
) -> Result<World<'a>, Error> {
    let env_file_sha256 = env_file_sha256(ctx)?;
    let latest = session.store.latest().await?.map(|s| s.id);
    let routes = Routes::read(aws, &shared.target_groups, &shared.production_routes()).await?;
    let idle = body.spec.new;
    let idle_stack = ctx.service_stack(tool, idle, shared, &body.spec.image)?;
    // Three independent states: read side by side, one Terraform process each at a time.
    let idle_meta = async {
        idle_stack
            .prepare(&mut ctx.tf_progress(StackId::Color(idle)))
            .await?;
        Ok::<_, Error>(idle_stack.state_meta().await?)
    };
    let live = async {
        let Some(l) = body.spec.old else {
            return Ok::<_, Error>((None, None));
        };
        let out = ctx.color_outputs(tool, l, shared).await?;
        let meta = match &out {
            Some(_) => ctx.service_stack(tool, l, shared, "")?.state_meta().await?,
            None => None,
        };
        Ok((out, meta))
    };
    let (shared_meta, idle_meta, live) = tokio::join!(shared_stack.state_meta(), idle_meta, live);
    let (live_out, live_meta) = live?;
    let states = States {
        shared: shared_meta?,
        idle: idle_meta?,
        live: live_meta,
    };
    let image_exists = match body.image.ecr {
        true => Some(image_exists(ctx, &body.spec.image).await?),
        false => None,
    };
    let now = Now {
        env_file_sha256,
        latest,
        routes: routes
            .before
            .iter()
            .map(|(a, v)| (a.clone(), v.weights()))
            .collect(),
        states,
        image_exists,
    };
    Ok(World {
        now,
        routes,
        idle_stack,
        live_out,
    })
}

async fn image_exists(ctx: &Ctx, pinned: &str) -> Result<bool, Error> {
    let pinned = ImageRef::parse(pinned)?;
    let conf = crate::aws::sdk_config(&ctx.cfg.region).await;
    SdkImages::new(&conf)
        .digest_exists(&pinned)
        .await
        .map_err(crate::flow::idle::lookup_error)
}

#[cfg(test)]
#[path = "staleness_tests.rs"]
mod tests;
