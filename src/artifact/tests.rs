use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::document::canonical;
use super::*;

const SECRET: &str = "hunter2-super-secret";

fn key(byte: u8) -> PlanKey {
    PlanKey::from_bytes([byte; KEY_LEN])
}

fn body() -> Value {
    json!({
        "image": { "repository": "app", "digest": "sha256:abc" },
        "colors": { "from": "blue", "to": "green" },
        "schedule": [10, 50, 100],
        "summary": { "add": 1, "change": 2, "destroy": 0 },
    })
}

fn plan_bytes() -> Vec<u8> {
    format!("PK\u{3}\u{4} terraform plan; variable db_password = \"{SECRET}\"; end").into_bytes()
}

fn sealed() -> Vec<u8> {
    seal(&body(), &plan_bytes(), &key(7)).unwrap().bytes
}

/// Re-writes `bytes` as `seal` would, after `edit`, with the checksum recomputed: what a
/// forger without the key can do.
fn forge(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(bytes).unwrap();
    edit(&mut value);
    let mut doc = document::Document::from_value(value).unwrap();
    doc.checksum = doc.compute_checksum();
    doc.to_bytes()
}

#[test]
fn round_trip_gives_back_the_body_and_the_plan_bytes() {
    let k = key(7);
    let bytes = sealed();
    let shown = inspect(&bytes).unwrap();
    assert_eq!(shown.body, body());
    assert_eq!(shown.key_id, k.key_id());
    assert!(shown.checksum.starts_with("sha256:"), "{}", shown.checksum);
    let (opened, plan) = open(&bytes, &k).unwrap();
    assert_eq!(opened, shown);
    assert_eq!(plan, plan_bytes());
}

#[test]
fn round_trip_keeps_unusual_bodies_and_empty_or_binary_plans() {
    let k = key(1);
    let bodies = [
        json!({ "z": 1, "a": { "y": [1.5, -0.25, 1e300, 0.1], "b": null }, "é": "ü\u{2028}\u{1}\"\\" }),
        json!([]),
        json!("just a string"),
        json!({}),
    ];
    let plans: [Vec<u8>; 3] = [vec![], (0..=255).collect(), vec![0; 100_000]];
    for body in &bodies {
        for plan in &plans {
            let bytes = seal(body, plan, &k).unwrap().bytes;
            let (opened, got) = open(&bytes, &k).unwrap();
            assert_eq!(&opened.body, body);
            assert_eq!(&got, plan);
        }
    }
}

#[test]
fn the_file_is_the_documented_layout() {
    let bytes = sealed();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        text.starts_with("{\n  \"format\": \"bluegreen-plan\",\n  \"version\": 1,\n  \"body\": {\n    \"colors\": {"),
        "{text}"
    );
    assert!(text.ends_with("\"\n}\n"), "{text}");
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    let plan = value["terraform_plan"].as_object().unwrap();
    let fields: Vec<&str> = plan.keys().map(String::as_str).collect();
    assert_eq!(fields, ["ciphertext", "encryption", "key_id", "nonce"]);
    assert_eq!(plan["encryption"], "AES-256-GCM");
    assert_eq!(plan["key_id"], key(7).key_id());
    assert_eq!(
        BASE64
            .decode(plan["nonce"].as_str().unwrap())
            .unwrap()
            .len(),
        12
    );
    // The checksum, computed independently of `Document`.
    let mut rest = value.clone();
    rest.as_object_mut().unwrap().remove("checksum");
    let digest = super::crypto::sha256(&canonical(&rest));
    assert_eq!(value["checksum"], format!("sha256:{}", hex::encode(digest)));
}

#[test]
fn every_seal_uses_a_fresh_nonce() {
    let (a, b) = (sealed(), sealed());
    assert_ne!(a, b);
    let nonce = |bytes: &[u8]| {
        serde_json::from_slice::<Value>(bytes).unwrap()["terraform_plan"]["nonce"].clone()
    };
    assert_ne!(nonce(&a), nonce(&b));
    assert_eq!(open(&a, &key(7)).unwrap().1, open(&b, &key(7)).unwrap().1);
}

/// The acceptance test: a tampered artifact (one byte) is refused.
#[test]
fn every_one_byte_change_is_refused_by_inspect_and_open() {
    let k = key(7);
    let original = seal(&json!({ "to": "green", "weights": [10, 100] }), b"plan", &k)
        .unwrap()
        .bytes;
    every_one_byte_change_is_refused(&original, &k);
}

/// The same for an artifact sealed as `plan` seals one (issue 16): part of the body spliced in
/// as canonical text.
#[test]
fn every_one_byte_change_of_a_spliced_artifact_is_refused() {
    let k = key(7);
    let raw =
        serde_json::value::RawValue::from_string(r#"{"a":[1,2.5,"x"],"b":{"c":null}}"#.to_owned())
            .unwrap();
    let body = json!({ "to": "green", "plan": null });
    let splice = Spliced {
        pointer: "/plan",
        raw: &raw,
    };
    let mut original = Vec::new();
    seal_to(&body, Some(splice), b"plan", &k, &mut original).unwrap();
    let opened = inspect(&original).unwrap();
    assert_eq!(
        opened.body["plan"],
        json!({"a": [1, 2.5, "x"], "b": {"c": null}})
    );
    every_one_byte_change_is_refused(&original, &k);
}

fn every_one_byte_change_is_refused(original: &[u8], k: &PlanKey) {
    let (original, k) = (original.to_vec(), k.clone());
    let replacements: [fn(u8) -> u8; 4] = [
        |b| b.wrapping_add(1),
        |b| if b == b' ' { b'\t' } else { b' ' },
        |b| if b == b'0' { b'1' } else { b'0' },
        |_| 0xff,
    ];
    let mut kinds = std::collections::BTreeSet::new();
    let mut tried = 0;
    for i in 0..original.len() {
        let mut variants: Vec<Vec<u8>> = replacements
            .iter()
            .map(|replace| {
                let mut bytes = original.clone();
                bytes[i] = replace(bytes[i]);
                bytes
            })
            .collect();
        let mut deleted = original.clone();
        deleted.remove(i);
        variants.push(deleted);
        let mut inserted = original.clone();
        inserted.insert(i, b' ');
        variants.push(inserted);
        for bytes in variants.iter().filter(|b| **b != original) {
            tried += 1;
            let err = inspect(bytes).expect_err(&format!("inspect accepted a change at byte {i}"));
            assert!(
                open(bytes, &k).is_err(),
                "open accepted a change at byte {i}"
            );
            assert!(err.to_string().contains("\n  fix: "), "{err}");
            kinds.insert(
                format!("{err:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert!(tried > 5 * original.len(), "{tried}");
    for kind in [
        "NotJson",
        "NotCanonical",
        "ChecksumMismatch",
        "UnsupportedVersion",
    ] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
}

#[test]
fn a_reformatted_artifact_names_the_first_byte_that_differs() {
    let bytes = sealed();
    let mut edited = bytes.clone();
    // A third space of indentation before `"format"`: the file differs where `"` should be.
    edited.insert(2, b' ');
    let err = inspect(&edited).unwrap_err();
    assert!(
        matches!(
            err,
            ArtifactError::NotCanonical {
                byte: 4,
                line: 2,
                column: 3
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.starts_with("the plan artifact was modified after it was written (byte 4, line 2, column 3, differs"), "{message}");
    assert!(
        message.contains("fix: make a new plan with `bluegreen plan`"),
        "{message}"
    );
}

#[test]
fn an_edited_value_is_a_checksum_mismatch() {
    let bytes = sealed();
    let text = String::from_utf8(bytes)
        .unwrap()
        .replace("\"green\"", "\"bluee\"");
    let err = inspect(text.as_bytes()).unwrap_err();
    assert!(
        matches!(err, ArtifactError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("its checksum is sha256:"), "{err}");
}

#[test]
fn a_forged_body_with_a_recomputed_checksum_passes_inspect_but_not_open() {
    let k = key(7);
    let forged = forge(&sealed(), |v| v["body"]["colors"]["to"] = json!("blue"));
    let shown = inspect(&forged).expect("a recomputed checksum passes the keyless checks");
    assert_eq!(shown.body["colors"]["to"], "blue");
    let err = open(&forged, &k).unwrap_err();
    assert!(
        matches!(&err, ArtifactError::Tampered { key_id } if *key_id == k.key_id()),
        "{err:?}"
    );
    assert!(err.to_string().contains("do not apply it"), "{err}");
}

#[test]
fn a_ciphertext_moved_to_another_body_does_not_open() {
    let k = key(7);
    let other = seal(&json!({ "colors": { "to": "blue" } }), b"another plan", &k)
        .unwrap()
        .bytes;
    let other: Value = serde_json::from_slice(&other).unwrap();
    let forged = forge(&sealed(), |v| {
        v["terraform_plan"] = other["terraform_plan"].clone()
    });
    assert!(matches!(
        open(&forged, &k),
        Err(ArtifactError::Tampered { .. })
    ));
}

#[test]
fn a_wrong_key_names_both_key_ids_and_the_variable() {
    let err = open(&sealed(), &key(8)).unwrap_err();
    let (ours, theirs) = (key(8).key_id(), key(7).key_id());
    assert!(
        matches!(&err, ArtifactError::WrongKey { artifact_key_id, our_key_id }
            if *artifact_key_id == theirs && *our_key_id == ours),
        "{err:?}"
    );
    let message = err.to_string();
    for part in [theirs.as_str(), ours.as_str(), "BLUEGREEN_PLAN_KEY"] {
        assert!(message.contains(part), "{message}");
    }
}

#[test]
fn another_version_is_refused_naming_it_and_the_one_this_build_reads() {
    let text = String::from_utf8(sealed()).unwrap();
    for (version, shown) in [("2", "2"), ("0", "0"), ("\"1\"", "\"1\"")] {
        let edited = text.replacen("\"version\": 1,", &format!("\"version\": {version},"), 1);
        let err = inspect(edited.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ArtifactError::UnsupportedVersion { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "the plan artifact has format version {shown}; this bluegreen reads version 1 only"
            )),
            "{err}"
        );
    }
}

#[test]
fn other_documents_are_not_plan_artifacts() {
    let text = String::from_utf8(sealed()).unwrap();
    let cases = [
        text.replacen("bluegreen-plan", "bluegreen-plam", 1),
        "{\"format_version\": \"1.2\", \"terraform_version\": \"1.9.0\"}".into(),
        "[1, 2]".into(),
    ];
    for case in &cases {
        let err = inspect(case.as_bytes()).unwrap_err();
        assert!(
            matches!(err, ArtifactError::UnknownFormat { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("this file is not a bluegreen plan artifact"),
            "{err}"
        );
    }
    let err = inspect(b"PK\x03\x04 a terraform plan file").unwrap_err();
    assert!(matches!(err, ArtifactError::NotJson { .. }), "{err:?}");
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let bytes = sealed();
    let without = |path: &[&str]| {
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        let mut object = value.as_object_mut().unwrap();
        for part in &path[..path.len() - 1] {
            object = object[*part].as_object_mut().unwrap();
        }
        object.remove(path[path.len() - 1]);
        serde_json::to_vec_pretty(&value).unwrap()
    };
    for (path, field) in [
        (&["checksum"][..], "checksum"),
        (&["body"][..], "body"),
        (&["version"][..], "version"),
        (&["terraform_plan", "nonce"][..], "terraform_plan.nonce"),
    ] {
        let err = inspect(&without(path)).unwrap_err();
        assert!(
            matches!(&err, ArtifactError::Missing { field: f } if *f == field),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&format!("has no `{field}`")),
            "{err}"
        );
    }
    let mut extra: Value = serde_json::from_slice(&bytes).unwrap();
    extra["terraform_plan"]["plaintext_sha256"] = json!("00");
    let err = inspect(&serde_json::to_vec(&extra).unwrap()).unwrap_err();
    assert!(
        matches!(&err, ArtifactError::Invalid { field, .. } if field == "terraform_plan.plaintext_sha256"),
        "{err:?}"
    );
}

#[test]
fn forged_fields_behind_a_recomputed_checksum_are_refused() {
    let k = key(7);
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 4] = [
        ("terraform_plan.encryption", |v| {
            v["terraform_plan"]["encryption"] = json!("none")
        }),
        ("terraform_plan.nonce", |v| {
            v["terraform_plan"]["nonce"] = json!("AAAA")
        }),
        ("terraform_plan.ciphertext", |v| {
            v["terraform_plan"]["ciphertext"] = json!("!!")
        }),
        ("terraform_plan.key_id", |v| {
            v["terraform_plan"]["key_id"] = json!("KEY")
        }),
    ];
    for (field, edit) in edits {
        let forged = forge(&sealed(), edit);
        let err = open(&forged, &k).unwrap_err();
        assert!(
            matches!(&err, ArtifactError::Invalid { field: f, .. } if f == field),
            "{err:?}"
        );
    }
    let forged = forge(&sealed(), |v| {
        v["terraform_plan"]["nonce"] = json!(BASE64.encode([0u8; 12]))
    });
    assert!(matches!(
        open(&forged, &k),
        Err(ArtifactError::Tampered { .. })
    ));
}

#[test]
fn the_plan_plaintext_and_the_key_never_appear_in_the_artifact() {
    let k = key(7);
    let plan = plan_bytes();
    let text = String::from_utf8(seal(&body(), &plan, &k).unwrap().bytes).unwrap();
    assert!(!text.contains(SECRET));
    let secret = SECRET.as_bytes();
    for skip in 0..3 {
        let encoded = BASE64.encode(&secret[skip..]);
        // The last block depends on what follows the secret; everything before it does not.
        let stable = &encoded[..encoded.len() - 4];
        assert!(stable.len() >= 16);
        assert!(
            !text.contains(stable),
            "base64 of the secret (skip {skip}) is in the artifact"
        );
    }
    assert!(!text.contains(&BASE64.encode(&plan)[..20]));
    assert!(!text.contains(&hex::encode(k.bytes())));
    assert!(!text.contains(&BASE64.encode(k.bytes())[..40]));
}

#[test]
fn every_message_says_what_to_do() {
    let errors = [
        inspect(b"{").unwrap_err(),
        inspect(b"{}").unwrap_err(),
        open(&sealed(), &key(9)).unwrap_err(),
        ArtifactError::Seal { reason: "x".into() },
        ArtifactError::Random { reason: "x".into() },
    ];
    for err in errors {
        assert!(err.to_string().contains("\n  fix: "), "{err}");
    }
}

/// The streamed hashes are the hashes of the documented canonical forms, computed here from
/// whole values.
#[test]
fn the_streamed_digests_are_those_of_the_canonical_forms() {
    let bodies = [
        body(),
        json!({ "z": [1.5, -2, {"b": "\u{7f}\n", "a": null}], "é": true }),
        json!([]),
        json!("s"),
    ];
    for body in bodies {
        let bytes = seal(&body, b"plan", &key(3)).unwrap().bytes;
        let doc = document::Document::from_value(serde_json::from_slice(&bytes).unwrap()).unwrap();
        let (checksum, aad) = doc.digests();
        let mut rest: Value = serde_json::from_slice(&bytes).unwrap();
        rest.as_object_mut().unwrap().remove("checksum");
        let whole = super::crypto::sha256(&canonical(&rest));
        assert_eq!(checksum, format!("sha256:{}", hex::encode(whole)));
        let content = json!({ "format": FORMAT, "version": VERSION, "body": body });
        assert_eq!(aad, super::crypto::sha256(&canonical(&content)));
    }
}

/// Sealing opens by construction (no self-check): bodies whose floats serde_json reads back
/// differently are sealed as they read back, and the result is canonical.
#[test]
fn floats_are_sealed_as_readers_parse_them() {
    let k = key(2);
    let floats: Vec<f64> = (1..400)
        .map(|i| (i as f64) * 0.1 + 1.0 / (i as f64) * 1e-7 + (i as f64).powi(7) * 1e-300)
        .collect();
    let body = json!({ "f": floats, "tiny": 5e-324, "big": 1.7976931348623157e308 });
    let bytes = seal(&body, b"p", &k).unwrap().bytes;
    let (opened, _) = open(&bytes, &k).unwrap();
    let again = seal(&opened.body, b"p", &k).unwrap().bytes;
    assert_eq!(inspect(&again).unwrap().body, opened.body);
}

/// A body sealed with a part spliced in as canonical text is, byte for byte, the body sealed
/// whole (but the nonce, the ciphertext and the checksum over them): large spliced parts
/// (walked piece by piece), floats, escapes and keys out of order included.
#[test]
fn a_spliced_body_seals_to_the_bytes_of_the_whole_body() {
    let k = key(4);
    let resources: Vec<Value> = (0..300)
        .map(|i| {
            json!({"z": i, "address": format!("x.y[{i}]"), "f": (i as f64) * 0.1 + 1e-9,
                   "s": "quote \" tab \t é \u{1}", "nested": {"b": [true, null], "a": {}}})
        })
        .collect();
    let plans = [
        json!({"resource_changes": resources, "format_version": "1.2", "é": [[], {}]}),
        json!({"small": [1, 2.5]}),
        json!(null),
        json!([]),
    ];
    for plan in plans {
        let text = crate::iac::RedactedPlan::from_value(&plan);
        let whole = json!({ "env": "x", "terraform": { "redacted_plan": plan, "add": 1 } });
        let placeholder = json!({ "env": "x", "terraform": { "redacted_plan": null, "add": 1 } });
        let splice = Spliced {
            pointer: "/terraform/redacted_plan",
            raw: text.raw(),
        };
        let mut spliced = Vec::new();
        let checksum = seal_to(&placeholder, Some(splice), b"p", &k, &mut spliced).unwrap();
        let (opened, p) = open(&spliced, &k).unwrap();
        assert_eq!(p, b"p");
        assert_eq!(opened.checksum, checksum);
        let reference = seal(&whole, b"p", &k).unwrap().bytes;
        let mut doc =
            document::Document::from_value(serde_json::from_slice(&reference).unwrap()).unwrap();
        assert_eq!(opened.body, doc.body);
        let theirs =
            document::Document::from_value(serde_json::from_slice(&spliced).unwrap()).unwrap();
        doc.terraform_plan = theirs.terraform_plan;
        doc.checksum = theirs.checksum;
        assert_eq!(
            String::from_utf8(doc.to_bytes()).unwrap(),
            String::from_utf8(spliced).unwrap()
        );
    }
    // A pointer to nothing is refused, not sealed without the part.
    let raw = serde_json::value::RawValue::from_string("1".to_owned()).unwrap();
    let splice = Spliced {
        pointer: "/nowhere",
        raw: &raw,
    };
    assert!(seal_to(&json!({}), Some(splice), b"p", &k, &mut Vec::new()).is_err());
}
