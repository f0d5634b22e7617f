//! A color's service and target group, and the verdicts of its built-in signals (ECS and
//! target health) used by `rollback`. The deploy reads every signal through
//! `super::signals`.

use crate::aws::{ServiceState, TargetHealth};
use crate::color::Color;
use crate::deploy::{service_stable, targets_healthy, Check};

pub struct Target<'a> {
    pub color: Color,
    pub cluster: &'a str,
    pub service: &'a str,
    pub target_group: &'a str,
    pub task_definition: &'a str,
    pub desired: i32,
}

/// The verdict of every health signal, from what was read.
pub fn verdicts(
    t: &Target<'_>,
    svc: Option<&ServiceState>,
    targets: &[TargetHealth],
) -> Vec<Check> {
    vec![
        service_stable(svc, t.desired, t.task_definition),
        targets_healthy(targets, t.desired.max(0) as usize),
    ]
}
