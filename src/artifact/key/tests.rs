use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Barrier};

use super::*;

const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn counting() -> [u8; KEY_LEN] {
    std::array::from_fn(|i| i as u8)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn key_error(result: Result<(PlanKey, KeySource), ArtifactError>) -> (String, String, String) {
    match result {
        Err(ArtifactError::Key {
            source_desc,
            reason,
            fix,
        }) => (source_desc, reason, fix),
        other => panic!("expected a key error, got {other:?}"),
    }
}

#[test]
fn the_key_id_is_the_start_of_the_keys_sha256() {
    // sha256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
    assert_eq!(
        PlanKey::from_bytes([0; KEY_LEN]).key_id(),
        "66687aadf862bd77"
    );
}

#[test]
fn debug_shows_the_key_id_not_the_key() {
    let key = PlanKey::from_bytes(counting());
    let shown = format!("{key:?} {:?}", (key.clone(), KeySource::Env));
    assert!(shown.contains(&key.key_id()), "{shown}");
    assert!(!shown.contains("0a0b0c"), "{shown}");
    assert!(!shown.contains("10, 11, 12"), "{shown}");
}

#[test]
fn the_variable_wins_in_hex_or_base64_and_no_file_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys/plan.key");
    let b64 = base64::engine::general_purpose::STANDARD.encode(counting());
    for value in [HEX.to_owned(), HEX.to_uppercase(), format!("{HEX}\n"), b64] {
        let (key, source) = PlanKey::load_from(Some(&value), &file).unwrap();
        assert_eq!(key, PlanKey::from_bytes(counting()), "{value}");
        assert_eq!(source, KeySource::Env);
    }
    assert!(!file.exists());
    assert!(!dir.path().join("keys").exists());
}

#[test]
fn a_bad_or_empty_variable_is_refused_naming_it_without_echoing_it() {
    let file = Path::new("/nonexistent/plan.key");
    for value in [
        "",
        "   ",
        &HEX[..63],
        "zz02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",
        "aGVsbG8=",
    ] {
        let (source, reason, fix) = key_error(PlanKey::load_from(Some(value), file));
        assert_eq!(source, "BLUEGREEN_PLAN_KEY");
        assert!(
            value.trim().is_empty() || !reason.contains(value.trim()),
            "{reason}"
        );
        assert!(fix.contains("openssl rand -hex 32"), "{fix}");
    }
    let err = PlanKey::load_from(Some(""), file).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "plan key from BLUEGREEN_PLAN_KEY: it is empty\n  fix: set BLUEGREEN_PLAN_KEY"
        ),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_created_private_and_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config/bluegreen/plan.key");
    let (created, source) = PlanKey::load_from(None, &file).unwrap();
    assert_eq!(source, KeySource::Created(file.clone()));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(text, format!("{}\n", hex::encode(created.bytes())));
    let (again, source) = PlanKey::load_from(None, &file).unwrap();
    assert_eq!(source, KeySource::File(file.clone()));
    assert_eq!(again, created);
    // Only the key file is left: no temporary files.
    assert_eq!(fs::read_dir(file.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn an_existing_file_is_read_with_or_without_a_newline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.key");
    for text in [format!("{HEX}\n"), HEX.to_owned(), format!("  {HEX}\r\n")] {
        fs::write(&file, &text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let (key, source) = PlanKey::load_from(None, &file).unwrap();
        assert_eq!(key, PlanKey::from_bytes(counting()));
        assert_eq!(source, KeySource::File(file.clone()));
    }
}

#[test]
fn a_file_others_can_read_is_refused_with_chmod_600() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.key");
    fs::write(&file, HEX).unwrap();
    for bad in [0o644, 0o640, 0o604, 0o660, 0o602] {
        fs::set_permissions(&file, fs::Permissions::from_mode(bad)).unwrap();
        let (source, reason, fix) = key_error(PlanKey::load_from(None, &file));
        assert!(source.contains(&file.display().to_string()), "{source}");
        assert!(reason.contains(&format!("{bad:03o}")), "{reason}");
        assert!(
            fix.starts_with(&format!("`chmod 600 {}`", file.display())),
            "{fix}"
        );
    }
}

#[test]
fn a_malformed_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.key");
    for text in ["", "not a key\n", &HEX[2..]] {
        fs::write(&file, text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let err = PlanKey::load_from(None, &file).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("plan key from the key file {}: ", file.display())),
            "{message}"
        );
        assert!(message.contains("\n  fix: restore the file"), "{message}");
    }
}

#[test]
fn an_unreadable_path_is_an_io_error_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    let file = blocker.join("plan.key");
    let err = PlanKey::load_from(None, &file).unwrap_err();
    assert!(matches!(err, ArtifactError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn threads_racing_to_create_the_file_all_get_the_same_key() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(dir.path().join("race/plan.key"));
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (file, barrier) = (Arc::clone(&file), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    PlanKey::load_from(None, &file).unwrap()
                })
            })
            .collect();
        let results: Vec<(PlanKey, KeySource)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let on_disk = PlanKey::load_from(None, &file).unwrap().0;
        assert!(results.iter().all(|(key, _)| *key == on_disk));
        let created = results
            .iter()
            .filter(|(_, source)| matches!(source, KeySource::Created(_)))
            .count();
        assert_eq!(created, 1);
        assert_eq!(fs::read_dir(file.parent().unwrap()).unwrap().count(), 1);
    }
}
