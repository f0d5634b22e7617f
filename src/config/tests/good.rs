//! Files that load, and what they load to.

use super::*;
use crate::domain::{Step, Strategy};
use std::fs;
use std::time::Duration;

#[test]
fn a_minimal_file_gets_every_default() {
    let fx = Fixture::new();
    let cfg = fx.load(BASE).unwrap();
    assert_eq!(cfg.name, "staging");
    assert_eq!(cfg.dir, fx.env);
    assert!(cfg.file.is_absolute(), "{}", cfg.file.display());
    assert!(cfg.file.ends_with("environments/staging/bluegreen.hcl"));
    assert_eq!(cfg.region, "us-east-1");
    assert_eq!(cfg.iac, IacSettings::default());
    assert_eq!(
        cfg.shared,
        StackSettings {
            root: fx.root.join("modules/shared"),
            var_files: vec![],
            vars: Default::default(),
        }
    );
    assert_eq!(cfg.service.stack.root, fx.root.join("modules/service"));
    assert_eq!(cfg.service.desired_count, 1);
    assert_eq!(
        cfg.state,
        StateSettings {
            separation: StateSeparation::Workspace,
            workspace_prefix: "staging".into(),
            backend_config: Default::default(),
            key_template: None,
        }
    );
    assert_eq!(cfg.state.workspace_for("blue"), "staging-blue");
    assert_eq!(cfg.health, HealthSettings::default());
    assert_eq!(cfg.traffic, TrafficSettings::default());
    assert_eq!(cfg.strategy, Strategy::AllAtOnce);
    assert_eq!(cfg.promotion, PromotionSettings::default());
}

const FULL: &str = r#"# every field, non-default values
region = "eu-west-1"

iac {
  binary       = "./bin/tofu"
  lock_timeout = "1m 30s"
}

shared {
  root      = "../../modules/shared"
  var_files = ["shared.tfvars"]
  vars      = { name = "demo", "quoted_key" = "q" }
}

service {
  root          = "../../modules/service"
  var_files     = ["service.tfvars", "shared.tfvars"]
  vars = {
    cpu     = 256   # numbers and bools become strings
    public  = true
    ratio   = 1.5
    family  = "web"
  }
  desired_count = (3)
}

state {
  separation       = "backend_key"
  workspace_prefix = "qa_2"
  backend_config   = { bucket = "tf-state", encrypt = true }
  key_template     = "bluegreen/{env}/{stack}.tfstate"
}

health {
  timeout       = "200ms"
  poll_interval = "50ms"
}

traffic {
  verify_timeout = "2s"
}
"#;

#[test]
fn a_full_file_sets_every_field() {
    let fx = Fixture::new();
    let cfg = fx.load(FULL).unwrap();
    assert_eq!(cfg.region, "eu-west-1");
    assert_eq!(
        cfg.iac,
        IacSettings {
            binary: IacBinary::Path(fx.env.join("bin/tofu")),
            lock_timeout: Duration::from_secs(90),
        }
    );
    assert_eq!(cfg.shared.var_files, vec![fx.env.join("shared.tfvars")]);
    let shared_vars: Vec<(&str, &str)> = cfg
        .shared
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(shared_vars, [("name", "demo"), ("quoted_key", "q")]);
    assert_eq!(
        cfg.service.stack.var_files,
        vec![fx.env.join("service.tfvars"), fx.env.join("shared.tfvars")]
    );
    let service_vars: Vec<(&str, &str)> = cfg
        .service
        .stack
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        service_vars,
        [
            ("cpu", "256"),
            ("family", "web"),
            ("public", "true"),
            ("ratio", "1.5")
        ]
    );
    assert_eq!(cfg.service.desired_count, 3);
    assert_eq!(cfg.state.separation, StateSeparation::BackendKey);
    assert_eq!(cfg.state.workspace_prefix, "qa_2");
    assert_eq!(cfg.state.backend_config["bucket"], "tf-state");
    assert_eq!(cfg.state.backend_config["encrypt"], "true");
    assert_eq!(
        cfg.state.key_for(&cfg.name, "green").as_deref(),
        Some("bluegreen/staging/green.tfstate")
    );
    assert_eq!(cfg.health.timeout, Duration::from_millis(200));
    assert_eq!(cfg.health.poll_interval, Duration::from_millis(50));
    assert_eq!(cfg.traffic.verify_timeout, Duration::from_secs(2));
}

#[test]
fn iac_binary_names_and_paths() {
    let fx = Fixture::new();
    let abs = fx.env.join("bin/tofu");
    let cases = [
        ("auto", IacBinary::Auto),
        ("tofu", IacBinary::Tofu),
        ("terraform", IacBinary::Terraform),
        ("bin/tofu", IacBinary::Path(abs.clone())),
        (abs.to_str().unwrap(), IacBinary::Path(abs.clone())),
    ];
    for (written, expected) in cases {
        let src = base(&format!("iac {{\n  binary = \"{written}\"\n}}\n"));
        let cfg = fx.load(&src).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(cfg.iac.binary, expected, "{written}");
    }
}

#[test]
fn roots_may_be_json_modules_and_absolute() {
    let fx = Fixture::new();
    let json = fx.root.join("modules/json");
    let src = BASE.replace("../../modules/shared", json.to_str().unwrap());
    assert_eq!(fx.load(&src).unwrap().shared.root, json);
}

#[test]
fn load_reads_the_env_dir_and_agrees_with_load_str() {
    let fx = Fixture::new();
    fs::write(fx.env.join(ENV_FILE), FULL).unwrap();
    let from_disk = load(&fx.env).unwrap();
    assert_eq!(from_disk.file, fx.env.join(ENV_FILE));
    let from_str = load_str(FULL, &fx.env.join(ENV_FILE), &fx.env).unwrap();
    assert_eq!(from_disk, from_str);

    let resolved = resolve_env("staging", &fx.root.join("environments")).unwrap();
    assert_eq!(load(&resolved).unwrap(), from_disk);
}

#[test]
fn load_explains_a_directory_without_an_env_file() {
    let fx = Fixture::new();
    let err = load(&fx.root.join("modules")).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::NotAnEnvDir {
                is_dir_missing: false,
                ..
            }
        ),
        "{err:?}"
    );
    let err = load(&fx.root.join("nowhere")).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::NotAnEnvDir {
                is_dir_missing: true,
                ..
            }
        ),
        "{err:?}"
    );
}

/// docs/configuration.md's complete example is a file users copy: it must load.
#[test]
fn the_documented_example_loads() {
    let doc = include_str!("../../../docs/configuration.md");
    let start = doc.find("```hcl\n").expect("an ```hcl block in the docs") + "```hcl\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let fx = Fixture::new();
    let cfg = fx.load(&doc[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.service.desired_count, 2);
    assert_eq!(cfg.service.stack.vars["public"], "true");
    assert_eq!(cfg.state.workspace_for("green"), "staging-green");
    assert_eq!(cfg.iac.lock_timeout, Duration::from_secs(60));
    // The new blocks are shown too, and load to what the comments say.
    assert_eq!(cfg.health.ecs, NoData::Wait);
    let alarms = cfg.health.alarms.expect("the example has alarms");
    assert_eq!(alarms.names[0], "demo-{color}-5xx");
    assert_eq!(alarms.no_data, NoData::Fail);
    assert_eq!(cfg.health.http.len(), 1);
    assert_eq!(cfg.health.http[0].name, "smoke");
    assert_eq!(cfg.health.http[0].consecutive, 3);
    let Strategy::Steps { steps } = &cfg.strategy else {
        panic!("the example's strategy is steps: {:?}", cfg.strategy);
    };
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[1], Step::Pause);
    assert_eq!(cfg.promotion.bake, Duration::from_secs(120));
    assert_eq!(cfg.promotion.old_color, OldColor::ScaleDown);
}

#[test]
fn line_numbers_survive_crlf_line_endings() {
    let fx = Fixture::new();
    let src = BASE
        .replace('\n', "\r\n")
        .replace("\"us-east-1\"", "\"us-east-1\"\r\nregoin = 1");
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location(), Some((2, 1)), "{err}");
    assert!(fx.load(&BASE.replace('\n', "\r\n")).is_ok());
}

#[cfg(unix)]
#[test]
fn a_symlinked_environment_keeps_its_name() {
    let fx = Fixture::new();
    fs::write(fx.env.join(ENV_FILE), BASE).unwrap();
    let link = fx.root.join("environments").join("prod");
    std::os::unix::fs::symlink(&fx.env, &link).unwrap();
    let dir = resolve_env("prod", &fx.root.join("environments")).unwrap();
    let cfg = load(&dir).unwrap();
    assert_eq!(cfg.name, "prod");
    assert_eq!(cfg.state.workspace_prefix, "prod");
    // Paths in the file are resolved from the real directory, as terraform would.
    assert_eq!(cfg.dir, fx.env);
    assert_eq!(cfg.shared.root, fx.root.join("modules/shared"));
}

#[test]
fn approval_and_plan_safety_blocks() {
    let fx = Fixture::new();
    let cfg = fx.load(&base("")).unwrap();
    assert_eq!(cfg.approval, ApprovalSettings::default());
    assert!(!cfg.approval.required);
    assert!(cfg.plan_safety.protected.is_empty());
    let cfg = fx
        .load(&base(
            "approval {\n  required = true\n  wait = \"30m\"\n}\nplan_safety {\n  protected = [\"aws_db_instance.*\", \"module.data[\\\"x\\\"].*\"]\n}\n",
        ))
        .unwrap();
    assert_eq!(
        cfg.approval,
        ApprovalSettings {
            required: true,
            wait: Duration::from_secs(1800)
        }
    );
    assert_eq!(
        cfg.plan_safety.protected,
        ["aws_db_instance.*", "module.data[\"x\"].*"]
    );
}
