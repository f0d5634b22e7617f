//! Environment directories for tests and benchmarks: a directory named `local` (so `--env local`
//! works with `--environments-dir`) whose `bluegreen.hcl` points at the repo's emulator modules
//! and var files by absolute path.

use std::path::{Path, PathBuf};

/// Writes `<parent>/local/bluegreen.hcl` with `desired` tasks per color and `blocks` (health,
/// traffic, strategy, promotion, …) appended, and returns the directory.
pub fn local_env(parent: &Path, desired: u32, blocks: &str) -> PathBuf {
    named_env(parent, "local", desired, blocks)
}

/// [`local_env`] under another name: `<parent>/<name>/bluegreen.hcl`, a copy of `local` whose
/// AWS names derive from `name` (`bg-<name>`, docs/contract.md, "Names").
pub fn named_env(parent: &Path, name: &str, desired: u32, blocks: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    env_with_var_files(
        parent,
        name,
        desired,
        &[repo.join("environments/local-fast/shared.tfvars")],
        &[repo.join("environments/local-fast/service.tfvars")],
        blocks,
    )
}

/// `<parent>/<name>/bluegreen.hcl` on the emulator modules with these var files (absolute
/// paths, in this order) for the shared and the service roots, `desired` tasks per color and
/// `blocks` appended; returns the directory.
pub fn env_with_var_files(
    parent: &Path,
    name: &str,
    desired: u32,
    shared_vars: &[PathBuf],
    service_vars: &[PathBuf],
    blocks: &str,
) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let list = |files: &[PathBuf]| {
        let quoted: Vec<String> = files
            .iter()
            .map(|f| format!("\"{}\"", f.display()))
            .collect();
        quoted.join(", ")
    };
    let hcl = format!(
        r#"region = "us-east-1"
shared {{
  root      = "{}"
  var_files = [{}]
}}
service {{
  root          = "{}"
  var_files     = [{}]
  desired_count = {desired}
}}
{blocks}
"#,
        repo.join("modules/emulator/shared").display(),
        list(shared_vars),
        repo.join("modules/emulator/service").display(),
        list(service_vars),
    );
    std::fs::write(dir.join("bluegreen.hcl"), hcl).unwrap();
    dir
}
