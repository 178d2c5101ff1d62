//! Unit tests of [`AccessControl`] and [`Caller`]: keys held to their scopes and topics, reloads.

use std::io::Write;

use super::*;
use crate::auth::file::{append_key, KeyEntry};
use crate::auth::secret::generate_key;

fn add_key(path: &Path, name: &str, scopes: Vec<Scope>, topics: &[&str]) -> String {
    let (key, digest) = generate_key();
    let entry = KeyEntry {
        name: name.into(),
        hash: digest.to_string(),
        scopes,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        quota: None,
    };
    append_key(path, &entry).unwrap();
    key
}

#[test]
fn without_keys_anyone_may_do_anything() {
    let access = AccessControl::without_keys();
    let caller = access.authenticate(None).unwrap();
    assert!(caller.require(&[Scope::Admin]).is_ok());
    assert!(caller.may_reach("any.topic"));
    assert_eq!(access.reload().unwrap(), None);
}

#[test]
fn a_key_is_held_to_its_scopes_and_topics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    let key = add_key(&path, "reader", vec![Scope::Read], &["orders."]);
    let access = AccessControl::from_keys_file(&path).unwrap();
    assert_eq!(
        access.authenticate(None).unwrap_err(),
        Unauthenticated::Missing
    );
    assert_eq!(
        access.authenticate(Some("agg_nope")).unwrap_err(),
        Unauthenticated::Unknown
    );
    let caller = access.authenticate(Some(&key)).unwrap();
    assert_eq!(caller.key_name(), Some("reader"));
    assert!(caller.require(&[Scope::Read, Scope::Admin]).is_ok());
    let denied = caller.require(&[Scope::Publish]).unwrap_err();
    assert!(denied.to_string().contains("publish"), "{denied}");
    assert!(caller.require_topic("orders.1").is_ok());
    let outside = caller.require_topic("payments.1").unwrap_err();
    assert!(outside.to_string().contains("\"orders.\""), "{outside}");
}

#[test]
fn a_reload_revokes_and_adds_keys_and_a_broken_file_keeps_the_keys_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.toml");
    let old = add_key(&path, "old", vec![Scope::Publish], &[]);
    let access = AccessControl::from_keys_file(&path).unwrap();
    assert!(access.reload_if_changed().is_none(), "nothing changed yet");

    std::fs::remove_file(&path).unwrap();
    let new = add_key(&path, "new", vec![Scope::Publish], &[]);
    assert_eq!(access.reload().unwrap(), Some(1));
    assert!(access.authenticate(Some(&old)).is_err());
    assert!(access.authenticate(Some(&new)).is_ok());

    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"[[key]]\nname = \"broken\"\n").unwrap();
    drop(file);
    let outcome = access.reload_if_changed().expect("the file changed");
    assert!(outcome.is_err());
    assert!(
        access.authenticate(Some(&new)).is_ok(),
        "the keys in force stay"
    );
    assert!(
        access.reload_if_changed().is_none(),
        "a broken file is reported once"
    );
}

#[test]
fn a_missing_keys_file_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = AccessControl::from_keys_file(&dir.path().join("absent.toml")).unwrap_err();
    assert!(err.to_string().contains("absent.toml"), "{err}");
}
