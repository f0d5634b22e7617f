//! Issue 12, items 9, 11 and 13: inputs that are not what they claim to be. Each bad input must
//! exit 2 (BAD_INPUT) with a message that names the flag or the field (and `file:line` where it
//! comes from the environment file) and the fix, without hanging and without changing anything:
//! no work-directory file, no journal record, no Terraform state, no AWS call (most tests run
//! offline, with AWS at a closed port).

mod common;

use common::{files, local_env, Bluegreen, Emulator};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Long enough for a cold binary, short enough that a hang fails fast.
const QUICK: Duration = Duration::from_secs(60);

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A sparse file of `len` bytes (costs no disk).
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// `<tmp>/local/bluegreen.hcl` with the service's `var_files` replaced by `var_file`.
fn env_with_service_var_file(tmp: &Path, var_file: &Path) -> PathBuf {
    let env = local_env(tmp, 1, "");
    let file = env.join("bluegreen.hcl");
    let hcl = std::fs::read_to_string(&file).unwrap();
    let service_vars =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/local-fast/service.tfvars");
    let hcl = hcl.replace(
        &service_vars.display().to_string(),
        &var_file.display().to_string(),
    );
    assert!(hcl.contains(&var_file.display().to_string()));
    std::fs::write(&file, hcl).unwrap();
    env
}

/// The line of `bluegreen.hcl` that holds `needle`, 1-based.
fn line_of(env: &Path, needle: &str) -> usize {
    let hcl = std::fs::read_to_string(env.join("bluegreen.hcl")).unwrap();
    hcl.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

/// Runs `args` offline with a fresh work directory, asserts exit 2 and that the work directory
/// stayed empty; returns stderr.
#[track_caller]
fn refused_offline(args: &[&str]) -> String {
    let stderr = refused_offline_usage(args);
    assert!(stderr.contains("fix:"), "{args:?}: no fix\n{stderr}");
    stderr
}

#[test]
fn item_09_var_file_device_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("vars.fifo");
    mkfifo(&fifo);
    let big = tmp.path().join("big.tfvars");
    sparse(&big, 17 * 1024 * 1024);
    let cases: [(&Path, &str); 3] = [
        (
            Path::new("/dev/zero"),
            "/dev/zero is a character device, not a regular file",
        ),
        (&fifo, "is a FIFO (named pipe), not a regular file"),
        (&big, "is 17 MiB, more than the limit of 16 MiB"),
    ];
    for (i, (var_file, why)) in cases.into_iter().enumerate() {
        let env = env_with_service_var_file(&tmp.path().join(i.to_string()), var_file);
        let env_arg = env.to_str().unwrap();
        let line = line_of(&env, &var_file.display().to_string());
        let out_file = tmp.path().join(format!("plan-{i}.json"));
        let out_arg = out_file.to_str().unwrap();
        for cmd in [
            vec!["validate", "--env", env_arg],
            vec!["deploy", "--env", env_arg, "--image", "nginx:1.27"],
            vec![
                "plan",
                "--env",
                env_arg,
                "--image",
                "nginx:1.27",
                "--out",
                out_arg,
            ],
        ] {
            let stderr = refused_offline(&cmd);
            let at = format!("bluegreen.hcl:{line}:");
            assert!(stderr.contains(&at), "{cmd:?}: no {at}\n{stderr}");
            assert!(stderr.contains("`service.var_files`"), "{cmd:?}\n{stderr}");
            assert!(stderr.contains(why), "{cmd:?}: want {why}\n{stderr}");
            assert!(!out_file.exists(), "plan wrote its artifact");
        }
    }
}

#[test]
fn item_09_apply_fifo_is_refused_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("plan.fifo");
    mkfifo(&fifo);
    let stderr = refused_offline(&["apply", fifo.to_str().unwrap(), "--env", "local"]);
    assert!(
        stderr.contains(&format!(
            "apply FILE: the plan artifact {} is a FIFO (named pipe), not a regular file",
            fifo.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("bluegreen plan --out FILE"), "{stderr}");
}

#[test]
fn item_09_apply_dev_zero_is_refused() {
    let stderr = refused_offline(&["apply", "/dev/zero"]);
    assert!(
        stderr.contains(
            "apply FILE: the plan artifact /dev/zero is a character device, not a regular file"
        ),
        "{stderr}"
    );
    // A regular file past the limit is refused by its size, before it is read.
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("huge.plan");
    sparse(&big, 300 * 1024 * 1024);
    let stderr = refused_offline(&["apply", big.to_str().unwrap()]);
    assert!(
        stderr.contains("is 300 MiB, more than the limit of 256 MiB"),
        "{stderr}"
    );
    // A directory is not an artifact either.
    let stderr = refused_offline(&["apply", tmp.path().to_str().unwrap()]);
    assert!(
        stderr.contains("is a directory, not a regular file"),
        "{stderr}"
    );
}

#[test]
fn item_09_env_file_fifo_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let env = tmp.path().join("qa");
    std::fs::create_dir_all(&env).unwrap();
    mkfifo(&env.join("bluegreen.hcl"));
    for args in [
        vec!["validate", "--env", env.to_str().unwrap()],
        vec![
            "deploy",
            "--env",
            env.to_str().unwrap(),
            "--image",
            "nginx:1.27",
        ],
    ] {
        let stderr = refused_offline(&args);
        assert!(
            stderr.contains("--env: the environment file")
                && stderr.contains("is a FIFO (named pipe), not a regular file"),
            "{args:?}\n{stderr}"
        );
    }
    // Through a symlink to a device, the same.
    let dev = tmp.path().join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dev.join("bluegreen.hcl")).unwrap();
    let stderr = refused_offline(&["validate", "--env", dev.to_str().unwrap()]);
    assert!(stderr.contains("is a character device"), "{stderr}");
}

/// One duration past its limit: (field as messages name it, the block that sets it, the value,
/// the limit as the message writes it).
const TOO_LONG: [(&str, &str, &str, &str); 12] = [
    ("iac.lock_timeout", "iac {\n  lock_timeout = \"2h\"\n}", "2h", "1h"),
    ("health.timeout", "health {\n  timeout = \"7h\"\n}", "7h", "6h"),
    (
        "health.poll_interval",
        "health {\n  timeout = \"1h\"\n  poll_interval = \"11m\"\n}",
        "11m",
        "10m",
    ),
    (
        "health.http.smoke.max_latency",
        "health {\n  http \"smoke\" {\n    url = \"http://test.example.com/health\"\n    max_latency = \"6m\"\n  }\n}",
        "6m",
        "5m",
    ),
    ("traffic.verify_timeout", "traffic {\n  verify_timeout = \"31m\"\n}", "31m", "30m"),
    (
        "strategy.bake",
        "strategy {\n  type = \"canary\"\n  percent = 10\n  bake = \"25h\"\n}",
        "25h",
        "24h",
    ),
    (
        "strategy.interval",
        "strategy {\n  type = \"linear\"\n  step = 25\n  interval = \"2d\"\n}",
        "2d",
        "24h",
    ),
    (
        "strategy.steps[0].bake",
        "strategy {\n  type = \"steps\"\n  steps = [{ weight = 10, bake = \"1000d\" }, { weight = 100 }]\n}",
        "1000d",
        "24h",
    ),
    ("promotion.bake", "promotion {\n  bake = \"25h\"\n}", "25h", "24h"),
    (
        "promotion.termination_wait",
        "promotion {\n  termination_wait = \"100000000000d\"\n}",
        "100000000000d",
        "24h",
    ),
    ("journal.lease", "journal {\n  lease = \"100000000000d\"\n}", "100000000000d", "1h"),
    (
        "approval.wait",
        "approval {\n  required = true\n  wait = \"2d\"\n}",
        "2d",
        "24h",
    ),
];

#[test]
fn item_11_durations_have_maxima() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (field, block, value, limit)) in TOO_LONG.iter().enumerate() {
        let env = local_env(&tmp.path().join(i.to_string()), 1, block);
        let stderr = refused_offline(&["validate", "--env", env.to_str().unwrap()]);
        let line = line_of(&env, &format!("\"{value}\""));
        let want = format!("`{field}` is \"{value}\", longer than its limit of {limit}");
        assert!(stderr.contains(&want), "{field}: want {want}\n{stderr}");
        assert!(
            stderr.contains(&format!("bluegreen.hcl:{line}:")),
            "{field}\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("fix: write at most \"{limit}\"")),
            "{field}\n{stderr}"
        );
    }
    // Every limit of the file is exercised above; the flags' below.
    for l in bluegreen::config::DURATION_LIMITS {
        if l.field.starts_with("--") {
            continue;
        }
        let pattern = |f: &str| f.replace("smoke", "*").replace("[0]", "[*]");
        assert!(
            TOO_LONG.iter().any(|(f, ..)| pattern(f) == l.field),
            "no case for {}",
            l.field
        );
    }

    // At their limits, all of them are fine.
    let at_limits = "iac {\n  lock_timeout = \"1h\"\n}\nhealth {\n  timeout = \"6h\"\n  poll_interval = \"10m\"\n}\n\
         traffic {\n  verify_timeout = \"30m\"\n}\nstrategy {\n  type = \"canary\"\n  percent = 10\n  bake = \"24h\"\n}\n\
         promotion {\n  bake = \"24h\"\n  termination_wait = \"24h\"\n}\njournal {\n  lease = \"1h\"\n}\n\
         approval {\n  required = true\n  wait = \"24h\"\n}\n";
    let env = local_env(&tmp.path().join("ok"), 1, at_limits);
    let work = common::temp_workdir();
    Bluegreen::offline(work.path())
        .args(["validate", "--env", env.to_str().unwrap()])
        .timeout(QUICK)
        .run()
        .assert_code(0);

    // The flags, checked before anything runs.
    let env = env.to_str().unwrap();
    let stderr = refused_offline_usage(&[
        "deploy",
        "--env",
        env,
        "--image",
        "nginx:1.27",
        "--lock-timeout",
        "100000000000d",
    ]);
    assert!(
        stderr.contains("--lock-timeout \"100000000000d\" is longer than its limit of 24h"),
        "{stderr}"
    );
    let stderr = refused_offline(&[
        "deploy",
        "--env",
        env,
        "--image",
        "nginx:1.27",
        "--strategy",
        "canary:10:100000000000d",
    ]);
    assert!(
        stderr.contains("bake or interval \"100000000000d\" is longer than its limit of 24h"),
        "{stderr}"
    );
}

/// Runs `args` offline with a fresh work directory, asserts exit 2 and that the work directory
/// stayed empty; returns stderr. Also what [`refused_offline`] checks before its `fix:` line;
/// alone, for clap's own usage errors, which print the usage instead.
#[track_caller]
fn refused_offline_usage(args: &[&str]) -> String {
    let work = common::temp_workdir();
    let out = Bluegreen::offline(work.path())
        .args(args)
        .timeout(QUICK)
        .run();
    out.assert_code(2);
    let written = files(work.path());
    assert!(written.is_empty(), "{args:?} wrote {:?}", written.keys());
    out.stderr
}

#[test]
fn item_13_work_dir_error_names_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "keep me\n").unwrap();
    let cases = [
        (
            file.clone(),
            format!("{} is a regular file, not a directory", file.display()),
        ),
        (
            file.join("below"),
            format!("{} is a regular file, not a directory", file.display()),
        ),
        (
            PathBuf::from("/dev/null"),
            "/dev/null is a character device, not a directory".to_string(),
        ),
    ];
    for (root, why) in cases {
        for cmd in [
            vec!["deploy", "--env", "local", "--image", "nginx:1.27"],
            vec!["status", "--env", "local"],
        ] {
            // Through BLUEGREEN_WORK_DIR (the harness's way) and through the flag.
            let by_env = Bluegreen::offline(&root).args(&cmd).timeout(QUICK).run();
            let by_flag = Bluegreen::offline(tmp.path().join("unused"))
                .arg("--work-dir")
                .arg(&root)
                .args(&cmd)
                .timeout(QUICK)
                .run();
            for out in [by_env, by_flag] {
                out.assert_code(2);
                let e = &out.stderr;
                assert!(
                    e.contains("--work-dir (or BLUEGREEN_WORK_DIR)"),
                    "{cmd:?}\n{e}"
                );
                assert!(e.contains(&root.display().to_string()), "{cmd:?}\n{e}");
                assert!(e.contains(&why), "{cmd:?}: want {why}\n{e}");
                assert!(e.contains("fix: pass --work-dir DIR"), "{cmd:?}\n{e}");
            }
        }
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me\n");
    assert!(!tmp.path().join("unused").exists());
}

#[test]
fn item_13_env_file_path_is_accepted_or_explained() {
    let work = common::temp_workdir();
    // The environment file itself means its directory.
    for arg in [
        "environments/local/bluegreen.hcl",
        "./environments/local/bluegreen.hcl",
    ] {
        let out = Bluegreen::offline(work.path())
            .args(["validate", "--env", arg, "--output", "json"])
            .timeout(QUICK)
            .run();
        out.assert_code(0);
        let result = out.stdout_json();
        assert_eq!(result["env"], "local", "{arg}");
        assert_eq!(result["valid"], true, "{arg}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let abs = local_env(tmp.path(), 1, "").join("bluegreen.hcl");
    Bluegreen::offline(work.path())
        .args(["validate", "--env", abs.to_str().unwrap()])
        .timeout(QUICK)
        .run()
        .assert_code(0);
    assert!(files(work.path()).is_empty());

    // Any other file is explained as such, not as "does not exist".
    let other = tmp.path().join("local").join("notes.hcl");
    std::fs::write(&other, "# notes\n").unwrap();
    let stderr = refused_offline(&["validate", "--env", other.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "--env {}: that is a file, not an environment directory",
            other.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn item_13_env_name_with_newline_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // With a workspace prefix, so the name is not refused for that reason.
    let env = local_env(tmp.path(), 1, "state {\n  workspace_prefix = \"ok\"\n}\n");
    let bad = tmp.path().join("bad\nname");
    std::fs::rename(&env, &bad).unwrap();
    let bad_arg = bad.to_str().unwrap();
    for cmd in [
        vec!["validate", "--env", bad_arg],
        vec!["deploy", "--env", bad_arg, "--image", "nginx:1.27"],
    ] {
        let stderr = refused_offline(&cmd);
        assert!(
            stderr.contains("environment name \"bad\\nname\" is not allowed"),
            "{cmd:?}\n{stderr}"
        );
        assert!(!stderr.contains("bad\nname"), "printed raw:\n{stderr}");
        assert!(
            stderr.contains("fix: rename the environment directory, e.g. to `bad-name`"),
            "{stderr}"
        );
    }
    // As a name under environments/: the same rule, escaped too.
    let stderr = refused_offline(&["validate", "--env", "local\n"]);
    assert!(
        stderr.contains("environment name \"local\\n\" is not allowed"),
        "{stderr}"
    );
}

/// The stderr lines that belong to the error (from the line starting `error: ` on; log lines
/// come before it).
fn error_text(stderr: &str) -> &str {
    let at = if stderr.starts_with("error: ") {
        0
    } else {
        stderr
            .find("\nerror: ")
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no error:\n{stderr}"))
    };
    &stderr[at..]
}

#[test]
fn item_13_sdk_errors_are_one_line() {
    let emulator = Emulator::start();
    let tmp = tempfile::tempdir().unwrap();
    // A journal table that does not exist: DynamoDB answers ResourceNotFoundException, whose
    // raw response (headers, body) the SDK's debug form carries.
    let env = local_env(
        tmp.path(),
        1,
        "journal {\n  backend = \"dynamodb\"\n  table = \"no-such-table\"\n}\n",
    );
    let work = common::temp_workdir();
    let out = Bluegreen::new(&emulator, work.path())
        .args(["history", "--env", env.to_str().unwrap()])
        .timeout(QUICK)
        .run();
    out.assert_code(4);
    let error = error_text(&out.stderr);
    assert!(error.contains("ResourceNotFoundException"), "{error}");
    assert!(error.contains("no-such-table"), "{error}");
    assert!(error.lines().count() <= 3, "{error}");
    assert!(
        error.lines().all(|l| l.len() <= 400),
        "{} bytes:\n{error}",
        error.len()
    );
    for dump in [
        "raw:",
        "headers",
        "SdkBody",
        "ServiceError {",
        "ErrorMetadata {",
    ] {
        assert!(!error.contains(dump), "{dump} in:\n{error}");
    }
    // The detail is still there for who asks for it.
    let out = Bluegreen::new(&emulator, work.path())
        .args(["-vv", "history", "--env", env.to_str().unwrap()])
        .timeout(QUICK)
        .run();
    out.assert_code(4);
    assert!(
        out.stderr.contains("DynamoDB call failed"),
        "{}",
        out.stderr
    );
    assert!(
        error_text(&out.stderr).lines().count() <= 3,
        "{}",
        out.stderr
    );

    // Nothing reachable at all: the transport failure, also on one line.
    let out = Bluegreen::offline(work.path())
        .args(["history", "--env", env.to_str().unwrap()])
        .timeout(QUICK)
        .run();
    out.assert_code(4);
    let error = error_text(&out.stderr);
    assert!(error.lines().count() <= 3, "{error}");
    assert!(!error.contains("DispatchFailure {"), "{error}");
    assert!(!error.contains("ConnectorError {"), "{error}");
}

/// Issue 14, "Region, one source of truth": an `AWS_REGION` or a var file's `region` that
/// disagrees with the environment file is bad input (exit 2, naming both and the fix), never a
/// silent override; nothing is written. `validate` (no AWS, no Terraform) does not care.
/// Real: the binary and the repository's `local` environment; AWS is a closed port (offline).
#[test]
fn issue14_a_second_region_that_disagrees_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let run = |region: &str, args: &[&str]| {
        Bluegreen::offline(work.path())
            .env("AWS_REGION", region)
            .args(args)
            .timeout(QUICK)
            .run()
    };
    let out = run("eu-west-1", &["status", "--env", "local"]);
    out.assert_code(2);
    for needle in [
        "`AWS_REGION` is \"eu-west-1\"",
        "environments/local/bluegreen.hcl says region = \"us-east-1\"",
        "fix:",
    ] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    assert!(
        files(work.path()).is_empty(),
        "wrote {:?}",
        files(work.path())
    );
    run("eu-west-1", &["validate", "--env", "local"]).assert_code(0);

    // A var file that names another region.
    let tmp = tempfile::tempdir().unwrap();
    let vars = tmp.path().join("other-region.tfvars");
    let service =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("environments/local-fast/service.tfvars");
    let text = std::fs::read_to_string(service).unwrap();
    std::fs::write(&vars, format!("{text}\nregion = \"ap-south-1\"\n")).unwrap();
    let env = env_with_service_var_file(tmp.path(), &vars);
    let env_arg = env.display().to_string();
    let out = run("us-east-1", &["status", "--env", &env_arg]);
    out.assert_code(2);
    assert!(out.stderr.contains("sets region = \"ap-south-1\""), "{out}");
    assert!(files(work.path()).is_empty());
}

/// Issue 14: `TF_WORKSPACE` and `TF_CLI_ARGS*` would pick another workspace or add arguments no
/// logged command shows; bluegreen removes them from every Terraform command, and says so once.
/// Real: the binary and Terraform (status reads the shared stack's outputs); AWS is a closed
/// port (offline), and nothing was deployed.
#[test]
fn issue14_terraform_overrides_in_the_environment_are_named_not_dropped_silently() {
    let work = common::temp_workdir();
    let status = |vars: &[(&str, &str)]| {
        let mut run = Bluegreen::offline(work.path())
            .env_remove("TF_WORKSPACE")
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_CLI_ARGS_plan");
        for (k, v) in vars {
            run = run.env(k, v);
        }
        run.args(["status", "--env", "local-fast"])
            .timeout(QUICK)
            .run()
    };
    let out = status(&[("TF_WORKSPACE", "oops"), ("TF_CLI_ARGS_plan", "-target=x")]);
    let warnings: Vec<_> = out
        .stderr
        .lines()
        .filter(|l| l.contains("ignoring TF_WORKSPACE"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning, naming both:\n{out}");
    assert!(
        warnings[0].contains("ignoring TF_WORKSPACE, TF_CLI_ARGS_plan:"),
        "{out}"
    );
    // The status itself is what it is without them: nothing deployed yet.
    assert!(
        out.stdout.contains("UNKNOWN") || out.stderr.contains("UNKNOWN"),
        "{out}"
    );
    let clean = status(&[]);
    assert!(!clean.stderr.contains("ignoring"), "{clean}");
}

/// Issue 14: a hint names the environment as the user did. With `--env ./path`, a hint that said
/// `--env local` would name a different environment (one under environments/ that shares the
/// directory's name, with the same work directory and journal). Real: the binary and the local
/// journal; nothing runs Terraform or calls AWS (promote with nothing running is refused first).
#[test]
fn issue14_hints_name_the_environment_as_it_was_given() {
    let tmp = tempfile::tempdir().unwrap();
    let parent = tmp.path().join("my envs");
    let env = local_env(&parent, 1, "");
    let work = common::temp_workdir();
    let hint = |out: &common::Outcome| {
        out.stderr
            .lines()
            .find(|l| l.contains("fix: start one:"))
            .unwrap_or_else(|| panic!("no hint\n{out}"))
            .to_owned()
    };
    // A path (with a space): the hint repeats it, quoted for a shell.
    let out = Bluegreen::offline(work.path())
        .env_remove("BLUEGREEN_ENVIRONMENTS_DIR")
        .args(["promote", "--env", env.to_str().unwrap()])
        .timeout(QUICK)
        .run();
    out.assert_code(7);
    let quoted = format!("--env '{}' --image IMAGE", env.display());
    assert!(hint(&out).contains(&quoted), "{}", hint(&out));
    // A name looked up in another environments directory: the hint names the directory too.
    let out = Bluegreen::offline(work.path())
        .env_remove("BLUEGREEN_ENVIRONMENTS_DIR")
        .args(["--environments-dir", parent.to_str().unwrap()])
        .args(["promote", "--env", "local"])
        .timeout(QUICK)
        .run();
    out.assert_code(7);
    let named = format!(
        "--env local --environments-dir '{}' --image",
        parent.display()
    );
    assert!(hint(&out).contains(&named), "{}", hint(&out));
}
