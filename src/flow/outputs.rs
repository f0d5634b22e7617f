//! The stacks' outputs contract (docs/contract.md), read from `output -json`.

use crate::domain::color::Color;
use crate::domain::TargetGroups;
use crate::iac::Outputs;

/// What the flow needs from the shared root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedOutputs {
    pub listener_arn: String,
    pub test_listener_arn: Option<String>,
    pub target_groups: TargetGroups,
    pub cluster_name: String,
    /// More production listeners (e.g. HTTPS next to HTTP) whose default action moves in
    /// lockstep with `listener_arn`'s. Optional output; empty when absent.
    pub extra_listener_arns: Vec<String>,
    /// Production listener rules (e.g. a path rule) whose single forward action moves in
    /// lockstep with `listener_arn`'s default action. Optional output; empty when absent.
    pub rule_arns: Vec<String>,
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
        let list = |n: &str| o.get_string_list(n).map_err(|e| contract("shared", e));
        let shared = SharedOutputs {
            listener_arn: s("listener_arn")?,
            test_listener_arn: o
                .get_string("test_listener_arn")
                .map_err(|e| contract("shared", e))?,
            target_groups: TargetGroups {
                blue: tg("blue")?,
                green: tg("green")?,
            },
            cluster_name: s("cluster_name")?,
            extra_listener_arns: list("extra_listener_arns")?,
            rule_arns: list("rule_arns")?,
        };
        shared.check_routes()?;
        Ok(Some(shared))
    }

    /// Every route production traffic takes, shifted together, all or nothing: the
    /// production listener first, then the extra listeners, then the rules, each once.
    pub fn production_routes(&self) -> Vec<String> {
        let mut routes: Vec<String> = Vec::new();
        let all = std::iter::once(&self.listener_arn)
            .chain(&self.extra_listener_arns)
            .chain(&self.rule_arns);
        for arn in all {
            if !routes.contains(arn) {
                routes.push(arn.clone());
            }
        }
        routes
    }

    /// Every route must name something, and none may be the test listener: it serves the
    /// idle color, so moving it with production would send the smoke checks to the live color.
    fn check_routes(&self) -> Result<(), String> {
        for (output, arns) in [
            ("extra_listener_arns", &self.extra_listener_arns),
            ("rule_arns", &self.rule_arns),
        ] {
            if arns.iter().any(|a| a.trim().is_empty()) {
                return Err(contract(
                    "shared",
                    format!("{output} contains an empty ARN"),
                ));
            }
            if let Some(test) = self.test_listener_arn.as_ref().filter(|t| arns.contains(t)) {
                return Err(contract(
                    "shared",
                    format!(
                        "{output} contains the test listener {test}; the test listener \
                         follows the idle color and is never shifted with production"
                    ),
                ));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(extra: &str) -> Result<Option<SharedOutputs>, String> {
        let doc = format!(
            r#"{{
            "listener_arn": {{"sensitive": false, "type": "string", "value": "arn:l/http"}},
            "test_listener_arn": {{"sensitive": false, "type": "string", "value": "arn:l/test"}},
            "target_group_arns": {{"sensitive": false, "type": ["object", {{"blue": "string", "green": "string"}}],
                                  "value": {{"blue": "arn:tg/blue", "green": "arn:tg/green"}}}},
            "cluster_name": {{"sensitive": false, "type": "string", "value": "c"}}{extra}
        }}"#
        );
        SharedOutputs::read(&Outputs::from_json(doc.as_bytes()).unwrap())
    }

    fn list(name: &str, items: &[&str]) -> String {
        format!(
            r#", "{name}": {{"sensitive": false, "type": ["list", "string"], "value": {}}}"#,
            serde_json::to_string(items).unwrap()
        )
    }

    #[test]
    fn without_the_optional_outputs_production_is_the_listener_alone() {
        let s = shared("").unwrap().unwrap();
        assert!(s.extra_listener_arns.is_empty() && s.rule_arns.is_empty());
        assert_eq!(s.production_routes(), ["arn:l/http"]);
        let null =
            r#", "rule_arns": {"sensitive": false, "type": ["list", "string"], "value": null}"#;
        assert_eq!(
            shared(null).unwrap().unwrap().production_routes(),
            ["arn:l/http"]
        );
    }

    #[test]
    fn production_routes_are_listener_then_extra_listeners_then_rules_each_once() {
        let extra = list("extra_listener_arns", &["arn:l/https", "arn:l/http"])
            + &list("rule_arns", &["arn:r/api", "arn:r/static", "arn:r/api"]);
        let s = shared(&extra).unwrap().unwrap();
        assert_eq!(
            s.production_routes(),
            ["arn:l/http", "arn:l/https", "arn:r/api", "arn:r/static"]
        );
    }

    #[test]
    fn the_test_listener_is_never_a_production_route() {
        let err = shared(&list("extra_listener_arns", &["arn:l/test"])).unwrap_err();
        assert!(
            err.contains("extra_listener_arns contains the test listener arn:l/test"),
            "{err}"
        );
        let err = shared(&list("rule_arns", &[""])).unwrap_err();
        assert!(err.contains("rule_arns contains an empty ARN"), "{err}");
    }

    #[test]
    fn a_route_list_of_the_wrong_type_names_the_output() {
        let bad = r#", "rule_arns": {"sensitive": false, "type": "string", "value": "arn:r/1"}"#;
        let err = shared(bad).unwrap_err();
        assert!(err.contains("output `rule_arns` is a string"), "{err}");
    }
}
