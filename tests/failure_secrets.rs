//! End-to-end: a secret given to Terraform — in `service { vars }`, in a var file, in a
//! `TF_VAR_*` environment variable — never reaches what bluegreen prints, logs or records, on
//! success and on a failing plan: human output, `--output json`, `-vv` logs, the journal files
//! of the local backend and the items of the DynamoDB backend, `history`. Only Terraform's own
//! files (its state, its saved plans, its data and the module's scratch directory) may hold it,
//! and the saved plans are readable by their owner only. What Terraform itself prints of a
//! variable the module does not declare `sensitive` (a provisioner echoing its inputs) is
//! Terraform's, relayed as printed (docs/operations.md, "Secrets").
//!
//! The failing plan is the cheapest real one: a `service.vars` key the module does not declare
//! (Terraform: "Value for undeclared variable", exit 1), with the secret as its value — the
//! shape of issue 12's report (`vars = { api_token = "…" }`).
//!
//! Also issue 12 item 12 end to end: the work directory on a full tmpfs (where `mount` is
//! allowed) must be diagnosed as a full disk, not as a held state lock.

mod common;

use common::{files, Outcome};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

const CANARY: &str = "CANARY-7f3a9e";
const IN_VARS: &str = "CANARY-7f3a9e-vars";
const IN_FILE: &str = "CANARY-7f3a9e-file";
const IN_ENV: &str = "CANARY-7f3a9e-env";
const V1: &str = "public.ecr.aws/nginx/nginx:1.27";
const V2: &str = "public.ecr.aws/nginx/nginx:1.28";
const TABLE: &str = "bluegreen-secrets";

const FAST: &str = r#"health {
  timeout       = "20s"
  poll_interval = "200ms"
}
traffic { verify_timeout = "5s" }
strategy { type = "all-at-once" }
promotion {
  bake             = "0s"
  termination_wait = "0s"
}
"#;

/// The three output modes every run is made in.
const MODES: &[&[&str]] = &[&[], &["--output", "json"], &["-vv"]];

/// Panics when `text` (what `what` printed or stored) holds any canary.
fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "{what} leaks a secret:\n{}",
        text.lines()
            .filter(|l| l.contains(CANARY))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn assert_outcome_clean(out: &Outcome) {
    assert_clean(&format!("stdout of `{}`", out.command), &out.stdout);
    assert_clean(&format!("stderr of `{}`", out.command), &out.stderr);
}

/// Files under the work directory that Terraform (or the module it runs) owns: they may hold
/// variable values by design.
fn terraform_owned(work: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(work).unwrap();
    let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
    let _env = parts.next();
    let parts: Vec<String> = parts.collect();
    let tfplan = path.extension().is_some_and(|e| e == "tfplan");
    match parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["state", ..] => true,
        ["tf", _, "data" | "scratch", ..] => true,
        ["plans", ..] => tfplan,
        _ => false,
    }
}

fn saved_plans(work: &Path) -> Vec<PathBuf> {
    files(work)
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "tfplan"))
        .collect()
}

#[test]
fn item_06_sensitive_var_never_printed_or_journaled() {
    let w = common::EnvWorld::start(FAST, "secrets-test");
    let hcl_path = w.env.join("bluegreen.hcl");
    let bg = |cmd: &str, rest: &[&str], mode: &[&str]| {
        w.cmd(&[cmd], rest)
            .args(mode)
            .env("TF_VAR_db_password", IN_ENV)
            .run()
    };

    // A successful first deploy with a secret in every child's environment (the module
    // declares no `db_password`: Terraform ignores it).
    let out = bg("deploy", &["--image", V1], &["-vv"]);
    out.assert_code(0);
    assert_outcome_clean(&out);

    // A plan that fails with a secret on its command line (`service.vars`) and one in a var
    // file. The var file's goes to a declared variable, `environment`; it is not `sensitive`,
    // so once a plan gets that far Terraform itself prints it (the emulator module's
    // provisioner echoes its inputs): here the plan fails first, on the undeclared variable.
    let secrets = w.env.join("secrets.tfvars");
    std::fs::write(
        &secrets,
        format!("environment = {{\n  API_TOKEN = \"{IN_FILE}\"\n}}\n"),
    )
    .unwrap();
    let base = std::fs::read_to_string(&hcl_path).unwrap();
    let with_file = base.replacen(
        "service.tfvars\"]",
        &format!("service.tfvars\", \"{}\"]", secrets.display()),
        1,
    );
    assert_ne!(with_file, base, "the service var_files line moved: {base}");
    let with_vars = with_file.replacen(
        "desired_count = 2",
        &format!("desired_count = 2\n  vars = {{ api_token = \"{IN_VARS}\" }}"),
        1,
    );
    assert_ne!(with_vars, with_file);
    std::fs::write(&hcl_path, &with_vars).unwrap();
    let mut failures = Vec::new();
    for mode in MODES {
        failures.push(bg("deploy", &["--image", V2], mode));
        failures.push(bg("rebuild", &["--image", V2], mode));
    }
    for out in &failures {
        out.assert_code(3);
        assert_outcome_clean(out);
        // The command line is still there, with the variable's name.
        let both = format!("{}{}", out.stdout, out.stderr);
        assert!(
            both.contains("api_token=<redacted>") && both.contains("Value for undeclared variable"),
            "`{}` should show the failing command without its values:\n{both}",
            out.command
        );
    }
    for mode in MODES {
        let out = bg("history", &[], mode);
        out.assert_code(0);
        assert_outcome_clean(&out);
    }

    // The rebuilds' failures are journaled, without the value.
    let journal = files(&w.journal_dir());
    let text: String = journal
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        text.contains("\"type\":\"finished\"") && text.contains("api_token=<redacted>"),
        "no journaled failure:\n{text}"
    );
    for (path, bytes) in &journal {
        assert_clean(&path.display().to_string(), &String::from_utf8_lossy(bytes));
    }
    // Nothing bluegreen itself wrote anywhere in the work directory holds a secret.
    for (path, bytes) in files(w.work.path()) {
        if !terraform_owned(w.work.path(), &path) {
            assert_clean(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }

    // Saved plans hold every value: owner-only.
    let plans = saved_plans(w.work.path());
    assert!(
        !plans.is_empty(),
        "no saved plan under {}",
        w.work.path().display()
    );
    for plan in plans {
        let mode = std::fs::metadata(&plan).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", plan.display());
    }

    // The same failure with the DynamoDB backend: nothing of it in the table's items.
    w.emu.create_state_table(TABLE);
    std::fs::write(
        &hcl_path,
        format!("{with_vars}journal {{\n  backend = \"dynamodb\"\n  table   = \"{TABLE}\"\n}}\n"),
    )
    .unwrap();
    let out = bg("rebuild", &["--image", V2], &["-vv"]);
    out.assert_code(3);
    assert_outcome_clean(&out);
    let items = dynamo_items(&w.emu);
    assert!(
        items.contains("api_token=<redacted>"),
        "no journaled failure in the table:\n{items}"
    );
    assert_clean("the DynamoDB items", &items);
    let out = bg("history", &[], &["--output", "json"]);
    out.assert_code(0);
    assert_outcome_clean(&out);
}

/// Every item of the table, printed.
fn dynamo_items(emu: &common::Emulator) -> String {
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config());
    let out = emu
        .block_on(ddb.scan().table_name(TABLE).consistent_read(true).send())
        .expect("Scan");
    format!("{:#?}", out.items())
}

/// A tiny tmpfs, unmounted on drop. `None` where mounting is not allowed (not root, no
/// CAP_SYS_ADMIN): the full-disk diagnosis is then covered by the unit tests on Terraform's
/// real error texts only (src/iac/stderr.rs, src/iac/runner.rs).
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    fn mount() -> Option<TinyDisk> {
        let dir = tempfile::Builder::new()
            .prefix("bluegreen-full-disk-")
            .tempdir()
            .unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(TinyDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk is full.
    fn fill(&self) {
        use std::io::Write as _;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = [0u8; 4096];
        loop {
            if let Err(e) = f.write_all(&block).and_then(|()| f.sync_data()) {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                return;
            }
        }
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// The work directory on a full disk (the journal in DynamoDB, so Terraform is the first to
/// write there): the headline says the disk is full, not that a state lock is held.
#[test]
fn item_12_full_disk_is_diagnosed_as_full_disk_end_to_end() {
    let Some(disk) = TinyDisk::mount() else {
        eprintln!("SKIPPED: cannot mount a tmpfs here; the unit tests cover the diagnosis");
        return;
    };
    let journal = format!("journal {{\n  backend = \"dynamodb\"\n  table   = \"{TABLE}\"\n}}\n");
    let w = common::EnvWorld::start(&format!("{FAST}{journal}"), "full-disk-test");
    w.emu.create_state_table(TABLE);
    disk.fill();
    let out = common::Bluegreen::new(&w.emu, disk.path())
        .env("BLUEGREEN_USER", w.user)
        .args(["deploy", "--env", w.env.to_str().unwrap(), "--image", V1])
        .run();
    out.assert_code(3);
    let headline = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{}", out.stderr));
    assert!(
        headline.starts_with("error: the disk is full: ")
            && headline.ends_with("(no space left on device)"),
        "{}",
        out.stderr
    );
    let fix = format!(
        "fix: free space on the file system that holds {}",
        disk.path().display()
    );
    assert!(out.stderr.contains(&fix), "{}", out.stderr);
    assert!(
        out.stderr.contains("do not `force-unlock`"),
        "{}",
        out.stderr
    );
}
