//! The module contract (docs/contract.md), checked statically by parsing a module's `*.tf`
//! files with hcl-rs. `validate` runs these checks on the environment's roots; a test runs
//! them on every module in the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const SHARED_OUTPUTS: [&str; 4] = [
    "listener_arn",
    "test_listener_arn",
    "target_group_arns",
    "cluster_name",
];
/// Optional outputs of the shared root: more production routes that move in lockstep with
/// `listener_arn` (docs/contract.md). A root without them has one production route.
pub const OPTIONAL_SHARED_OUTPUTS: [&str; 2] = ["extra_listener_arns", "rule_arns"];
pub const SERVICE_INPUTS: [&str; 4] = ["color", "image", "target_group_arn", "cluster_name"];
/// The variable bluegreen sets on every Terraform command of every root, through
/// `TF_VAR_bluegreen_environment`: the environment's name. Roots need not declare it (Terraform
/// ignores undeclared `TF_VAR_`s); the repository's modules derive every AWS name from it.
pub const ENVIRONMENT_INPUT: &str = "bluegreen_environment";
pub const SERVICE_OUTPUTS: [&str; 6] = [
    "service_name",
    "cluster_name",
    "target_group_arn",
    "task_definition_arn",
    "image",
    "color",
];

/// What the contract needs to know about one module directory.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    pub dir: PathBuf,
    pub outputs: BTreeSet<String>,
    pub variables: BTreeSet<String>,
    /// Backend type from `terraform { backend "X" {} }`.
    pub backend: Option<String>,
    /// `resource "TYPE" "NAME"` → the attribute names in its `lifecycle { ignore_changes }`.
    pub resources: BTreeMap<(String, String), Vec<String>>,
    /// Module calls: name → source.
    pub module_calls: BTreeMap<String, String>,
    /// Module calls: name → the arguments it passes (argument → expression as HCL text).
    pub module_args: BTreeMap<String, BTreeMap<String, String>>,
    /// `output "NAME" { value = EXPR }` → EXPR as HCL text.
    pub output_values: BTreeMap<String, String>,
    /// `locals { NAME = EXPR }` → EXPR as HCL text.
    pub locals: BTreeMap<String, String>,
    /// `resource "TYPE" "NAME"` → its `count` expression as HCL text, for resources that have
    /// one.
    pub counts: BTreeMap<(String, String), String>,
    /// `resource "TYPE" "NAME"` → its `default_action` / `action` blocks whose `type` is the
    /// literal `"forward"`, as HCL text: what the resource forwards to when it is created.
    pub forwards: BTreeMap<(String, String), String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("cannot read module directory {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("module {} has no *.tf files", .0.display())]
    Empty(PathBuf),
}

pub fn read_module(dir: &Path) -> Result<ModuleInfo, ContractError> {
    let io = |source| ContractError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ContractError::Empty(dir.to_path_buf()));
    }
    let mut info = ModuleInfo {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    for f in files {
        let src = std::fs::read_to_string(&f).map_err(|source| ContractError::Io {
            path: f.clone(),
            source,
        })?;
        let body = hcl::parse(&src).map_err(|e| ContractError::Parse {
            path: f.clone(),
            message: e.to_string(),
        })?;
        collect(&body, &mut info);
    }
    Ok(info)
}

fn label(b: &hcl::Block, i: usize) -> String {
    b.labels()
        .get(i)
        .map(|l| l.as_str().to_string())
        .unwrap_or_default()
}

fn expr_text(e: &hcl::Expression) -> String {
    hcl::format::to_string(e).unwrap_or_default()
}

fn collect(body: &hcl::Body, info: &mut ModuleInfo) {
    for b in body.blocks() {
        match b.identifier() {
            "output" => {
                let value = b.body().attributes().find(|a| a.key() == "value");
                if let Some(v) = value {
                    info.output_values.insert(label(b, 0), expr_text(v.expr()));
                }
                info.outputs.insert(label(b, 0));
            }
            "locals" => {
                for a in b.body().attributes() {
                    info.locals.insert(a.key().to_string(), expr_text(a.expr()));
                }
            }
            "variable" => {
                info.variables.insert(label(b, 0));
            }
            "terraform" => {
                if let Some(be) = b.body().blocks().find(|x| x.identifier() == "backend") {
                    info.backend = Some(label(be, 0));
                }
            }
            "resource" => {
                let ignored = b
                    .body()
                    .blocks()
                    .filter(|x| x.identifier() == "lifecycle")
                    .flat_map(|l| {
                        l.body()
                            .attributes()
                            .filter(|a| a.key() == "ignore_changes")
                    })
                    .flat_map(|a| match a.expr() {
                        hcl::Expression::Array(items) => items
                            .iter()
                            .map(|e| hcl::format::to_string(e).unwrap_or_default())
                            .collect::<Vec<_>>(),
                        other => vec![hcl::format::to_string(other).unwrap_or_default()],
                    })
                    .collect();
                let key = (label(b, 0), label(b, 1));
                if let Some(count) = b.body().attributes().find(|a| a.key() == "count") {
                    info.counts.insert(key.clone(), expr_text(count.expr()));
                }
                let forwards: Vec<String> = b
                    .body()
                    .blocks()
                    .filter(|x| matches!(x.identifier(), "default_action" | "action"))
                    .filter(|x| {
                        x.body().attributes().any(|a| {
                            a.key() == "type"
                                && matches!(a.expr(), hcl::Expression::String(t) if t == "forward")
                        })
                    })
                    .map(|x| hcl::format::to_string(x).unwrap_or_default())
                    .collect();
                if !forwards.is_empty() {
                    info.forwards.insert(key.clone(), forwards.join("\n"));
                }
                info.resources.insert(key, ignored);
            }
            "module" => {
                let source = b
                    .body()
                    .attributes()
                    .find(|a| a.key() == "source")
                    .and_then(|a| match a.expr() {
                        hcl::Expression::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let args = b
                    .body()
                    .attributes()
                    .map(|a| (a.key().to_string(), expr_text(a.expr())))
                    .collect();
                info.module_args.insert(label(b, 0), args);
                info.module_calls.insert(label(b, 0), source);
            }
            _ => {}
        }
    }
}

fn missing(have: &BTreeSet<String>, want: &[&str], what: &str, dir: &Path) -> Vec<String> {
    want.iter()
        .filter(|w| !have.contains(**w))
        .map(|w| format!("{}: missing {what} `{w}` (docs/contract.md)", dir.display()))
        .collect()
}

fn shared_interface(m: &ModuleInfo) -> Vec<String> {
    missing(&m.outputs, &SHARED_OUTPUTS, "output", &m.dir)
}

fn service_interface(m: &ModuleInfo) -> Vec<String> {
    let mut p = missing(&m.outputs, &SERVICE_OUTPUTS, "output", &m.dir);
    p.extend(missing(&m.variables, &SERVICE_INPUTS, "variable", &m.dir));
    p
}

/// Problems that make a directory unusable as the shared root.
pub fn check_shared_root(m: &ModuleInfo) -> Vec<String> {
    let mut p = shared_interface(m);
    p.extend(check_backend(m));
    p.extend(check_route_passthrough(m));
    p.extend(check_environment_passthrough(m));
    p
}

/// Problems that make a directory unusable as the service root.
pub fn check_service_root(m: &ModuleInfo) -> Vec<String> {
    let mut p = service_interface(m);
    p.extend(check_backend(m));
    p.extend(check_environment_passthrough(m));
    p
}

/// Problems of a real-AWS child module for the shared stack (roots wrap it and add a backend).
pub fn check_shared_module(m: &ModuleInfo) -> Vec<String> {
    let mut p = shared_interface(m);
    p.extend(check_runtime_ownership(m));
    p.extend(check_target_group_association(m));
    p
}

/// Problems of a real-AWS child module for one color.
pub fn check_service_module(m: &ModuleInfo) -> Vec<String> {
    let mut p = service_interface(m);
    p.extend(check_runtime_ownership(m));
    p
}

fn check_backend(m: &ModuleInfo) -> Vec<String> {
    match m.backend {
        Some(_) => vec![],
        None => vec![format!(
            "{}: declares no backend; Terraform would write terraform.tfstate into the module \
             directory. Add `terraform {{ backend \"local\" {{}} }}` (or s3, …)",
            m.dir.display()
        )],
    }
}

/// Run-time ownership: listeners must ignore `default_action`, the listener rules bluegreen
/// shifts (those the `rule_arns` output names) `action`, and ECS services `desired_count`, or
/// a later `apply` would undo bluegreen's traffic shift or scaling.
pub fn check_runtime_ownership(m: &ModuleInfo) -> Vec<String> {
    let rules = [
        ("aws_lb_listener", "default_action"),
        ("aws_alb_listener", "default_action"),
        ("aws_ecs_service", "desired_count"),
    ];
    let shifted = shifted_rules(m);
    let mut p = vec![];
    let mut require = |ty: &str, name: &str, attr: &str, why: &str| {
        p.push(format!(
            "{}: resource {ty}.{name} must have lifecycle {{ ignore_changes = [{attr}] }} \
             because bluegreen changes it at run time{why}",
            m.dir.display()
        ));
    };
    for ((ty, name), ignored) in &m.resources {
        let ignores = |attr: &str| ignored.iter().any(|i| i == attr);
        for (rty, attr) in rules {
            if ty == rty && !ignores(attr) {
                require(ty, name, attr, "");
            }
        }
        if shifted.contains(&(ty.as_str(), name.as_str())) && !ignores("action") {
            require(ty, name, "action", " (it is in the `rule_arns` output)");
        }
    }
    p
}

const RULE_TYPES: [&str; 2] = ["aws_lb_listener_rule", "aws_alb_listener_rule"];
const LISTENER_TYPES: [&str; 2] = ["aws_lb_listener", "aws_alb_listener"];
const TARGET_GROUP_TYPES: [&str; 2] = ["aws_lb_target_group", "aws_alb_target_group"];

/// Both colors' target groups must be associated with the load balancer from the start: ECS
/// refuses to create a service on a target group that no listener or rule forwards to ("The
/// target group with targetGroupArn … does not have an associated load balancer."), and a
/// first deploy creates the color's service before any production route forwards to it.
///
/// Checked for each target group resource the `target_group_arns` output names: some listener
/// or listener rule must be created with a literal `forward` action that refers to it, and
/// exist in every configuration — one without `count`, or two whose counts are `C ? 1 : 0`
/// and `C ? 0 : 1` (the test listener, and a rule that replaces it when it is turned off).
/// Roots that create no target group themselves (wrappers, the emulator modules) pass.
pub fn check_target_group_association(m: &ModuleInfo) -> Vec<String> {
    let Some(value) = m.output_values.get("target_group_arns") else {
        return vec![];
    };
    let mut p = vec![];
    for ty in TARGET_GROUP_TYPES {
        let groups: BTreeSet<&str> = references(value, ty).collect();
        for group in groups {
            let forwarding: Vec<&(String, String)> = m
                .forwards
                .iter()
                .filter(|((rty, _), text)| {
                    (LISTENER_TYPES.contains(&rty.as_str()) || RULE_TYPES.contains(&rty.as_str()))
                        && references(text, ty).any(|n| n == group)
                })
                .map(|(key, _)| key)
                .collect();
            if !always_exists(m, &forwarding) {
                p.push(format!(
                    "{}: no listener or listener rule forwards to {ty}.{group} from the start \
                     in every configuration. ECS refuses to create a service on a target group \
                     that no listener or rule of a load balancer forwards to (\"The target group \
                     with targetGroupArn … does not have an associated load balancer.\"), and a \
                     first deploy creates the color's service before any production route \
                     forwards to it. Start the test listener's default_action as a forward to \
                     both target groups (docs/contract.md)",
                    m.dir.display()
                ));
            }
        }
    }
    p
}

/// Whether one of `resources` exists in every configuration: one has no `count`, or two have
/// the counts `C ? 1 : 0` and `C ? 0 : 1` for the same condition `C`.
fn always_exists(m: &ModuleInfo, resources: &[&(String, String)]) -> bool {
    let mut conditions = vec![];
    for key in resources {
        let Some(count) = m.counts.get(*key) else {
            return true;
        };
        let count = count.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(c) = count.strip_suffix(" ? 1 : 0") {
            conditions.push((c.to_owned(), true));
        } else if let Some(c) = count.strip_suffix(" ? 0 : 1") {
            conditions.push((c.to_owned(), false));
        }
    }
    conditions
        .iter()
        .any(|(c, on)| conditions.iter().any(|(d, off)| c == d && on != off))
}

/// The listener rules the `rule_arns` output refers to, directly or through locals.
fn shifted_rules(m: &ModuleInfo) -> BTreeSet<(&str, &str)> {
    let Some(value) = m.output_values.get("rule_arns") else {
        return BTreeSet::new();
    };
    let mut text = value.clone();
    let mut seen = BTreeSet::new();
    let mut pending: Vec<&str> = references(value, "local").collect();
    while let Some(local) = pending.pop() {
        if !seen.insert(local) {
            continue;
        }
        if let Some(expr) = m.locals.get(local) {
            text.push('\n');
            text.push_str(expr);
            pending.extend(references(expr, "local"));
        }
    }
    m.resources
        .keys()
        .filter(|(ty, name)| {
            RULE_TYPES.contains(&ty.as_str()) && references(&text, ty).any(|n| n == name)
        })
        .map(|(ty, name)| (ty.as_str(), name.as_str()))
        .collect()
}

/// The names `NAME` in `PREFIX.NAME` references of an HCL expression's text.
fn references<'a>(text: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(prefix).filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| ident(c) || c == '.') {
            return None;
        }
        let rest = text[at + prefix.len()..].strip_prefix('.')?;
        let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

/// A root that wraps a local child module must pass the child's optional route outputs
/// through: otherwise the routes exist but bluegreen never sees them, and they keep serving
/// the old color (or the 503) while the listener moves. Not part of [`check_shared_root`]
/// yet; `environments/staging/shared` must pass them through first.
pub fn check_route_passthrough(m: &ModuleInfo) -> Vec<String> {
    let mut p = vec![];
    for (call, source) in &m.module_calls {
        if !(source.starts_with("./") || source.starts_with("../")) {
            continue;
        }
        let Ok(child) = read_module(&m.dir.join(source)) else {
            continue;
        };
        for out in OPTIONAL_SHARED_OUTPUTS {
            let passed = m
                .output_values
                .get(out)
                .is_some_and(|v| v.contains(&format!("module.{call}.{out}")));
            if child.outputs.contains(out) && !passed {
                p.push(format!(
                    "{}: module `{call}` ({source}) outputs `{out}` but this root does not pass \
                     it through as `output \"{out}\" {{ value = module.{call}.{out} }}`; \
                     bluegreen would leave those production routes behind when it shifts \
                     traffic",
                    m.dir.display()
                ));
            }
        }
    }
    p
}

/// A root that wraps a local child module which declares [`ENVIRONMENT_INPUT`] must declare
/// it too and pass it down (`bluegreen_environment = var.bluegreen_environment`): bluegreen
/// sets it only on the root, so otherwise the child never learns the environment's name, and
/// the names it derives from it (docs/contract.md, "Names") are missing or shared with every
/// copy of the environment. Roots that wrap nothing, or a child without the variable, are free
/// not to declare it.
pub fn check_environment_passthrough(m: &ModuleInfo) -> Vec<String> {
    let mut p = vec![];
    let wanted = format!("var.{ENVIRONMENT_INPUT}");
    for (call, source) in &m.module_calls {
        if !(source.starts_with("./") || source.starts_with("../")) {
            continue;
        }
        let Ok(child) = read_module(&m.dir.join(source)) else {
            continue;
        };
        if !child.variables.contains(ENVIRONMENT_INPUT) {
            continue;
        }
        let passed = m
            .module_args
            .get(call)
            .and_then(|args| args.get(ENVIRONMENT_INPUT))
            .is_some_and(|v| v.trim() == wanted);
        if !m.variables.contains(ENVIRONMENT_INPUT) || !passed {
            p.push(format!(
                "{}: module `{call}` ({source}) takes `{ENVIRONMENT_INPUT}` but this root does \
                 not pass it down: declare `variable \"{ENVIRONMENT_INPUT}\" {{ type = string, \
                 default = null }}` and set `{ENVIRONMENT_INPUT} = {wanted}` in the module \
                 block; bluegreen sets it on the root only (TF_VAR_{ENVIRONMENT_INPUT}), and \
                 the module derives its AWS names from it",
                m.dir.display()
            ));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(files: &[(&str, &str)]) -> (tempfile::TempDir, ModuleInfo) {
        let d = tempfile::tempdir().unwrap();
        for (n, c) in files {
            std::fs::write(d.path().join(n), c).unwrap();
        }
        let m = read_module(d.path()).unwrap();
        (d, m)
    }

    #[test]
    fn a_wrapping_root_must_pass_the_environment_name_down() {
        let d = tempfile::tempdir().unwrap();
        let child = d.path().join("child");
        let root = d.path().join("root");
        std::fs::create_dir_all(&child).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            child.join("main.tf"),
            r#"variable "bluegreen_environment" { default = null }"#,
        )
        .unwrap();
        let check = |main: &str| {
            std::fs::write(root.join("main.tf"), main).unwrap();
            check_environment_passthrough(&read_module(&root).unwrap())
        };
        let var = r#"variable "bluegreen_environment" { default = null }"#;
        let good = format!(
            "{var}\nmodule \"m\" {{\n  source = \"../child\"\n  bluegreen_environment = var.bluegreen_environment\n}}"
        );
        assert_eq!(check(&good), Vec::<String>::new());
        // Not passed down, or passed without the root declaring it (TF_VAR_ would stop there).
        let forgotten = format!("{var}\nmodule \"m\" {{ source = \"../child\" }}");
        let undeclared = r#"module "m" {
  source                = "../child"
  bluegreen_environment = "fixed"
}"#;
        for main in [forgotten.as_str(), undeclared] {
            let p = check(main);
            assert_eq!(p.len(), 1, "{main}: {p:?}");
            assert!(
                p[0].contains("module `m` (../child) takes `bluegreen_environment`"),
                "{p:?}"
            );
        }
        // A child without the variable asks for nothing.
        std::fs::write(child.join("main.tf"), r#"variable "name" {}"#).unwrap();
        assert!(check(r#"module "m" { source = "../child" }"#).is_empty());
    }

    #[test]
    fn finds_missing_outputs_and_backend() {
        let (_d, m) = module(&[("main.tf", r#"output "listener_arn" { value = "x" }"#)]);
        let p = check_shared_root(&m);
        assert!(p.iter().any(|x| x.contains("`cluster_name`")));
        assert!(p.iter().any(|x| x.contains("declares no backend")));
    }

    #[test]
    fn ignore_changes_is_checked() {
        let src = r#"
resource "aws_lb_listener" "prod" {
  lifecycle { ignore_changes = [default_action] }
}
resource "aws_ecs_service" "svc" {
  lifecycle { ignore_changes = [task_definition] }
}"#;
        let (_d, m) = module(&[("main.tf", src)]);
        let p = check_runtime_ownership(&m);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("aws_ecs_service.svc") && p[0].contains("desired_count"));
    }

    const RULES: &str = r#"
resource "aws_lb_listener_rule" "api" {
  lifecycle { ignore_changes = [action] }
}
resource "aws_lb_listener_rule" "web" {
  lifecycle { ignore_changes = [tags] }
}
resource "aws_lb_listener_rule" "redirect" {}
"#;

    #[test]
    fn shifted_rules_must_ignore_their_action() {
        let out = r#"output "rule_arns" { value = concat(aws_lb_listener_rule.api[*].arn, [aws_lb_listener_rule.web.arn]) }"#;
        let (_d, m) = module(&[("main.tf", RULES), ("outputs.tf", out)]);
        let p = check_runtime_ownership(&m);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("aws_lb_listener_rule.web") && p[0].contains("ignore_changes = [action]"),
            "{p:?}"
        );
    }

    #[test]
    fn rules_are_found_through_locals_and_unshifted_rules_are_left_alone() {
        let out = r#"
locals {
  shifted = local.web_rules
  web_rules = [for r in aws_lb_listener_rule.web : r.arn]
}
output "rule_arns" { value = local.shifted }
"#;
        let (_d, m) = module(&[("main.tf", RULES), ("outputs.tf", out)]);
        let p = check_runtime_ownership(&m);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("aws_lb_listener_rule.web"), "{p:?}");
        // Without a rule_arns output no rule is shifted: the redirect rule is the module's own.
        let (_d, m) = module(&[("main.tf", RULES)]);
        assert!(check_runtime_ownership(&m).is_empty());
    }

    const TARGET_GROUPS: &str = r#"
resource "aws_lb_target_group" "tg" { for_each = toset(["blue", "green"]) }
output "target_group_arns" {
  value = { blue = aws_lb_target_group.tg["blue"].arn, green = aws_lb_target_group.tg["green"].arn }
}"#;

    fn association(listeners: &str) -> Vec<String> {
        let (_d, m) = module(&[("tg.tf", TARGET_GROUPS), ("main.tf", listeners)]);
        check_target_group_association(&m)
    }

    #[test]
    fn target_groups_must_be_forwarded_to_from_the_start() {
        // The old first-deploy order: every listener starts as a 503.
        let p = association(
            r#"resource "aws_lb_listener" "prod" {
  default_action { type = "fixed-response" }
}"#,
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("aws_lb_target_group.tg") && p[0].contains("associated load balancer"),
            "{p:?}"
        );
        // A listener that always exists and forwards to them.
        let ok = r#"resource "aws_lb_listener" "test" {
  default_action {
    type = "forward"
    forward {
      dynamic "target_group" {
        for_each = ["blue", "green"]
        content { arn = aws_lb_target_group.tg[target_group.key].arn }
      }
    }
  }
}"#;
        assert!(association(ok).is_empty());
        // A forward whose type is an expression may be a 503: it does not count.
        let maybe = ok.replace(
            r#"type = "forward""#,
            r#"type = var.x ? "forward" : "redirect""#,
        );
        assert_eq!(association(&maybe).len(), 1);
    }

    #[test]
    fn a_conditional_forward_needs_its_complement() {
        let listener = r#"resource "aws_lb_listener" "test" {
  count = var.test_listener ? 1 : 0
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.tg["blue"].arn
  }
}"#;
        assert_eq!(association(listener).len(), 1);
        let rule = |count: &str| {
            format!(
                r#"resource "aws_lb_listener_rule" "associate" {{
  count = {count}
  action {{
    type = "forward"
    forward {{
      target_group {{ arn = aws_lb_target_group.tg["green"].arn }}
    }}
  }}
}}"#
            )
        };
        let both = format!("{listener}\n{}", rule("var.test_listener ? 0 : 1"));
        assert!(association(&both).is_empty(), "{:?}", association(&both));
        let same = format!("{listener}\n{}", rule("var.test_listener ? 1 : 0"));
        assert_eq!(association(&same).len(), 1);
        let other = format!("{listener}\n{}", rule("var.other ? 0 : 1"));
        assert_eq!(association(&other).len(), 1);
    }

    #[test]
    fn modules_without_target_groups_have_nothing_to_associate() {
        let root = r#"module "shared" { source = "../x" }
output "target_group_arns" { value = module.shared.target_group_arns }"#;
        let (_d, m) = module(&[("main.tf", root)]);
        assert!(check_target_group_association(&m).is_empty());
    }

    #[test]
    fn references_match_whole_names_only() {
        let text = "[aws_lb_listener_rule.api2.arn, xaws_lb_listener_rule.web, aws_lb_listener_rule.web_v2]";
        let names: Vec<_> = references(text, "aws_lb_listener_rule").collect();
        assert_eq!(names, ["api2", "web_v2"]);
    }

    #[test]
    fn a_wrapping_root_must_pass_the_route_outputs_through() {
        let d = tempfile::tempdir().unwrap();
        let child = d.path().join("child");
        let root = d.path().join("root");
        std::fs::create_dir_all(&child).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let outputs = r#"output "rule_arns" { value = [] }
output "extra_listener_arns" { value = [] }"#;
        std::fs::write(child.join("outputs.tf"), outputs).unwrap();
        let main = r#"module "shared" { source = "../child" }
output "rule_arns" { value = module.shared.rule_arns }"#;
        std::fs::write(root.join("main.tf"), main).unwrap();
        let p = check_route_passthrough(&read_module(&root).unwrap());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("`extra_listener_arns`"), "{p:?}");
    }
}
