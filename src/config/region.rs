//! One source of truth for the region: the environment file's `region`. bluegreen's AWS calls
//! use it, and every Terraform command runs with `AWS_REGION`/`AWS_DEFAULT_REGION` set to it.
//! Anything that says otherwise is refused rather than silently overridden: an `AWS_REGION` or
//! `AWS_DEFAULT_REGION` in the caller's environment, or a `region = "…"` in a stack's var file.
//! A backend's `region` (where the state bucket lives) may differ on purpose and is not checked.

use std::path::{Path, PathBuf};

/// The `region` a var file sets, if it is an HCL `.tfvars` file with a top-level string
/// `region` (JSON var files and unreadable ones are not checked).
pub fn var_file_region(path: &Path) -> Option<String> {
    if path.extension().is_some_and(|e| e == "json") {
        return None;
    }
    // Through the same reader as every other named input: a regular file, bounded, never a
    // FIFO that blocks (the loader checked it once; it may have changed since).
    let bytes = crate::input::read(path, crate::input::VAR_FILE_MAX).ok()?;
    let body: hcl::Body = hcl::from_str(std::str::from_utf8(&bytes).ok()?).ok()?;
    body.attributes()
        .find(|a| a.key() == "region")
        .and_then(|a| match a.expr() {
            hcl::Expression::String(s) => Some(s.clone()),
            _ => None,
        })
}

/// Every place that disagrees with the environment file's `region`, in words (pure).
pub fn region_conflicts(
    env_file: &Path,
    region: &str,
    env: &[(&str, Option<String>)],
    var_files: &[(PathBuf, Option<String>)],
) -> Vec<String> {
    let file = env_file.display();
    let from_env = env.iter().filter_map(|(name, value)| match value {
        Some(v) if !v.is_empty() && v != region => Some(format!(
            "`{name}` is \"{v}\" but {file} says region = \"{region}\""
        )),
        _ => None,
    });
    let from_vars = var_files.iter().filter_map(|(path, value)| match value {
        Some(v) if v != region => Some(format!(
            "{} sets region = \"{v}\" but {file} says region = \"{region}\"",
            path.display()
        )),
        _ => None,
    });
    from_env.chain(from_vars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_disagrees_with_the_environment_file_is_named() {
        let file = Path::new("environments/prod/bluegreen.hcl");
        let var = |p: &str, r: Option<&str>| (PathBuf::from(p), r.map(str::to_string));
        let envs = |a: Option<&str>, d: Option<&str>| {
            vec![
                ("AWS_REGION", a.map(str::to_string)),
                ("AWS_DEFAULT_REGION", d.map(str::to_string)),
            ]
        };
        // (env vars, var files) → conflicts
        let none: Vec<(PathBuf, Option<String>)> = Vec::new();
        let table = [
            (envs(None, None), none.clone(), 0),
            (envs(Some("eu-west-1"), Some("eu-west-1")), none.clone(), 0),
            (envs(Some(""), None), none.clone(), 0),
            (envs(Some("us-east-1"), None), none.clone(), 1),
            (envs(Some("us-east-1"), Some("us-west-2")), none.clone(), 2),
            (
                envs(None, None),
                vec![var("a.tfvars", Some("eu-west-1"))],
                0,
            ),
            (envs(None, None), vec![var("a.tfvars", None)], 0),
            (
                envs(None, None),
                vec![
                    var("a.tfvars", Some("us-east-1")),
                    var("b.tfvars", Some("eu-west-1")),
                ],
                1,
            ),
        ];
        for (env, vars, want) in table {
            let got = region_conflicts(file, "eu-west-1", &env, &vars);
            assert_eq!(got.len(), want, "{env:?} {vars:?}: {got:?}");
            for g in &got {
                assert!(g.contains("environments/prod/bluegreen.hcl"), "{g}");
                assert!(g.contains("\"eu-west-1\""), "{g}");
            }
        }
    }

    #[test]
    fn a_var_files_region_is_read_when_it_is_a_plain_string() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let plain = write("a.tfvars", "name = \"x\"\nregion = \"eu-west-1\" # same\n");
        assert_eq!(var_file_region(&plain).as_deref(), Some("eu-west-1"));
        let absent = write("b.tfvars", "name = \"x\"\n");
        assert_eq!(var_file_region(&absent), None);
        let json = write("c.tfvars.json", "{\"region\": \"eu-west-1\"}");
        assert_eq!(var_file_region(&json), None);
        assert_eq!(var_file_region(&dir.path().join("missing.tfvars")), None);
    }
}
