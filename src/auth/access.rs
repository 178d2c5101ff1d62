//! [`AccessControl`]: whether API keys are in force, and the keys themselves, reloadable while
//! the server runs; [`Caller`]: who sent a request and what it may do. With no keys file every
//! caller may do everything (the zero-setup default, on loopback unless
//! `--allow-unauthenticated`: see `app.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::file::{read_keys_file, KeysError};
use super::keyring::{Grant, Keyring};
use super::quota::QuotaExceeded;
use super::scope::Scope;
use crate::event::TopicPrefixes;

/// Why a request has no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    /// No key in the request.
    #[error("an API key is required: send it as Authorization: Bearer <key> or X-API-Key")]
    Missing,
    /// A key that is not (or no longer) in the keys file.
    #[error("the API key is not valid")]
    Unknown,
}

/// Why a caller may not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The key lacks every scope the route accepts.
    #[error("the key {key:?} lacks the {needed} scope")]
    MissingScope {
        /// The key's name.
        key: String,
        /// The scopes the route accepts, e.g. `read or admin`.
        needed: String,
    },
    /// The key is limited to topic prefixes and the route shows every topic's figures.
    #[error("the key {key:?} is limited to topic prefixes: this route needs admin, or read on every topic")]
    LimitedToTopics {
        /// The key's name.
        key: String,
    },
    /// No API keys are in force and the client is not on this machine.
    #[error("without API keys, only a client on this machine (a loopback address) may {action}")]
    NotLocal {
        /// What was refused, e.g. `purge a topic`.
        action: &'static str,
    },
    /// The key may not reach this topic.
    #[error("the key {key:?} may not read topic {topic:?}: its topics start with {prefixes}")]
    TopicOutside {
        /// The key's name.
        key: String,
        /// The topic asked for.
        topic: String,
        /// The key's prefixes, for the message.
        prefixes: String,
    },
}

/// Who sent a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No keys are configured: anyone may do anything (a purge only from a loopback address).
    Anyone,
    /// A key from the keys file.
    Key(Arc<Grant>),
}

impl Caller {
    /// The key's name (`None` when no keys are configured).
    pub fn key_name(&self) -> Option<&str> {
        match self {
            Self::Anyone => None,
            Self::Key(grant) => Some(&grant.name),
        }
    }

    /// Passes when the caller holds one of `accepted`.
    pub fn require(&self, accepted: &[Scope]) -> Result<(), Denied> {
        let Self::Key(grant) = self else {
            return Ok(());
        };
        if accepted.iter().any(|&scope| grant.scopes.contains(scope)) {
            return Ok(());
        }
        let needed: Vec<&str> = accepted.iter().map(|scope| scope.as_str()).collect();
        Err(Denied::MissingScope {
            key: grant.name.clone(),
            needed: needed.join(" or "),
        })
    }

    /// Passes for an operation on `topic` as a whole (a purge): a key with the `admin` scope
    /// that may reach the topic; without API keys, only a client on this machine, since
    /// anybody else could then wipe any topic.
    pub fn require_operator(
        &self,
        topic: &str,
        from_loopback: bool,
        action: &'static str,
    ) -> Result<(), Denied> {
        match self {
            Self::Anyone if from_loopback => Ok(()),
            Self::Anyone => Err(Denied::NotLocal { action }),
            Self::Key(_) => {
                self.require(&[Scope::Admin])?;
                self.require_topic(topic)
            }
        }
    }

    /// The topics the caller may reach (every topic for [`Caller::Anyone`]).
    pub fn topics(&self) -> TopicPrefixes {
        match self {
            Self::Anyone => TopicPrefixes::any(),
            Self::Key(grant) => grant.topics.clone(),
        }
    }

    /// Whether the caller may publish to or read `topic`.
    pub fn may_reach(&self, topic: &str) -> bool {
        match self {
            Self::Anyone => true,
            Self::Key(grant) => grant.topics.contains(topic),
        }
    }

    /// Passes when the caller may read `topic`.
    pub fn require_topic(&self, topic: &str) -> Result<(), Denied> {
        match self {
            Self::Key(grant) if !grant.topics.contains(topic) => Err(Denied::TopicOutside {
                key: grant.name.clone(),
                topic: topic.into(),
                prefixes: describe_prefixes(&grant.topics),
            }),
            _ => Ok(()),
        }
    }

    /// Passes when the caller may reach every topic (no prefixes): for what shows the whole
    /// server, such as `/metrics`.
    pub fn require_every_topic(&self) -> Result<(), Denied> {
        match self {
            Self::Key(grant) if !grant.topics.is_any() => Err(Denied::LimitedToTopics {
                key: grant.name.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Takes `events` from the caller's publish quota, if it has one.
    pub fn take_events(&self, events: usize) -> Result<(), QuotaExceeded> {
        match self {
            Self::Key(grant) => match &grant.quota {
                Some(bucket) => bucket.take(events),
                None => Ok(()),
            },
            Self::Anyone => Ok(()),
        }
    }
}

/// `"orders." or "payments."`, for messages.
pub fn describe_prefixes(prefixes: &TopicPrefixes) -> String {
    let quoted: Vec<String> = prefixes
        .as_slice()
        .iter()
        .map(|prefix| format!("{prefix:?}"))
        .collect();
    quoted.join(" or ")
}

/// Default interval between two checks of the keys file for a change.
pub const DEFAULT_KEYS_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Where API keys come from. Plain data: `cli/serve.rs` fills it from flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessOptions {
    /// The keys file; without one, every caller may do everything.
    pub keys_file: Option<PathBuf>,
    /// Serve a non-loopback address without keys all the same.
    pub allow_unauthenticated: bool,
    /// How often the keys file is checked for a change (one `stat`); `None`: only on SIGHUP.
    pub check_interval: Option<Duration>,
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self {
            keys_file: None,
            allow_unauthenticated: false,
            check_interval: Some(DEFAULT_KEYS_CHECK_INTERVAL),
        }
    }
}

/// Whether keys are in force, and which.
#[derive(Debug)]
pub struct AccessControl {
    keys: Option<KeysSource>,
}

/// The keys file and the keyring read from it.
#[derive(Debug)]
struct KeysSource {
    path: PathBuf,
    ring: ArcSwap<Keyring>,
    /// The file as last read (or last found broken), so a change is noticed once.
    seen: Mutex<Option<FileStamp>>,
}

/// What tells that a file changed without reading it: its size and modification time, and on
/// Unix its inode (a file replaced by a rename) and change time (which, unlike the
/// modification time, no one can set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    changed: (i64, i64),
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (inode, changed) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), (meta.ctime(), meta.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (inode, changed) = (0, (0, 0));
        Some(Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
            changed,
        })
    }
}

impl AccessControl {
    /// No keys: every caller may do everything.
    pub fn without_keys() -> Self {
        Self { keys: None }
    }

    /// The keys of the file at `path`; a missing or broken file is an error.
    pub fn from_keys_file(path: &Path) -> Result<Self, KeysError> {
        let stamp = FileStamp::of(path);
        let ring = read_keyring(path, None)?;
        Ok(Self {
            keys: Some(KeysSource {
                path: path.to_owned(),
                ring: ArcSwap::from_pointee(ring),
                seen: Mutex::new(stamp),
            }),
        })
    }

    /// Whether requests need a key.
    pub fn keys_in_force(&self) -> bool {
        self.keys.is_some()
    }

    /// The caller presenting `key` (or nothing).
    pub fn authenticate(&self, key: Option<&str>) -> Result<Caller, Unauthenticated> {
        let Some(source) = &self.keys else {
            return Ok(Caller::Anyone);
        };
        let key = key.ok_or(Unauthenticated::Missing)?;
        source
            .ring
            .load()
            .grant_of(key)
            .map(Caller::Key)
            .ok_or(Unauthenticated::Unknown)
    }

    /// Whether what `caller` was granted is still in force, unchanged: a live tail asks before
    /// each read, so revoking or narrowing a key also ends the tails opened with it.
    pub fn still_grants(&self, caller: &Caller) -> bool {
        match (&self.keys, caller) {
            (Some(source), Caller::Key(grant)) => source.ring.load().holds(grant),
            (None, _) | (Some(_), Caller::Anyone) => true,
        }
    }

    /// Re-reads the keys file and puts its keys in force; the number of keys now in force.
    /// A broken file changes nothing: the keys in force stay. `Ok(None)` without a keys file.
    pub fn reload(&self) -> Result<Option<usize>, KeysError> {
        let Some(source) = &self.keys else {
            return Ok(None);
        };
        let stamp = FileStamp::of(&source.path);
        if let Ok(mut seen) = source.seen.lock() {
            *seen = stamp;
        }
        let ring = read_keyring(&source.path, Some(&source.ring.load()))?;
        let count = ring.len();
        source.ring.store(Arc::new(ring));
        Ok(Some(count))
    }

    /// Like [`AccessControl::reload`], only when the file changed (its [`FileStamp`]) since it
    /// was last read; `None` when it did not. Costs one `stat`.
    pub fn reload_if_changed(&self) -> Option<Result<Option<usize>, KeysError>> {
        let source = self.keys.as_ref()?;
        let stamp = FileStamp::of(&source.path);
        let changed = source
            .seen
            .lock()
            .map(|seen| *seen != stamp)
            .unwrap_or(true);
        changed.then(|| self.reload())
    }
}

/// The keyring of the keys file at `path`, carrying over the buckets of `previous` (see
/// [`Keyring::build`]).
fn read_keyring(path: &Path, previous: Option<&Keyring>) -> Result<Keyring, KeysError> {
    Keyring::build(read_keys_file(path)?, previous).map_err(|reason| KeysError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests;
