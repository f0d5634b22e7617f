//! A color's service and target group: what [`crate::flow::readings::SignalReader`] reads every
//! signal of (deploy, rebuild and rollback alike).

use crate::domain::color::Color;

pub struct Target<'a> {
    pub color: Color,
    pub cluster: &'a str,
    pub service: &'a str,
    pub target_group: &'a str,
    pub task_definition: &'a str,
    pub desired: i32,
}
