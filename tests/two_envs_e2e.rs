//! Issue 14, acceptance 4: two environments copied from `local` under different names deploy
//! into ONE emulator without touching each other's listeners or services.
//!
//! Real: the `bluegreen` binary; Terraform applying the emulator modules
//! (`modules/emulator/*`, with `environments/local-fast/*.tfvars`, which set no names); moto's ELBv2
//! and ECS APIs, which hold the load balancers, listeners, rules, target groups, clusters,
//! services and task definitions; everything asserted is read back from moto with the AWS SDK
//! (tests/common), never through bluegreen. Emulated: the AWS resources themselves (moto, which
//! runs no tasks: the emulator modules register always-healthy loopback targets), and no
//! request flows through the load balancers.
//!
//! The names come from the environment's name, which bluegreen passes to every root as
//! `TF_VAR_bluegreen_environment` (docs/contract.md, "Names"): `bg-alpha-alb`,
//! `bg-alpha-blue`, cluster `bg-alpha`, services and task definition families
//! `bg-alpha-<color>`; the same with `beta`.

mod common;

use common::{assert_unchanged, named_env, Bluegreen, Emulator, EmulatorSnapshot, FAST};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";

/// The part of `snap` that belongs to the environment whose names start with `prefix`
/// (`bg-<env>`): its load balancer with every listener and rule on it, its target groups
/// (and the tags of all of those), its cluster with its services, and its task definitions.
fn part(snap: &EmulatorSnapshot, prefix: &str) -> EmulatorSnapshot {
    let mut out = EmulatorSnapshot::default();
    out.load_balancers = snap
        .load_balancers
        .iter()
        .filter(|(_, lb)| lb.name == format!("{prefix}-alb"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.listeners = snap
        .listeners
        .iter()
        .filter(|(_, l)| out.load_balancers.contains_key(&l.load_balancer_arn))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.rules = snap
        .rules
        .iter()
        .filter(|(_, r)| out.listeners.contains_key(&r.listener_arn))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.target_groups = snap
        .target_groups
        .iter()
        .filter(|(_, t)| t.name == format!("{prefix}-blue") || t.name == format!("{prefix}-green"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let ours: BTreeSet<&String> = out
        .load_balancers
        .keys()
        .chain(out.listeners.keys())
        .chain(out.rules.keys())
        .chain(out.target_groups.keys())
        .collect();
    out.elb_tags = snap
        .elb_tags
        .iter()
        .filter(|(arn, _)| ours.contains(arn))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.clusters = snap
        .clusters
        .iter()
        .filter(|(_, c)| c.name == prefix)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.services = snap
        .services
        .iter()
        .filter(|(_, s)| out.clusters.contains_key(&s.cluster_arn))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.task_definitions = snap
        .task_definitions
        .iter()
        .filter(|(_, t)| t.family.starts_with(&format!("{prefix}-")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out
}

/// (blue, green) weights of an environment's production listener (port 80).
fn prod(emu: &Emulator, prefix: &str) -> (i32, i32) {
    let snap = emu.snapshot();
    let tg = |color: &str| {
        snap.target_groups
            .values()
            .find(|t| t.name == format!("{prefix}-{color}"))
            .unwrap_or_else(|| panic!("target group {prefix}-{color}"))
            .arn
            .clone()
    };
    let listener = emu
        .find_listener_by_port(&format!("{prefix}-alb"), 80)
        .unwrap_or_else(|| panic!("{prefix}-alb has a production listener"));
    let w = listener.weights();
    let get = |c: &str| w.get(&tg(c)).copied().unwrap_or(0);
    (get("blue"), get("green"))
}

fn image_of(emu: &Emulator, prefix: &str, color: &str) -> String {
    let svc = emu.describe_service(prefix, &format!("{prefix}-{color}"));
    emu.task_definition_image(svc.task_definition.as_deref().expect("a task definition"))
}

/// Every name in `part`: load balancer, target groups, cluster, services, families.
fn names(part: &EmulatorSnapshot) -> BTreeSet<String> {
    let mut n = BTreeSet::new();
    n.extend(part.load_balancers.values().map(|l| l.name.clone()));
    n.extend(part.target_groups.values().map(|t| t.name.clone()));
    n.extend(part.clusters.values().map(|c| c.name.clone()));
    n.extend(part.services.values().map(|s| s.name.clone()));
    n.extend(part.task_definitions.values().map(|t| t.family.clone()));
    n
}

#[test]
fn two_copies_of_local_share_one_emulator_without_touching_each_other() {
    let started = Instant::now();
    let emu = Emulator::start();
    let envs = tempfile::tempdir().unwrap();
    let alpha = named_env(envs.path(), "alpha", 2, FAST);
    let beta = named_env(envs.path(), "beta", 2, FAST);
    // One work directory: each environment keeps its own files under `<work>/<name>`.
    let work = common::temp_workdir();
    let run = |env: &Path, args: &[&str]| {
        Bluegreen::new(&emu, work.path())
            .arg(args[0])
            .args(["--env", env.to_str().unwrap()])
            .args(&args[1..])
            .run()
    };

    // First deploy of alpha, then of beta: beta's must leave alpha alone (the finding: a
    // second environment's first deploy moved the first one's production traffic).
    run(&alpha, &["deploy", "--image", V1]).assert_code(0);
    assert_eq!(prod(&emu, "bg-alpha"), (100, 0));
    let alpha_before = part(&emu.snapshot(), "bg-alpha");
    run(&beta, &["deploy", "--image", V1]).assert_code(0);
    assert_eq!(prod(&emu, "bg-beta"), (100, 0));
    let snap = emu.snapshot();
    assert_unchanged(&alpha_before, &part(&snap, "bg-alpha"));

    // Each environment has its own of everything, and no name is shared.
    let (a, b) = (part(&snap, "bg-alpha"), part(&snap, "bg-beta"));
    for (env, p) in [("alpha", &a), ("beta", &b)] {
        assert_eq!(p.load_balancers.len(), 1, "{env}: {p:#?}");
        assert_eq!(p.target_groups.len(), 2, "{env}: {p:#?}");
        assert_eq!(p.clusters.len(), 1, "{env}: {p:#?}");
        // Production 80, test 8080, the extra production listener 8081 (local's tfvars).
        assert_eq!(p.listeners.len(), 3, "{env}: {p:#?}");
        assert!(!p.services.is_empty(), "{env}: {p:#?}");
        assert!(!p.task_definitions.is_empty(), "{env}: {p:#?}");
    }
    let (na, nb) = (names(&a), names(&b));
    assert!(
        na.is_disjoint(&nb),
        "shared names: {:?}",
        na.intersection(&nb)
    );
    for n in [
        "bg-alpha-alb",
        "bg-alpha-blue",
        "bg-alpha-green",
        "bg-alpha",
    ] {
        assert!(na.contains(n), "{n} missing from {na:?}");
    }
    assert!(
        nb.contains("bg-beta-blue") && nb.contains("bg-beta-alb"),
        "{nb:?}"
    );
    // Nothing else on the emulator: everything belongs to one of the two.
    assert_eq!(
        snap.load_balancers.len() + snap.clusters.len() + snap.services.len(),
        a.load_balancers.len()
            + a.clusters.len()
            + a.services.len()
            + b.load_balancers.len()
            + b.clusters.len()
            + b.services.len(),
        "{snap:#?}"
    );

    // A canary deploy of a new image to alpha, then a rollback: beta is untouched throughout.
    let beta_before = part(&emu.snapshot(), "bg-beta");
    run(
        &alpha,
        &["deploy", "--image", V2, "--strategy", "canary:20:1s"],
    )
    .assert_code(0);
    assert_eq!(prod(&emu, "bg-alpha"), (0, 100));
    assert_eq!(image_of(&emu, "bg-alpha", "green"), V2);
    assert_unchanged(&beta_before, &part(&emu.snapshot(), "bg-beta"));
    run(&alpha, &["rollback"]).assert_code(0);
    assert_eq!(prod(&emu, "bg-alpha"), (100, 0));
    assert_eq!(image_of(&emu, "bg-alpha", "blue"), V1);
    assert_unchanged(&beta_before, &part(&emu.snapshot(), "bg-beta"));
    assert_eq!(prod(&emu, "bg-beta"), (100, 0));
    assert_eq!(image_of(&emu, "bg-beta", "blue"), V1);

    // And beta still deploys on its own: its canary leaves alpha where the rollback left it.
    let alpha_before = part(&emu.snapshot(), "bg-alpha");
    run(
        &beta,
        &["deploy", "--image", V2, "--strategy", "canary:20:1s"],
    )
    .assert_code(0);
    assert_eq!(prod(&emu, "bg-beta"), (0, 100));
    assert_unchanged(&alpha_before, &part(&emu.snapshot(), "bg-alpha"));
    eprintln!("two environments, one emulator: {:?}", started.elapsed());
}

/// An environment name that makes no valid AWS name prefix fails the plan with the module's
/// message, before anything is created; an explicit `name` in the var file would win.
#[test]
fn an_environment_name_that_makes_no_valid_aws_name_is_refused_before_anything_is_created() {
    let emu = Emulator::start();
    let envs = tempfile::tempdir().unwrap();
    let env = named_env(envs.path(), "Not_Lower", 2, FAST);
    let work = common::temp_workdir();
    let out = Bluegreen::new(&emu, work.path())
        .args(["deploy", "--env", env.to_str().unwrap(), "--image", V1])
        .run();
    assert_ne!(out.status, 0, "{out}");
    for needle in [
        "The name prefix",
        "bg-Not_Lower",
        "is not valid",
        "set `name`",
    ] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    let snap = emu.snapshot();
    assert!(
        snap.load_balancers.is_empty() && snap.clusters.is_empty(),
        "{snap:#?}"
    );
}
