//! [`Scope`]: what an API key may do. Each route needs one scope (or one of two): `publish`
//! to write events, `read` to list, tail and count them, `admin` to see and operate the
//! deployment as a whole.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `POST /publish`, on the key's topics.
    Publish,
    /// `GET /events`, `/events/stream`, `/topics` on the key's topics; `/stats`, `/metrics`.
    Read,
    /// `/stats` and `/metrics`, and operations on the deployment as a whole.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 3] = [Scope::Publish, Scope::Read, Scope::Admin];

    /// The scope's name, as written in the keys file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw.trim())
            .ok_or_else(|| format!("unknown scope {raw:?}: expected publish, read or admin"))
    }
}

/// A set of scopes, small enough to copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    publish: bool,
    read: bool,
    admin: bool,
}

impl Scopes {
    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        match scope {
            Scope::Publish => self.publish,
            Scope::Read => self.read,
            Scope::Admin => self.admin,
        }
    }

    /// The scopes in the set, in [`Scope::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |&scope| self.contains(scope))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(scopes: I) -> Self {
        let mut set = Self::default();
        for scope in scopes {
            match scope {
                Scope::Publish => set.publish = true,
                Scope::Read => set.read = true,
                Scope::Admin => set.admin = true,
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_their_names_and_nothing_else() {
        assert_eq!("publish".parse(), Ok(Scope::Publish));
        assert_eq!(" admin ".parse(), Ok(Scope::Admin));
        assert!("write".parse::<Scope>().is_err());
        let set: Scopes = [Scope::Read, Scope::Read].into_iter().collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), [Scope::Read]);
        assert!(!set.contains(Scope::Publish));
    }
}
