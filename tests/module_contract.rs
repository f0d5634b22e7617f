//! Every module in the repository keeps the outputs contract (docs/contract.md): parsed with
//! hcl-rs, no Terraform run needed (the AWS provider cannot be downloaded here).

use bluegreen::contract::{
    check_environment_passthrough, check_runtime_ownership, check_service_module,
    check_service_root, check_shared_module, check_shared_root, check_target_group_association,
    read_module, ModuleInfo, ENVIRONMENT_INPUT, OPTIONAL_SHARED_OUTPUTS,
};
use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A child module for real AWS: contract outputs/inputs, run-time ownership, no backend.
    SharedModule,
    ServiceModule,
    /// A root module bluegreen runs Terraform in.
    SharedRoot,
    ServiceRoot,
}

const MODULES: [(&str, Kind); 8] = [
    ("modules/shared", Kind::SharedModule),
    ("modules/service", Kind::ServiceModule),
    ("modules/emulator/shared", Kind::SharedRoot),
    ("modules/emulator/service", Kind::ServiceRoot),
    ("environments/staging/shared", Kind::SharedRoot),
    ("environments/staging/service", Kind::ServiceRoot),
    ("environments/local/shared", Kind::SharedRoot),
    ("environments/local/service", Kind::ServiceRoot),
];

fn problems(m: &ModuleInfo, kind: Kind) -> Vec<String> {
    match kind {
        Kind::SharedModule => check_shared_module(m),
        Kind::ServiceModule => check_service_module(m),
        Kind::SharedRoot => check_shared_root(m),
        Kind::ServiceRoot => check_service_root(m),
    }
}

#[test]
fn every_module_keeps_the_contract() {
    for (dir, kind) in MODULES {
        let m = read_module(&repo(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        let p = problems(&m, kind);
        assert!(
            p.is_empty(),
            "{dir} ({kind:?}) breaks the contract:\n{}",
            p.join("\n")
        );
    }
}

#[test]
fn the_real_modules_own_nothing_bluegreen_changes_at_run_time() {
    // The listeners and the ECS service must exist, or the ownership check above is vacuous.
    let shared = read_module(&repo("modules/shared")).unwrap();
    let listeners: Vec<_> = shared
        .resources
        .iter()
        .filter(|((t, _), _)| t == "aws_lb_listener")
        .collect();
    assert!(
        listeners.len() >= 3,
        "prod + test + HTTPS listener expected: {listeners:?}"
    );
    for (_, ignored) in listeners {
        assert!(ignored.iter().any(|i| i == "default_action"), "{ignored:?}");
    }
    let service = read_module(&repo("modules/service")).unwrap();
    let svc = service
        .resources
        .iter()
        .find(|((t, _), _)| t == "aws_ecs_service")
        .expect("modules/service has an aws_ecs_service");
    assert!(svc.1.iter().any(|i| i == "desired_count"));
    // Child modules must not pin a backend; roots must declare one.
    assert_eq!(shared.backend, None);
    assert_eq!(service.backend, None);
}

#[test]
fn the_shared_modules_offer_the_lockstep_routes() {
    for dir in ["modules/shared", "modules/emulator/shared"] {
        let m = read_module(&repo(dir)).unwrap();
        for out in OPTIONAL_SHARED_OUTPUTS {
            assert!(m.outputs.contains(out), "{dir} has no output `{out}`");
        }
    }
    // The real module's path rules are what rule_arns names, and bluegreen owns their action.
    let shared = read_module(&repo("modules/shared")).unwrap();
    assert!(
        shared.output_values["rule_arns"].contains("aws_lb_listener_rule.path"),
        "{:?}",
        shared.output_values["rule_arns"]
    );
    let rule = &shared.resources[&("aws_lb_listener_rule".to_owned(), "path".to_owned())];
    assert!(rule.iter().any(|i| i == "action"), "{rule:?}");
}

#[test]
fn the_contract_check_catches_a_shifted_rule_that_terraform_would_reset() {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(repo("modules/shared")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            let text = std::fs::read_to_string(&p).unwrap();
            let text = text.replace("ignore_changes = [action]", "ignore_changes = [tags]");
            std::fs::write(tmp.path().join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let p = check_runtime_ownership(&read_module(tmp.path()).unwrap());
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("aws_lb_listener_rule.path") && p[0].contains("ignore_changes = [action]"),
        "{p:?}"
    );
}

#[test]
fn the_local_demo_shifts_several_routes_in_lockstep() {
    let text = std::fs::read_to_string(repo("environments/local-fast/shared.tfvars")).unwrap();
    let vars: hcl::Body = hcl::from_str(&text).unwrap();
    let list_len = |name: &str| {
        vars.attributes()
            .find(|a| a.key() == name)
            .and_then(|a| match a.expr() {
                hcl::Expression::Array(items) => Some(items.len()),
                _ => None,
            })
            .unwrap_or(0)
    };
    assert!(list_len("extra_listener_ports") >= 1, "{text}");
    assert!(list_len("path_rules") >= 1, "{text}");
}

/// A copy of modules/shared with `edit` applied to its main.tf.
fn shared_module_with(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, ModuleInfo) {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(repo("modules/shared")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            let mut text = std::fs::read_to_string(&p).unwrap();
            if p.file_name().is_some_and(|n| n == "main.tf") {
                let edited = edit(&text);
                assert_ne!(edited, text, "the edit changed nothing");
                text = edited;
            }
            std::fs::write(tmp.path().join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let m = read_module(tmp.path()).unwrap();
    (tmp, m)
}

#[test]
fn the_real_shared_module_associates_both_target_groups_from_the_start() {
    // What makes it pass: the test listener forwards to the target groups, and the rule that
    // replaces it when test_listener is false has the complementary count.
    let shared = read_module(&repo("modules/shared")).unwrap();
    let key = |ty: &str, name: &str| (ty.to_owned(), name.to_owned());
    assert!(shared.forwards[&key("aws_lb_listener", "test")].contains("aws_lb_target_group.this"));
    assert!(shared.forwards[&key("aws_lb_listener_rule", "associate")]
        .contains("aws_lb_target_group.this"));
    assert!(!shared
        .forwards
        .contains_key(&key("aws_lb_listener", "production")));
    assert!(check_target_group_association(&shared).is_empty());

    // The old first-deploy order (the test listener starts as a 503, like the production
    // listener) fails the contract, with ECS's error.
    let (_t, old) = shared_module_with(|main| {
        main.replacen("type = \"forward\"", "type = \"fixed-response\"", 1)
    });
    let p = check_shared_module(&old);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("aws_lb_target_group.this")
            && p[0].contains("does not have an associated load balancer"),
        "{p:?}"
    );
    // So does a module that forgets the rule for test_listener = false.
    let (_t, no_rule) =
        shared_module_with(|main| main.replace("count = var.test_listener ? 0 : 1", "count = 0"));
    assert_eq!(check_target_group_association(&no_rule).len(), 1);
}

#[test]
fn the_contract_check_catches_a_broken_module() {
    // Guard against a vacuous test: drop an output from a copy of a real root and check it fails.
    let tmp = tempfile::tempdir().unwrap();
    let src = repo("modules/emulator/shared");
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            let text = std::fs::read_to_string(&p).unwrap();
            let text = text.replace("output \"listener_arn\"", "output \"listener_arn_renamed\"");
            std::fs::write(tmp.path().join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let m = read_module(tmp.path()).unwrap();
    let p = check_shared_root(&m);
    assert!(p.iter().any(|x| x.contains("`listener_arn`")), "{p:?}");
}

#[test]
fn no_module_directory_is_left_unchecked() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let has_tf = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "tf"));
        if has_tf {
            out.push(dir.to_path_buf());
        }
        for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
            if e.path().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo("modules"), &mut found);
    walk(&repo("environments"), &mut found);
    let listed: Vec<PathBuf> = MODULES.iter().map(|(d, _)| repo(d)).collect();
    for f in found {
        assert!(
            listed.contains(&f),
            "{} has *.tf files but is not in MODULES",
            f.display()
        );
    }
}

#[test]
fn every_environment_file_loads_and_its_roots_keep_the_contract() {
    for entry in std::fs::read_dir(repo("environments")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("bluegreen.hcl").exists() {
            continue;
        }
        let cfg = bluegreen::config::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let shared = read_module(&cfg.shared.root).unwrap();
        let service = read_module(&cfg.service.stack.root).unwrap();
        let mut p = check_shared_root(&shared);
        p.extend(check_service_root(&service));
        assert!(p.is_empty(), "{}: {p:?}", dir.display());
    }
}

/// Names from the environment (docs/contract.md, "Names"): every module in the repository takes
/// the environment's name bluegreen passes, and no module or example var file hard-codes a name
/// by default, so two copies of an environment never share an AWS name. Staging's var files set
/// names on purpose (an explicit `name` wins).
#[test]
fn every_module_takes_the_environment_name_and_hard_codes_no_name() {
    for (dir, _) in MODULES {
        let m = read_module(&repo(dir)).unwrap();
        assert!(
            m.variables.contains(ENVIRONMENT_INPUT),
            "{dir} does not declare `{ENVIRONMENT_INPUT}`"
        );
        for file in ["variables.tf", "main.tf"] {
            let text = std::fs::read_to_string(repo(dir).join(file)).unwrap_or_default();
            let body = hcl::parse(&text).unwrap();
            for b in body.blocks() {
                if b.identifier() != "variable" || b.labels()[0].as_str() != "name" {
                    continue;
                }
                let default = b.body().attributes().find(|a| a.key() == "default");
                assert!(
                    default.is_some_and(|a| matches!(a.expr(), hcl::Expression::Null)),
                    "{dir}/{file}: `name` must default to null (derived from the environment)"
                );
            }
        }
    }
    for file in [
        "environments/local-fast/shared.tfvars",
        "environments/local-fast/service.tfvars",
    ] {
        let text = std::fs::read_to_string(repo(file)).unwrap();
        let body = hcl::parse(&text).unwrap();
        assert!(
            !body.attributes().any(|a| a.key() == "name"),
            "{file} sets `name`: copies of the environment would share its AWS names"
        );
    }
}

#[test]
fn the_staging_roots_pass_the_environment_name_down_and_a_copy_that_forgets_is_caught() {
    for dir in [
        "environments/staging/shared",
        "environments/staging/service",
    ] {
        let m = read_module(&repo(dir)).unwrap();
        assert_eq!(
            check_environment_passthrough(&m),
            Vec::<String>::new(),
            "{dir}"
        );
        // The same root without the pass-through line, in a temporary copy of the layout
        // (`modules/` a symlink to the repository's), so the relative module source resolves
        // and nothing is written into the repository.
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(repo("modules"), tmp.path().join("modules")).unwrap();
        let copy = tmp.path().join(dir);
        std::fs::create_dir_all(&copy).unwrap();
        let text = std::fs::read_to_string(repo(dir).join("main.tf")).unwrap();
        let broken: String = text
            .lines()
            .filter(|l| !l.contains("bluegreen_environment = var.bluegreen_environment"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(broken, text, "{dir}: no pass-through line to remove");
        std::fs::write(copy.join("main.tf"), broken).unwrap();
        let m = read_module(&copy).unwrap();
        let p = check_environment_passthrough(&m);
        assert_eq!(p.len(), 1, "{dir}: {p:?}");
        assert!(p[0].contains("takes `bluegreen_environment`"), "{p:?}");
        let whole = if dir.ends_with("shared") {
            check_shared_root(&m)
        } else {
            check_service_root(&m)
        };
        assert!(
            whole.iter().any(|x| x.contains("bluegreen_environment")),
            "{whole:?}"
        );
    }
}
