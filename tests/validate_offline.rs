//! `validate` makes no AWS calls and writes nothing: it runs with the endpoint pointing at a
//! closed port and must leave the work directory untouched.

mod common;

use common::Bluegreen;

#[test]
fn validate_needs_no_aws_and_writes_nothing() {
    let work = common::temp_workdir();
    for env in ["local", "staging"] {
        let out = Bluegreen::offline(work.path())
            .args(["validate", "--env", env, "--output", "json"])
            .run();
        out.assert_code(0);
        assert_eq!(out.stdout_json()["valid"], true);
    }
    let written: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert!(written.is_empty(), "validate wrote {written:?}");
}

#[test]
fn validate_reports_a_root_that_breaks_the_contract() {
    let work = common::temp_workdir();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    // A root without a backend and without the contract outputs.
    std::fs::write(
        root.join("main.tf"),
        "output \"listener_arn\" { value = \"x\" }\n",
    )
    .unwrap();
    let env = tmp.path().join("broken");
    std::fs::create_dir_all(&env).unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        env.join("bluegreen.hcl"),
        format!(
            "region = \"us-east-1\"\nshared {{ root = \"{}\" }}\nservice {{ root = \"{repo}/modules/emulator/service\" }}\n",
            root.display()
        ),
    )
    .unwrap();
    let out = Bluegreen::offline(work.path())
        .args(["validate", "--env", env.to_str().unwrap()])
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("missing output `cluster_name`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("declares no backend"), "{}", out.stderr);
}
