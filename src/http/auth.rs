//! Authentication: the middleware in front of every route that needs a key. It reads the key
//! (`Authorization: Bearer <key>`, or `X-API-Key: <key>`), answers `401` when it is missing or
//! unknown — before the body is read, so an unauthenticated client never takes a share of the
//! body budget — and otherwise hands the handler a [`Caller`] (an extension), which the
//! handler asks for its route's scope and topics. It counts answers per key name.
//!
//! Keys are compared in constant time (`auth::Keyring`) and never logged: the headers that
//! carry them are marked sensitive (`telemetry.rs`), and no error message repeats one.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{Caller, Unauthenticated};

/// The second header a key may come in, for clients that cannot set `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The scheme of the `Authorization` header.
const BEARER: &str = "bearer ";

/// Authenticates the request, or answers `401`.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match state.access.authenticate(presented_key(request.headers())) {
        Ok(caller) => caller,
        Err(reason) => {
            state.metrics.auth_refused(match reason {
                Unauthenticated::Missing => "missing",
                Unauthenticated::Unknown => "unknown",
            });
            return ApiError::Unauthenticated(reason).into_response();
        }
    };
    let name = caller.key_name().map(str::to_owned);
    request.extensions_mut().insert::<Caller>(caller);
    let response = next.run(request).await;
    if let Some(name) = name {
        state
            .metrics
            .key_answered(&name, response.status().as_u16());
    }
    response
}

/// The key in `Authorization: Bearer <key>` (the scheme in any case), else in `X-API-Key`.
/// A header that is not text, or another scheme, presents no usable key: the request is then
/// answered as one with an unknown key, so the client learns its credentials are refused.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        let key = text
            .get(..BEARER.len())
            .filter(|scheme| scheme.eq_ignore_ascii_case(BEARER))
            .and_then(|_| text.get(BEARER.len()..))
            .map(str::trim)
            .unwrap_or_default();
        return Some(key);
    }
    headers
        .get(API_KEY_HEADER)
        .map(|value| value.to_str().unwrap_or_default().trim())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_key_comes_from_a_bearer_authorization_or_the_api_key_header() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer agg_1")])),
            Some("agg_1")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  agg_1 ")])),
            Some("agg_1")
        );
        assert_eq!(
            presented_key(&headers(&[("x-api-key", "agg_2")])),
            Some("agg_2")
        );
        assert_eq!(presented_key(&headers(&[])), None);
    }

    #[test]
    fn another_scheme_presents_an_empty_key_rather_than_none() {
        let basic = headers(&[
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("x-api-key", "agg_2"),
        ]);
        assert_eq!(presented_key(&basic), Some(""));
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer")])),
            Some("")
        );
    }
}
