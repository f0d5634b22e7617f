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
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let p = |s: &str| repo.join(s).display().to_string();
    let hcl = format!(
        r#"region = "us-east-1"
shared {{
  root      = "{}"
  var_files = ["{}"]
}}
service {{
  root          = "{}"
  var_files     = ["{}"]
  desired_count = {desired}
}}
{blocks}
"#,
        p("modules/emulator/shared"),
        p("environments/local-fast/shared.tfvars"),
        p("modules/emulator/service"),
        p("environments/local-fast/service.tfvars"),
    );
    std::fs::write(dir.join("bluegreen.hcl"), hcl).unwrap();
    dir
}
