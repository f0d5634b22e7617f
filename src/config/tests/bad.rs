//! Every kind of mistake, reported at its line with a fix.

use super::*;
use std::fs;
use std::path::Path;

#[test]
fn syntax_errors_carry_the_parser_position() {
    let fx = Fixture::new();
    let err = fx
        .load("region = \"us-east-1\"\nshared {\n  root = [\"a\",\n}\n")
        .unwrap_err();
    let ConfigError::Syntax { line, file, .. } = &err else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!(*line, 4, "{err}");
    assert_eq!(file, Path::new("environments/staging/bluegreen.hcl"));
    assert!(
        err.to_string()
            .starts_with("environments/staging/bluegreen.hcl:4:"),
        "{err}"
    );
    assert!(err.to_string().contains("fix: "), "{err}");
}

#[test]
#[rustfmt::skip]
fn shape_mistakes_point_at_the_name() {
    let fx = Fixture::new();
    check_bad_cases(
        &fx,
        vec![
            bad("unknown top-level attribute", base("regoin = \"x\"\n"), 8, "unknown attribute `regoin` at the top level", "did you mean `region`?"),
            bad("unknown top-level block", base("helth {\n}\n"), 8, "unknown block `helth`", "did you mean `health`?"),
            bad("unknown name lists allowed", base("color = \"blue\"\n"), 8, "unknown attribute `color`", "allowed here: `region`, `iac`, `shared`"),
            bad("unknown attribute in a block", base("health {\n  tiemout = \"5m\"\n}\n"), 9, "unknown attribute `tiemout` in block `health`", "did you mean `timeout`?"),
            bad("duplicate attribute", base("region = \"eu-west-1\"\n"), 8, "attribute `region` is set twice", "remove one of them"),
            bad("duplicate attribute in a block", base("traffic {\n  verify_timeout = \"1s\"\n  verify_timeout = \"2s\"\n}\n"), 10, "attribute `verify_timeout` is set twice", "remove one"),
            bad("duplicate block", base("shared {\n  root = \"x\"\n}\n"), 8, "block `shared` appears twice (first at line 2)", "merge them into one `shared { … }` block"),
            bad("block where an attribute belongs", base("iac {\n  binary {\n  }\n}\n"), 9, "`iac.binary` is an attribute, not a block", "write it with `=`, e.g. `binary = \"auto\"`"),
            bad("map-like block where a map attribute belongs", BASE.replace(
                    "  root = \"../../modules/shared\"\n", "  root = \"../../modules/shared\"\n  vars {\n    a = 1\n  }\n"),
                4,
                "`shared.vars` is an attribute, not a block",
                "vars = { name = \"demo\" }",
            ),
            bad("attribute where a block belongs", base("health = { timeout = \"5m\" }\n"), 8, "`health` is a block, not an attribute", "drop the `=`"),
            bad("labelled block", BASE.replace("shared {", "shared \"x\" {"), 2, "block `shared` takes no labels, found `\"x\"`", "remove the label: write `shared {`"),
            bad("required attribute missing from its block", BASE.replace("  root = \"../../modules/service\"\n", ""), 5, "block `service` is missing the required attribute `root`", "add e.g. `root = \"../../modules/service\"`"),
        ],
    );
}

#[test]
#[rustfmt::skip]
fn value_mistakes_point_at_the_value() {
    let fx = Fixture::new();
    let shared_with = |line: &str| {
        BASE.replace(
            "  root = \"../../modules/shared\"\n",
            &format!("  root = \"../../modules/shared\"\n{line}\n"),
        )
    };
    let service_with = |line: &str| {
        BASE.replace(
            "  root = \"../../modules/service\"\n",
            &format!("  root = \"../../modules/service\"\n{line}\n"),
        )
    };
    check_bad_cases(
        &fx,
        vec![
            bad("number for a string", BASE.replace("\"us-east-1\"", "5"), 1, "`region` must be a string, found a number", "region = \"us-east-1\""),
            bad("null for a string", BASE.replace("\"us-east-1\"", "null"), 1, "found null", "region = \"us-east-1\""),
            bad("not a region", BASE.replace("us-east-1", "US East"), 1, "not an AWS region name", "us-east-1"),
            bad("number for a root", BASE.replace("\"../../modules/service\"", "5"), 6, "`service.root` must be a string, found a number", "root = \"../../modules/service\""),
            bad("string for a list", shared_with("  var_files = \"shared.tfvars\""), 4, "`shared.var_files` must be a list of strings, found a string", "var_files = [\"shared.tfvars\"]"),
            bad("number in a list", shared_with("  var_files = [\n    \"shared.tfvars\",\n    7,\n  ]"), 6, "`shared.var_files[1]` must be a string, found a number", "var_files = ["),
            bad("list for a map", shared_with("  vars = [\"a\"]"), 4, "`shared.vars` must be a map, found a list", "vars = { name = \"demo\" }"),
            bad("nested value in vars", service_with("  vars = {\n    tags = [\"a\"]\n  }"), 8, "`service.vars.tags` must be a string, number or bool, found a list", "var file"),
            bad("null in vars", service_with("  vars = { a = null }"), 7, "`service.vars.a` must be a string, number or bool, found null", "vars = { cpu = 256 }"),
            bad("key given twice in a map", shared_with("  vars = {\n    a = 1\n    \"a\" = 2\n  }"), 6, "`shared.vars` sets `a` twice (first at line 5)", "remove one"),
            bad("same name twice in a map", shared_with("  vars = {\n    a = 1\n    a = 2\n  }"), 6, "map key `a` is set twice", "each key may appear once"),
            bad("not a variable name", shared_with("  vars = { \"my var\" = 1 }"), 4, "\"my var\" is not a valid Terraform variable name", "starting with a letter"),
            bad("reserved service var", service_with("  vars = {\n    cpu   = 256\n    image = \"nginx\"\n  }"), 9, "`service.vars` sets `image`, which bluegreen passes", "remove `image` from `service.vars`"),
            bad("reserved var cluster_name", service_with("  vars = { cluster_name = \"x\" }"), 7, "sets `cluster_name`", "color, image, target_group_arn, cluster_name"),
            bad("zero desired_count", service_with("  desired_count = 0"), 7, "`service.desired_count` is 0; it must be from 1 to 1000", "from 1 to 1000"),
            bad("too many tasks", service_with("  desired_count = 1001"), 7, "is 1001; it must be from 1 to 1000", "from 1 to 1000"),
            bad("negative desired_count", service_with("  desired_count = -1"), 7, "is -1; it must be from 1 to 1000", "from 1 to 1000"),
            bad("fractional desired_count", service_with("  desired_count = 2.5"), 7, "must be a whole number, found 2.5", "desired_count = 2"),
            bad("quoted desired_count", service_with("  desired_count = \"2\""), 7, "must be a whole number, found a string", "desired_count = 2"),
            bad("bad backend setting name", base("state {\n  backend_config = { \"a=b\" = \"x\" }\n}\n"), 9, "\"a=b\" is not a backend setting name", "bucket"),
        ],
    );
}

#[test]
#[rustfmt::skip]
fn duration_and_enum_mistakes() {
    let fx = Fixture::new();
    check_bad_cases(&fx, vec![
        bad("not a duration", base("health {\n  timeout = \"5 minutez\"\n}\n"), 9,
            "'5 minutez' is not a duration", "write e.g. \"30s\" or \"5m\""),
        bad("duration without a unit", base("traffic {\n  verify_timeout = \"30\"\n}\n"), 9,
            "'30' is not a duration", "\"30s\""),
        bad("number for a duration", base("health {\n  timeout = 300\n}\n"), 9,
            "`health.timeout` must be a duration string, found a number", "timeout = \"5m\""),
        bad("bad lock timeout", base("iac {\n  lock_timeout = \"soon\"\n}\n"), 9,
            "`iac.lock_timeout`: 'soon' is not a duration", "lock_timeout = \"60s\""),
        bad("zero poll interval", base("health {\n  poll_interval = \"0s\"\n}\n"), 9,
            "`health.poll_interval` must be greater than zero", "poll_interval = \"5s\""),
        bad("zero verify timeout", base("traffic {\n  verify_timeout = \"0s\"\n}\n"), 9,
            "`traffic.verify_timeout` must be greater than zero", "verify_timeout = \"30s\""),
        bad("poll interval longer than timeout", base("health {\n  timeout       = \"10s\"\n  poll_interval = \"30s\"\n}\n"), 10,
            "`health.poll_interval` (30s) is longer than `health.timeout` (10s)", "at most 10s"),
        bad("timeout shorter than the default poll", base("health {\n  timeout = \"2s\"\n}\n"), 9,
            "`health.timeout` (2s) is shorter than the default poll interval (5s)", "raise `timeout`"),
        bad("bad separation", base("state {\n  separation = \"workspaces\"\n}\n"), 9,
            "`state.separation` is \"workspaces\"; expected one of \"workspace\", \"backend_key\"", "did you mean \"workspace\"?"),
        bad("bad binary", base("iac {\n  binary = \"opentofu\"\n}\n"), 9,
            "expected one of \"auto\", \"tofu\", \"terraform\" or a path containing '/'", "binary = \"auto\""),
        bad("binary typo", base("iac {\n  binary = \"terrafrom\"\n}\n"), 9,
            "`iac.binary` is \"terrafrom\"", "did you mean \"terraform\"?"),
        bad("backend_key without a template", base("state {\n  separation = \"backend_key\"\n}\n"), 9,
            "`separation = \"backend_key\"` needs `state.key_template`", "key_template = \"bluegreen/{env}/{stack}.tfstate\""),
        bad("template without {stack}", base("state {\n  separation   = \"backend_key\"\n  key_template = \"bluegreen/{env}.tfstate\"\n}\n"), 10,
            "must contain `{stack}`", "key_template = \"bluegreen/{env}/{stack}.tfstate\""),
        bad("unknown placeholder", base("state {\n  separation   = \"backend_key\"\n  key_template = \"{region}/{stack}\"\n}\n"), 10,
            "unknown placeholder `{region}`; only `{env}` and `{stack}` are allowed", "key_template = "),
        bad("template with workspace separation", base("state {\n  key_template = \"x/{stack}\"\n}\n"), 9,
            "only used with `separation = \"backend_key\"`", "remove `key_template`"),
        bad("bad workspace prefix", base("state {\n  workspace_prefix = \"my env\"\n}\n"), 9,
            "\"my env\" may only hold letters, digits", "workspace_prefix = \"my-env\""),
    ]);
}

#[test]
#[rustfmt::skip]
fn expressions_are_refused() {
    let fx = Fixture::new();
    let refused = "expressions are not supported here; write a literal";
    check_bad_cases(
        &fx,
        vec![
            bad("variable traversal", BASE.replace("\"us-east-1\"", "var.region"), 1, refused, "replace `var.region` with a literal value, e.g. `region = \"us-east-1\"`"),
            bad("interpolation", base("state {\n  workspace_prefix = \"${terraform.workspace}\"\n}\n"), 9, refused, "workspace_prefix = \"staging\""),
            bad("function call in a list", BASE.replace(
                    "  root = \"../../modules/shared\"\n", "  root = \"../../modules/shared\"\n  var_files = [file(\"x\")]\n"),
                4,
                refused,
                "replace `file(\"x\")`",
            ),
            bad("bare word", base("state {\n  separation = workspace\n}\n"), 9, "`workspace` without quotes is a variable reference", "quote it: `\"workspace\"`"),
            bad("arithmetic", BASE.replace(
                    "  root = \"../../modules/service\"\n", "  root = \"../../modules/service\"\n  desired_count = 1 + 1\n"),
                7,
                refused,
                "desired_count = 2",
            ),
            bad("heredoc", BASE.replace("\"us-east-1\"", "<<EOT\nus-east-1\nEOT"), 1, "heredoc strings are not supported here", "region = \"us-east-1\""),
        ],
    );
}

#[test]
fn path_mistakes_show_the_resolved_path() {
    let fx = Fixture::new();
    let shared_root = |root: &str| BASE.replace("../../modules/shared", root);
    let cases = [
        (
            "../../modules/nope",
            "modules/nope does not exist",
            "relative paths start at the environment directory",
        ),
        (
            "../../modules/empty",
            "modules/empty contains no .tf files",
            "the directory that holds the module's .tf files",
        ),
        (
            "../../modules/readme.txt",
            "modules/readme.txt is a regular file, not a directory",
            "point `shared.root` at a directory",
        ),
        (
            "",
            "`shared.root` is empty",
            "root = \"../../modules/shared\"",
        ),
    ];
    for (root, message, fix) in cases {
        let err = fx.load(&shared_root(root)).unwrap_err();
        let ConfigError::Invalid {
            line,
            message: m,
            fix: f,
            ..
        } = &err
        else {
            panic!("{root}: expected Invalid, got {err:?}");
        };
        assert_eq!(*line, 3, "{root}: {err}");
        assert!(m.contains(message), "{root}: {err}");
        assert!(f.contains(fix), "{root}: {err}");
        if !root.is_empty() {
            // The path shown is absolute, without `..`, so it can be pasted into a shell.
            let shown = fx.root.join(root.trim_start_matches("../../"));
            assert!(m.contains(shown.to_str().unwrap()), "{root}: {err}");
        }
    }

    let src = BASE.replace(
        "  root = \"../../modules/service\"\n",
        "  root = \"../../modules/service\"\n  var_files = [\"service.tfvars\", \"missing.tfvars\"]\n",
    );
    let err = fx.load(&src).unwrap_err();
    assert_eq!(err.location().map(|(l, _)| l), Some(7), "{err}");
    assert!(
        err.to_string()
            .contains(fx.env.join("missing.tfvars").to_str().unwrap()),
        "{err}"
    );
    // The column points at the missing file, not at the list.
    assert_eq!(err.location().map(|(_, c)| c), Some(34), "{err}");

    let err = fx
        .load(&base("iac {\n  binary = \"./bin/nope\"\n}\n"))
        .unwrap_err();
    assert_eq!(err.location().map(|(l, _)| l), Some(9), "{err}");
    assert!(
        err.to_string()
            .contains(fx.env.join("bin/nope").to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn missing_top_level_items_name_what_to_add() {
    let fx = Fixture::new();
    let cases = [
        (
            "region",
            BASE.replace("region = \"us-east-1\"\n", ""),
            "the required attribute `region` is missing",
            "region = \"us-east-1\"",
        ),
        (
            "shared",
            BASE.replace("shared {\n  root = \"../../modules/shared\"\n}\n", ""),
            "the required block `shared` is missing",
            "shared { root = ",
        ),
        (
            "service",
            BASE.replace("service {\n  root = \"../../modules/service\"\n}\n", ""),
            "the required block `service` is missing",
            "service { root = ",
        ),
        (
            "empty file",
            String::new(),
            "the required attribute `region` is missing",
            "at the top level",
        ),
    ];
    for (name, src, message, fix) in cases {
        let err = fx.load(&src).unwrap_err();
        let ConfigError::Missing {
            message: m, fix: f, ..
        } = &err
        else {
            panic!("{name}: expected Missing, got {err:?}");
        };
        assert!(m.contains(message), "{name}: {err}");
        assert!(f.contains(fix), "{name}: {err}");
        assert!(
            err.to_string()
                .starts_with("environments/staging/bluegreen.hcl: "),
            "{err}"
        );
    }
}

#[test]
fn an_env_name_that_cannot_be_a_prefix_needs_one_set() {
    let fx = Fixture::new();
    // '.' is allowed in an environment name but not in a workspace prefix.
    let odd = fx.root.join("environments").join("qa.eu");
    fs::create_dir_all(&odd).unwrap();
    let src = BASE.replace("../../", &format!("{}/", fx.root.display()));
    let err = load_str(&src, Path::new("x.hcl"), &odd).unwrap_err();
    assert!(matches!(err, ConfigError::Missing { .. }), "{err:?}");
    assert!(
        err.to_string().contains("workspace_prefix = \"qa-eu\""),
        "{err}"
    );

    let fixed = base("state {\n  workspace_prefix = \"qa-eu\"\n}\n")
        .replace("../../", &format!("{}/", fx.root.display()));
    let cfg = load_str(&fixed, Path::new("x.hcl"), &odd).unwrap();
    assert_eq!(cfg.name, "qa.eu");
    assert_eq!(cfg.state.workspace_for("shared"), "qa-eu-shared");
}

#[test]
fn env_names_outside_the_rule_are_refused_escaped() {
    let fx = Fixture::new();
    let src = base("state {\n  workspace_prefix = \"ok\"\n}\n")
        .replace("../../", &format!("{}/", fx.root.display()));
    for name in [
        "my env",
        "bad\nname",
        "-x",
        "tab\there",
        &"a".repeat(65),
        "ünï",
    ] {
        let dir = fx.root.join("environments").join(name);
        fs::create_dir_all(&dir).unwrap();
        let err = load_str(&src, Path::new("x.hcl"), &dir).unwrap_err();
        assert!(
            matches!(err, ConfigError::BadEnvName { .. }),
            "{name:?}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("is not allowed"), "{text}");
        assert!(
            text.contains("fix: rename the environment directory"),
            "{text}"
        );
        // Control characters are shown escaped, never raw.
        assert!(!text.contains('\t'), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }
    for name in ["staging", "qa.eu", "prod_2-b", "1st"] {
        let dir = fx.root.join("environments").join(name);
        fs::create_dir_all(&dir).unwrap();
        assert!(load_str(&src, Path::new("x.hcl"), &dir).is_ok(), "{name}");
    }
}

#[test]
fn the_first_error_in_the_file_wins() {
    let fx = Fixture::new();
    // health is parsed after service, but comes first in the file.
    let src = r#"region = "us-east-1"
health {
  timeout = "forever"
}
shared {
  root = "../../modules/shared"
}
service {
  root = "../../modules/nope"
}
"#;
    let err = fx.load(src).unwrap_err();
    assert_eq!(err.location(), Some((3, 13)), "{err}");

    // A located error beats a missing block, wherever it is.
    let src = "region = 1\nshared {\n  root = \"../../modules/shared\"\n}\n";
    let err = fx.load(src).unwrap_err();
    assert_eq!(err.location(), Some((1, 10)), "{err}");
}

#[test]
fn rendered_errors_are_file_line_column_then_fix() {
    let fx = Fixture::new();
    let err = fx
        .load(&base("traffic {\n  verify_timeout = 30\n}\n"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environments/staging/bluegreen.hcl:9:20: `traffic.verify_timeout` must be a duration string, found a number\n  fix: write e.g. `verify_timeout = \"30s\"` (a duration needs a unit)"
    );
}

#[test]
#[rustfmt::skip]
fn approval_and_plan_safety_mistakes() {
    let fx = Fixture::new();
    check_bad_cases(&fx, vec![
        bad("approval without required", base("approval {\n  wait = \"5m\"\n}\n"), 8,
            "approval", "required = true"),
        bad("required not a bool", base("approval {\n  required = \"yes\"\n}\n"), 9,
            "`approval.required` must be", "required = true"),
        bad("wait without required", base("approval {\n  required = false\n  wait     = \"5m\"\n}\n"), 10,
            "`wait` is only used when `required = true`", "set `required = true`"),
        bad("protected not a list", base("plan_safety {\n  protected = \"aws_db_instance.*\"\n}\n"), 9,
            "`plan_safety.protected` must be a list of strings", "protected = [\"aws_db_instance.*\""),
        bad("protected with a space", base("plan_safety {\n  protected = [\"aws_db_instance. main\"]\n}\n"), 9,
            "\"aws_db_instance. main\" is not a resource address pattern", "`module.data.*`"),
        bad("unknown plan_safety field", base("plan_safety {\n  protect = []\n}\n"), 9,
            "protect", "protected"),
    ]);
}
