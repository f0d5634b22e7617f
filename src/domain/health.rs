//! Health checks of one color: ECS service stability and ALB target health. Each check reports
//! the values it saw, so a failure message can say exactly why.

use super::ports::{ServiceState, TargetHealth};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub signal: &'static str,
    pub ok: bool,
    /// What was observed, in words ("running 2/2, 1 deployment").
    pub observed: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "ok" } else { "not yet" };
        write!(f, "{}: {} ({})", self.signal, verdict, self.observed)
    }
}

/// ECS: the service exists, runs the expected task definition, running = desired = `want`,
/// and there is a single (PRIMARY) deployment.
pub fn service_stable(state: Option<&ServiceState>, want: i32, task_definition: &str) -> Check {
    let signal = "ecs-service";
    let Some(s) = state else {
        return Check {
            signal,
            ok: false,
            observed: "service not found".into(),
        };
    };
    let observed = format!(
        "desired {}, running {}, pending {}, {} deployment(s), task definition {}",
        s.desired,
        s.running,
        s.pending,
        s.deployments.len(),
        short_td(&s.task_definition)
    );
    let ok = s.desired == want
        && s.running == want
        && s.pending == 0
        && s.deployments.len() == 1
        && s.deployments[0].status == "PRIMARY"
        && s.task_definition == task_definition;
    Check {
        signal,
        ok,
        observed,
    }
}

/// ALB: every registered target is healthy and there are at least `want` of them.
pub fn targets_healthy(targets: &[TargetHealth], want: usize) -> Check {
    let healthy = targets.iter().filter(|t| t.state == "healthy").count();
    let mut observed = format!("{healthy}/{} targets healthy, want ≥ {want}", targets.len());
    if let Some(bad) = targets.iter().find(|t| t.state != "healthy") {
        observed.push_str(&format!(
            "; {} is {}{}",
            bad.id,
            bad.state,
            bad.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
    Check {
        signal: "target-health",
        ok: healthy == targets.len() && healthy >= want,
        observed,
    }
}

fn short_td(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ports::ServiceDeployment;

    fn svc(desired: i32, running: i32, deployments: usize) -> ServiceState {
        ServiceState {
            name: "app-blue".into(),
            status: "ACTIVE".into(),
            task_definition: "arn:td/app-blue:2".into(),
            desired,
            running,
            pending: 0,
            deployments: (0..deployments)
                .map(|i| ServiceDeployment {
                    status: if i == 0 { "PRIMARY" } else { "ACTIVE" }.into(),
                    task_definition: "arn:td/app-blue:2".into(),
                    desired,
                    running,
                    failed_tasks: 0,
                    rollout_state: None,
                })
                .collect(),
            target_groups: vec![],
        }
    }

    #[test]
    fn stable_needs_running_equal_desired_and_one_deployment() {
        assert!(service_stable(Some(&svc(2, 2, 1)), 2, "arn:td/app-blue:2").ok);
        assert!(!service_stable(Some(&svc(2, 1, 1)), 2, "arn:td/app-blue:2").ok);
        assert!(!service_stable(Some(&svc(2, 2, 2)), 2, "arn:td/app-blue:2").ok);
        assert!(!service_stable(Some(&svc(2, 2, 1)), 2, "arn:td/app-blue:3").ok);
        assert!(!service_stable(Some(&svc(1, 1, 1)), 2, "arn:td/app-blue:2").ok);
        let missing = service_stable(None, 2, "x");
        assert!(!missing.ok && missing.observed.contains("not found"));
    }

    fn t(id: &str, state: &str) -> TargetHealth {
        TargetHealth {
            id: id.into(),
            port: Some(80),
            state: state.into(),
            reason: None,
        }
    }

    #[test]
    fn targets_all_healthy_and_enough() {
        assert!(targets_healthy(&[t("a", "healthy"), t("b", "healthy")], 2).ok);
        assert!(!targets_healthy(&[t("a", "healthy")], 2).ok);
        let c = targets_healthy(
            &[t("a", "healthy"), t("b", "unhealthy"), t("c", "healthy")],
            2,
        );
        assert!(!c.ok);
        assert!(c.observed.contains("b is unhealthy"), "{}", c.observed);
        assert!(!targets_healthy(&[], 1).ok);
    }
}
