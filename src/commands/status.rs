//! `status`: the live color and the weights, read from the load balancer (never from a cache),
//! plus what each color runs.

use super::context::Ctx;
use super::control::{Control, InFlight};
use super::shift::Routes;
use crate::aws::{Services, Traffic};
use crate::color::{Color, Weights};
use crate::deploy::ListenerView;
use crate::error::Error;
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
    /// The deploy running right now (or one whose process died mid-way), if any.
    deployment: Option<Deployment>,
}

#[derive(Debug, Serialize)]
struct RouteStatus {
    arn: String,
    weights: Weights,
}

#[derive(Debug, Serialize)]
struct Deployment {
    #[serde(flatten)]
    state: InFlight,
    /// False when the process that ran it is gone: the deploy was interrupted.
    running: bool,
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

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let tool = ctx.tool()?;
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
            deployment: None,
        };
        ctx.out.result(&human(&s), &s);
        return Ok(());
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
        deployment: Control::new(ctx.work.path())
            .read()
            .map(|(state, running)| Deployment { state, running }),
    };
    ctx.out.result(&human(&s), &s);
    Ok(())
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
        out.push_str(&format!(
            "deployment:  {} → {} ({}), {}{}{}\n",
            d.state.image,
            d.state.new,
            d.state.schedule,
            d.state.phase,
            if d.state.paused {
                ", PAUSED (run `bluegreen promote`)"
            } else {
                ""
            },
            if d.running {
                format!(", pid {}", d.state.pid)
            } else {
                format!(", INTERRUPTED (pid {} is gone)", d.state.pid)
            }
        ));
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
