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
pub const SERVICE_INPUTS: [&str; 4] = ["color", "image", "target_group_arn", "cluster_name"];
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

fn collect(body: &hcl::Body, info: &mut ModuleInfo) {
    for b in body.blocks() {
        match b.identifier() {
            "output" => {
                info.outputs.insert(label(b, 0));
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
                info.resources.insert((label(b, 0), label(b, 1)), ignored);
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
    p
}

/// Problems that make a directory unusable as the service root.
pub fn check_service_root(m: &ModuleInfo) -> Vec<String> {
    let mut p = service_interface(m);
    p.extend(check_backend(m));
    p
}

/// Problems of a real-AWS child module for the shared stack (roots wrap it and add a backend).
pub fn check_shared_module(m: &ModuleInfo) -> Vec<String> {
    let mut p = shared_interface(m);
    p.extend(check_runtime_ownership(m));
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

/// Run-time ownership: listeners must ignore `default_action` and ECS services `desired_count`,
/// or a later `apply` would undo bluegreen's traffic shift or scaling.
pub fn check_runtime_ownership(m: &ModuleInfo) -> Vec<String> {
    let rules = [
        ("aws_lb_listener", "default_action"),
        ("aws_alb_listener", "default_action"),
        ("aws_ecs_service", "desired_count"),
    ];
    let mut p = vec![];
    for ((ty, name), ignored) in &m.resources {
        for (rty, attr) in rules {
            if ty == rty && !ignored.iter().any(|i| i == attr) {
                p.push(format!(
                    "{}: resource {ty}.{name} must have lifecycle {{ ignore_changes = [{attr}] }} \
                     because bluegreen changes it at run time",
                    m.dir.display()
                ));
            }
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
}
