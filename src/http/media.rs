//! What a request body is declared as (`Content-Type`), shared by every ingest route, and the
//! error for a body that could not be read.

use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};

use super::body::BodyFormat;
use super::error::ApiError;

/// A browser sends `text/plain`, form and multipart bodies cross-site without asking first (no
/// CORS preflight); requiring a JSON content type means a web page cannot publish on a user's
/// behalf. `application/json` with parameters (`charset=utf-8`) and `+json` types are JSON;
/// `application/x-ndjson` (and `application/ndjson`) is one event per line.
pub fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let Some(MediaType { declared, essence }) = declared_media_type(headers) else {
        return Err(ApiError::UnsupportedMediaType("(none)".into()));
    };
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(BodyFormat::Json)
    } else if essence == "application/x-ndjson" || essence == "application/ndjson" {
        Ok(BodyFormat::Ndjson)
    } else {
        Err(ApiError::UnsupportedMediaType(declared))
    }
}

/// A request's `Content-Type`: as sent (for error messages), and its type without parameters,
/// in lower case (for matching).
pub struct MediaType {
    /// The header's value, as sent.
    pub declared: String,
    /// `type/subtype`, lower case, parameters (`; charset=...`) dropped.
    pub essence: String,
}

/// The request's `Content-Type`, or `None` without one.
pub fn declared_media_type(headers: &HeaderMap) -> Option<MediaType> {
    let declared =
        String::from_utf8_lossy(headers.get(header::CONTENT_TYPE)?.as_bytes()).into_owned();
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Some(MediaType { declared, essence })
}

/// The error for a body the extractor could not take: too large (`413`) or unreadable (`400`).
pub fn body_rejection(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::MalformedJson(format!("unreadable body: {rejection}"))
    }
}
