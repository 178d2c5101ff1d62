//! The answers of the bulk API and of `GET /`, shaped as Elasticsearch shapes them, since
//! shippers read them: `errors` to decide whether to look at items, each item's `status` to
//! decide what to retry, and `version.number` to pick a bulk format.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// The answer to a bulk request.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    /// Milliseconds the request took.
    pub took: u64,
    /// Whether an item was refused (its `status` is 4xx and it has an `error`).
    pub errors: bool,
    /// One answer per item, in request order: `{"<action>": {...}}`, the action as sent.
    #[schema(value_type = Vec<HashMap<String, ItemResult>>)]
    pub items: Vec<BulkItemAnswer>,
}

/// One item's answer: `{"<action>": {...}}`, the action as sent.
#[derive(Debug)]
pub struct BulkItemAnswer {
    /// `index`, `create`, `delete` or `update`.
    pub action: String,
    /// What became of it.
    pub result: ItemResult,
}

impl Serialize for BulkItemAnswer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.action, &self.result)?;
        map.end()
    }
}

/// What became of one item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's index (its topic).
    #[serde(rename = "_index", skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// The document's id: its `_id`, or the digest standing for it.
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Always 1 for a stored document: a document is never updated.
    #[serde(rename = "_version", skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// `created` (new) or `noop` (a duplicate, already stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// `201` created, `200` duplicate, `400` invalid or unsupported, `403` outside the key's
    /// topics.
    pub status: u16,
    /// Why the item was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// Why an item was refused, as Elasticsearch words it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemError {
    /// `illegal_argument_exception` or `security_exception`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What is wrong, naming the field.
    pub reason: String,
}

impl ItemResult {
    /// An item not judged yet: refused ([`Self::refuse`]) or committed ([`Self::committed`])
    /// before it is answered (status 0 until then).
    pub(super) fn pending(index: Option<String>, id: Option<String>) -> Self {
        Self {
            index,
            id,
            version: None,
            result: None,
            status: 0,
            error: None,
        }
    }

    /// Records that the item's event is committed: `201 created` or `200 noop`.
    pub(super) fn committed(&mut self, new: bool) {
        (self.status, self.result) = if new {
            (201, Some("created"))
        } else {
            (200, Some("noop"))
        };
        self.version = Some(1);
    }

    /// Records that the item is refused, and why.
    pub(super) fn refuse(&mut self, status: u16, kind: &'static str, reason: String) {
        self.status = status;
        self.error = Some(ItemError { kind, reason });
    }
}

/// The answer to `GET /`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RootInfo {
    /// `aggregator`.
    pub name: &'static str,
    /// `aggregator`.
    pub cluster_name: &'static str,
    /// The Elasticsearch version whose bulk API this one follows (no `_type` needed).
    pub version: RootVersion,
    /// The aggregator's own version.
    pub aggregator_version: &'static str,
    /// As Elasticsearch answers it; some clients look for it.
    pub tagline: &'static str,
}

/// The `version` of [`RootInfo`].
#[derive(Debug, Serialize, ToSchema)]
pub struct RootVersion {
    /// `8.11.0`.
    pub number: &'static str,
    /// `default`.
    pub build_flavor: &'static str,
    /// The lowest version of Elastic's wire compatibility.
    pub minimum_wire_compatibility_version: &'static str,
}

impl RootInfo {
    /// The answer of this build.
    pub fn new() -> Self {
        Self {
            name: "aggregator",
            cluster_name: "aggregator",
            version: RootVersion {
                number: "8.11.0",
                build_flavor: "default",
                minimum_wire_compatibility_version: "7.17.0",
            },
            aggregator_version: env!("CARGO_PKG_VERSION"),
            tagline: "You Know, for Search",
        }
    }
}

impl Default for RootInfo {
    fn default() -> Self {
        Self::new()
    }
}
