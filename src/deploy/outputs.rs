//! The stacks' outputs contract (docs/contract.md), read from `output -json`.

use super::TargetGroups;
use crate::color::Color;
use crate::iac::Outputs;

/// What the flow needs from the shared root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedOutputs {
    pub listener_arn: String,
    pub test_listener_arn: Option<String>,
    pub target_groups: TargetGroups,
    pub cluster_name: String,
}

/// What the flow needs from one color's service root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOutputs {
    pub service_name: String,
    pub cluster_name: String,
    pub target_group_arn: String,
    pub task_definition_arn: String,
    pub image: String,
    pub color: String,
}

fn contract(stack: &str, e: impl std::fmt::Display) -> String {
    format!("the {stack} stack breaks the outputs contract (docs/contract.md): {e}")
}

impl SharedOutputs {
    /// `Ok(None)` when the stack has no outputs at all (never applied).
    pub fn read(o: &Outputs) -> Result<Option<SharedOutputs>, String> {
        if o.is_empty() {
            return Ok(None);
        }
        let s = |n: &str| o.require_string(n).map_err(|e| contract("shared", e));
        let tgs = o
            .get_string_map("target_group_arns")
            .map_err(|e| contract("shared", e))?;
        let tg = |c: &str| {
            tgs.get(c)
                .cloned()
                .ok_or_else(|| contract("shared", format!("target_group_arns has no `{c}` key")))
        };
        Ok(Some(SharedOutputs {
            listener_arn: s("listener_arn")?,
            test_listener_arn: o
                .get_string("test_listener_arn")
                .map_err(|e| contract("shared", e))?,
            target_groups: TargetGroups {
                blue: tg("blue")?,
                green: tg("green")?,
            },
            cluster_name: s("cluster_name")?,
        }))
    }
}

impl ServiceOutputs {
    /// `Ok(None)` when the color's stack has no outputs (never applied, or destroyed).
    pub fn read(o: &Outputs, color: Color) -> Result<Option<ServiceOutputs>, String> {
        if o.is_empty() {
            return Ok(None);
        }
        let stack = format!("{color} service");
        let s = |n: &str| o.require_string(n).map_err(|e| contract(&stack, e));
        Ok(Some(ServiceOutputs {
            service_name: s("service_name")?,
            cluster_name: s("cluster_name")?,
            target_group_arn: s("target_group_arn")?,
            task_definition_arn: s("task_definition_arn")?,
            image: s("image")?,
            color: s("color")?,
        }))
    }

    /// The service stack must be wired to this color's target group in the shared cluster.
    pub fn check_against(&self, color: Color, shared: &SharedOutputs) -> Result<(), String> {
        let want_tg = shared.target_groups.of(color);
        if self.color != color.as_str() {
            return Err(contract(
                "service",
                format!("output color is `{}`, planned as `{color}`", self.color),
            ));
        }
        if self.target_group_arn != want_tg {
            return Err(contract(
                "service",
                format!(
                    "the {color} service is attached to {}, not to the {color} target group {want_tg}",
                    self.target_group_arn
                ),
            ));
        }
        if self.cluster_name != shared.cluster_name {
            return Err(contract(
                "service",
                format!(
                    "the {color} service runs in cluster {}, the shared stack's cluster is {}",
                    self.cluster_name, shared.cluster_name
                ),
            ));
        }
        Ok(())
    }
}
