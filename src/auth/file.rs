//! The keys file: one TOML table per API key, read at start and on reload, appended to by
//! `aggregator keys add`. It never holds a key, only its digest:
//!
//! ```toml
//! [[key]]
//! name = "checkout"
//! hash = "sha256:5f0c…"
//! scopes = ["publish"]
//! topics = ["orders.", "payments."]   # optional: every topic when absent
//! quota = { events_per_second = 500, burst = 1000 }   # optional: no limit when absent
//! ```

use std::io::Write;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scope::Scope;
use super::secret::KeyDigest;

/// Longest key name, in characters (names are metric labels and log fields).
pub const MAX_NAME_CHARS: usize = 64;

/// Written at the top of a keys file that `aggregator keys add` creates.
const HEADER: &str = "# API keys of the aggregator: one [[key]] table each. Only SHA-256 digests \
of keys are stored here.\n# `aggregator keys add` appends entries; edit or delete entries by \
hand, then send SIGHUP (or wait a few seconds).\n";

/// One API key's grant, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Who holds the key: unique in the file, shown in logs and metrics.
    pub name: String,
    /// `sha256:` and the hex digest of the key.
    pub hash: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// Topic prefixes the key may publish to and read from; every topic when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Events per second the key may publish; no limit when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}

/// A publish rate: a token bucket of `burst` events refilled at `events_per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Sustained events per second.
    pub events_per_second: NonZeroU32,
    /// Most events accepted at once after a pause (and the largest batch the key can send);
    /// `events_per_second` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<NonZeroU32>,
}

impl Quota {
    /// The bucket's size.
    pub fn burst_size(&self) -> NonZeroU32 {
        self.burst.unwrap_or(self.events_per_second)
    }
}

/// The file as TOML sees it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysDocument {
    #[serde(default)]
    key: Vec<KeyEntry>,
}

/// Reads and checks the keys file at `path`: a missing file is an error (a server told to use
/// keys must not start open).
pub fn read_keys_file(path: &Path) -> Result<Vec<KeyEntry>, KeysError> {
    let text = std::fs::read_to_string(path).map_err(|error| KeysError::Unreadable {
        path: path.to_owned(),
        error,
    })?;
    parse_keys(&text).map_err(|reason| invalid(path, reason))
}

/// Appends `entry` to the keys file at `path`, creating it (readable by its owner only) when
/// absent. Refuses an entry whose name is taken or that the file could not read back.
pub fn append_key(path: &Path, entry: &KeyEntry) -> Result<(), KeysError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(KeysError::Unreadable {
                path: path.to_owned(),
                error,
            })
        }
    };
    let mut entries = match &existing {
        Some(text) => parse_keys(text).map_err(|reason| invalid(path, reason))?,
        None => Vec::new(),
    };
    entries.push(entry.clone());
    check_entries(&entries).map_err(|reason| invalid(path, reason))?;
    let table = toml::to_string(&KeysDocument {
        key: vec![entry.clone()],
    })
    .map_err(|err| invalid(path, err.to_string()))?;
    let mut text = String::new();
    match &existing {
        None => text.push_str(HEADER),
        Some(before) if !before.is_empty() && !before.ends_with('\n') => text.push('\n'),
        Some(_) => {}
    }
    text.push('\n');
    text.push_str(&table);
    let unwritable = |error| KeysError::Unwritable {
        path: path.to_owned(),
        error,
    };
    let mut file = open_for_append(path).map_err(unwritable)?;
    file.write_all(text.as_bytes()).map_err(unwritable)?;
    file.sync_all().map_err(unwritable)
}

#[cfg(unix)]
fn open_for_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_for_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
}

fn invalid(path: &Path, reason: String) -> KeysError {
    KeysError::Invalid {
        path: PathBuf::from(path),
        reason,
    }
}

/// Parses and checks a keys file's text.
pub fn parse_keys(text: &str) -> Result<Vec<KeyEntry>, String> {
    let document: KeysDocument = toml::from_str(text).map_err(|err| err.to_string())?;
    check_entries(&document.key)?;
    Ok(document.key)
}

/// What TOML cannot say: names valid and unique, scopes present, digests well formed and
/// distinct (two entries with one digest would make a key's grant ambiguous).
fn check_entries(entries: &[KeyEntry]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    let mut digests = std::collections::HashSet::new();
    for entry in entries {
        check_name(&entry.name)?;
        let at = format!("key {:?}", entry.name);
        if !names.insert(entry.name.as_str()) {
            return Err(format!("{at}: the name is used twice"));
        }
        if entry.scopes.is_empty() {
            return Err(format!(
                "{at}: scopes must name at least one of publish, read, admin"
            ));
        }
        KeyDigest::parse(&entry.hash).map_err(|reason| format!("{at}: hash: {reason}"))?;
        if !digests.insert(entry.hash.to_ascii_lowercase()) {
            return Err(format!("{at}: another key has the same hash"));
        }
        if entry.topics.iter().any(|prefix| prefix.contains('\0')) {
            return Err(format!("{at}: a topic prefix contains the NUL character"));
        }
        // An empty prefix would match every topic: a typo must not widen a key to all of them
        // (leave `topics` out for that).
        if entry.topics.iter().any(String::is_empty) {
            return Err(format!(
                "{at}: an empty topic prefix would match every topic; leave `topics` out to grant all"
            ));
        }
    }
    Ok(())
}

/// A name is 1 to [`MAX_NAME_CHARS`] letters, digits, `.`, `_` or `-`: safe as a metric label
/// and in a log line.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=MAX_NAME_CHARS).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "key name {name:?}: use 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-'"
        ))
    }
}

// Why a keys file could not be read, understood or written. A broken file at start stops the
// server; a broken file on reload keeps the keys in force and is logged.

/// Every way reading or writing a keys file can fail. Messages name the file and never hold
/// a key (the file holds none).
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The file could not be read.
    #[error("cannot read the keys file {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, not a separate cause, so it is said once).
        error: std::io::Error,
    },
    /// The file is not a valid keys file.
    #[error("the keys file {} is not valid: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write the keys file {}: {error}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, not a separate cause, so it is said once).
        error: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
