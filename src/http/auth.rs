//! Authentication: the middleware in front of every route that needs a key. It reads the key
//! (`Authorization: Bearer <key>`, `X-API-Key: <key>`, or as the password of
//! `Authorization: Basic`, which is what every log shipper's Elasticsearch output can send:
//! rsyslog's `uid`/`pwd`, Fluent Bit's `HTTP_User`/`HTTP_Passwd`, Vector's `auth.strategy =
//! "basic"`; the user name is ignored), answers `401` when it is missing or
//! unknown — before the body is read, so an unauthenticated client never takes a share of the
//! body budget — and otherwise hands the handler a [`Caller`] (an extension), which the
//! handler asks for its route's scope and topics. It counts answers per key name.
//!
//! Keys are compared in constant time (`auth::Keyring`) and never logged: the headers that
//! carry them are marked sensitive (`telemetry.rs`), and no error message repeats one.

use std::borrow::Cow;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{Caller, Unauthenticated};

/// The second header a key may come in, for clients that cannot set `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Authenticates the request, or answers `401`.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match state
        .access
        .authenticate(presented_key(request.headers()).as_deref())
    {
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

/// The key in `Authorization: Bearer <key>` or `Basic <base64 of user:key>` (schemes in any
/// case), else in `X-API-Key`. A header that is not text, or another scheme, or Basic
/// credentials that do not decode, present no usable key: the request is then answered as one
/// with an unknown key, so the client learns its credentials are refused.
fn presented_key(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        let (scheme, credentials) = text.split_once(' ').unwrap_or((text, ""));
        let credentials = credentials.trim();
        let key = if scheme.eq_ignore_ascii_case("bearer") {
            Cow::Borrowed(credentials)
        } else if scheme.eq_ignore_ascii_case("basic") {
            Cow::Owned(basic_password(credentials).unwrap_or_default())
        } else {
            Cow::Borrowed("")
        };
        return Some(key);
    }
    headers
        .get(API_KEY_HEADER)
        .map(|value| Cow::Borrowed(value.to_str().unwrap_or_default().trim()))
}

/// The password of Basic credentials (`base64("user:password")`).
fn basic_password(credentials: &str) -> Option<String> {
    let decoded = String::from_utf8(BASE64.decode(credentials).ok()?).ok()?;
    let (_user, password) = decoded.split_once(':')?;
    Some(password.to_owned())
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
            presented_key(&headers(&[("authorization", "Bearer agg_1")])).as_deref(),
            Some("agg_1")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  agg_1 ")])).as_deref(),
            Some("agg_1")
        );
        assert_eq!(
            presented_key(&headers(&[("x-api-key", "agg_2")])).as_deref(),
            Some("agg_2")
        );
        assert_eq!(presented_key(&headers(&[])), None);
    }

    #[test]
    fn a_basic_authorization_presents_its_password_as_the_key() {
        // base64("rsyslog:agg_3") and base64(":agg_3"): the user name does not matter.
        for credentials in ["Basic cnN5c2xvZzphZ2dfMw==", "basic OmFnZ18z"] {
            let basic = headers(&[("authorization", credentials), ("x-api-key", "agg_2")]);
            assert_eq!(presented_key(&basic).as_deref(), Some("agg_3"));
        }
    }

    #[test]
    fn another_scheme_or_undecodable_credentials_present_an_empty_key_rather_than_none() {
        for value in [
            "Digest abc",
            "Basic not-base64!",
            "Basic bm9jb2xvbg==",
            "Bearer",
        ] {
            let presented = headers(&[("authorization", value), ("x-api-key", "agg_2")]);
            assert_eq!(presented_key(&presented).as_deref(), Some(""), "{value}");
        }
    }
}
