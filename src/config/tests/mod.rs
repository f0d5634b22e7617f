//! End-to-end tests of the environment file: good files give the documented values, and every
//! kind of mistake is reported at its line with a fix. Each test builds its own tree of modules
//! and environments in a temp directory.

mod bad;
mod good;
mod signals;
mod strategy;

use super::*;
use std::fs;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `<tmp>/modules/{shared,service,empty}`, `<tmp>/environments/staging` with two var files,
/// and an executable-looking `bin/tofu` in the env dir.
struct Fixture {
    _tmp: TempDir,
    root: PathBuf,
    env: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let env = root.join("environments").join("staging");
        for (path, text) in [
            ("modules/shared/main.tf", "# shared\n"),
            ("modules/service/main.tf", "# service\n"),
            ("modules/json/main.tf.json", "{}\n"),
            ("modules/readme.txt", "not a module\n"),
            ("environments/staging/shared.tfvars", "name = \"demo\"\n"),
            ("environments/staging/service.tfvars", "cpu = 256\n"),
            ("environments/staging/bin/tofu", "#!/bin/sh\n"),
        ] {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        fs::create_dir_all(root.join("modules/empty")).unwrap();
        Fixture {
            _tmp: tmp,
            root,
            env,
        }
    }

    fn load(&self, src: &str) -> Result<EnvConfig, ConfigError> {
        load_str(
            src,
            Path::new("environments/staging/bluegreen.hcl"),
            &self.env,
        )
    }
}

/// Seven lines; text appended with [`base`] starts at line 8.
const BASE: &str = r#"region = "us-east-1"
shared {
  root = "../../modules/shared"
}
service {
  root = "../../modules/service"
}
"#;

fn base(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// One mistake, where it must be reported, and words the message and the fix must contain.
struct Bad {
    name: &'static str,
    src: String,
    line: usize,
    message: &'static str,
    fix: &'static str,
}

fn bad(
    name: &'static str,
    src: impl Into<String>,
    line: usize,
    message: &'static str,
    fix: &'static str,
) -> Bad {
    Bad {
        name,
        src: src.into(),
        line,
        message,
        fix,
    }
}

fn check_bad_cases(fx: &Fixture, cases: Vec<Bad>) {
    let mut failures = Vec::new();
    for case in cases {
        match fx.load(&case.src) {
            Ok(_) => failures.push(format!("{}: loaded, expected an error", case.name)),
            Err(ConfigError::Invalid {
                file,
                line,
                message,
                fix,
                ..
            }) => {
                let rendered = format!("{line}: {message} / fix: {fix}");
                if file != Path::new("environments/staging/bluegreen.hcl") {
                    failures.push(format!("{}: wrong file {}", case.name, file.display()));
                }
                if line != case.line {
                    failures.push(format!(
                        "{}: line {line}, expected {}: {rendered}",
                        case.name, case.line
                    ));
                }
                if !message.contains(case.message) {
                    failures.push(format!(
                        "{}: message lacks {:?}: {rendered}",
                        case.name, case.message
                    ));
                }
                if !fix.contains(case.fix) {
                    failures.push(format!(
                        "{}: fix lacks {:?}: {rendered}",
                        case.name, case.fix
                    ));
                }
            }
            Err(other) => failures.push(format!("{}: expected Invalid, got {other:?}", case.name)),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
