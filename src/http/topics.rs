//! `GET /topics?cursor=&limit=`: every topic with at least one stored event, sorted, paginated.
//! `/stats` lists only the first 1,000 (and `topics_total`), so that it stays small. With API
//! keys in force the key needs the `read` scope and sees only the topics inside its prefixes.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorResponse, FieldIssue};
use super::paging;
use super::params::Params;
use super::state::AppState;
use crate::auth::{Caller, Scope};

/// Page size when `limit` is absent.
pub const DEFAULT_TOPICS_PAGE: usize = 1_000;
/// Largest page size; larger `limit`s are capped to it.
pub const MAX_TOPICS_PAGE: usize = 10_000;

/// Query parameters. An empty value means the parameter was not given.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopicsParams {
    /// The previous page's `next_cursor`: topics sorted after it are listed (any text is
    /// accepted). Empty means the first page.
    cursor: Option<String>,
    /// Page size (described in `limit_schema`: utoipa would drop this comment).
    #[param(schema_with = limit_schema)]
    limit: Option<String>,
}

fn limit_schema() -> Schema {
    paging::limit_schema(
        "Page size: any whole number of at least 1, however many digits; larger ones are capped \
         at 10000, not refused. Empty means the default, 1000.",
    )
}

/// One page of topics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicsResponse {
    /// Topics, sorted by their bytes.
    pub topics: Vec<String>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// List every topic with stored events, sorted; paginated.
#[utoipa::path(
    get,
    path = "/topics",
    tag = "events",
    params(TopicsParams),
    responses(
        (status = 200, description = "One page of topics", body = TopicsResponse),
        (status = 400, description = "Invalid parameters; `details` names each", body = ErrorResponse),
        (status = 429, description = "Too many requests in progress; retry later", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "The actor tree did not answer in time", body = ErrorResponse,
         headers(("Retry-After" = u32, description = "Seconds to wait"))),
    )
)]
pub async fn list_topics(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    params: Result<Params<TopicsParams>, ApiError>,
) -> Result<Json<TopicsResponse>, ApiError> {
    caller.require(&[Scope::Read])?;
    let Params(params) = params?;
    let limit = paging::parse_limit(
        params.limit.as_deref(),
        DEFAULT_TOPICS_PAGE,
        MAX_TOPICS_PAGE,
    )
    .map_err(|reason| ApiError::InvalidQuery(vec![FieldIssue::request("limit", reason)]))?;
    let after = params.cursor.filter(|cursor| !cursor.is_empty());
    // One more than asked tells whether a next page exists.
    let mut topics = state.tree.topics(after, limit + 1, caller.topics()).await?;
    let more = topics.len() > limit;
    topics.truncate(limit);
    let next_cursor = if more { topics.last().cloned() } else { None };
    Ok(Json(TopicsResponse {
        topics,
        next_cursor,
    }))
}
