//! Unit tests of the keys file: what `keys add` appends reads back, and broken files are refused.

use super::*;
use crate::auth::secret::generate_key;

fn entry(name: &str) -> KeyEntry {
    KeyEntry {
        name: name.into(),
        hash: generate_key().1.to_string(),
        scopes: vec![Scope::Publish, Scope::Read],
        topics: vec!["orders.".into(), "payments.".into()],
        quota: Some(Quota {
            events_per_second: NonZeroU32::new(500).unwrap(),
            burst: NonZeroU32::new(1000),
        }),
    }
}

#[test]
fn appended_keys_read_back_as_written_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    let first = entry("checkout");
    let second = KeyEntry {
        topics: Vec::new(),
        quota: None,
        ..entry("ops")
    };
    append_key(&path, &first).unwrap();
    append_key(&path, &second).unwrap();
    assert_eq!(read_keys_file(&path).unwrap(), vec![first, second]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
}

#[test]
fn a_taken_name_is_refused_and_the_file_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    append_key(&path, &entry("checkout")).unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    let err = append_key(&path, &entry("checkout")).unwrap_err();
    assert!(err.to_string().contains("used twice"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
}

#[test]
fn broken_files_are_refused_with_the_reason() {
    let digest = generate_key().1;
    let cases = [
        ("[[key]]\nname = \"a\"\n", "missing field"),
        (
            &format!("[[key]]\nname = \"a b\"\nhash = \"{digest}\"\nscopes = [\"read\"]\n"),
            "key name",
        ),
        (
            &format!("[[key]]\nname = \"a\"\nhash = \"{digest}\"\nscopes = []\n"),
            "at least one",
        ),
        (
            "[[key]]\nname = \"a\"\nhash = \"sha256:12\"\nscopes = [\"read\"]\n",
            "64 hex digits",
        ),
        (
            &format!("[[key]]\nname = \"a\"\nhash = \"{digest}\"\nscopes = [\"write\"]\n"),
            "unknown variant",
        ),
        (
            &format!(
                "[[key]]\nname = \"a\"\nhash = \"{digest}\"\nscopes = [\"read\"]\n\
                 [[key]]\nname = \"b\"\nhash = \"{digest}\"\nscopes = [\"read\"]\n"
            ),
            "same hash",
        ),
        (
            &format!("[[key]]\nname = \"a\"\nhash = \"{digest}\"\nscopes = [\"read\"]\nquota = {{ events_per_second = 0 }}\n"),
            "nonzero",
        ),
        (
            &format!("[[key]]\nname = \"a\"\nhash = \"{digest}\"\nscopes = [\"read\"]\ntopics = [\"orders.\", \"\"]\n"),
            "empty topic prefix",
        ),
    ];
    for (text, expected) in cases {
        let err = parse_keys(text).unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
    assert_eq!(parse_keys("").unwrap(), Vec::new());
}
