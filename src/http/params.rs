//! [`Params`]: the query-string extractor of every route, which refuses what axum's `Query`
//! would quietly change.
//!
//! `Query` decodes percent-escapes leniently: bytes that are not UTF-8 (`topic=%ff`) become
//! U+FFFD, so a tail would follow a topic nobody named, while the same bytes in a path
//! (`DELETE /topics/%ff`) are refused. Here every name and value is checked byte-exactly first
//! and a bad one is a `400` naming the parameter; then `Query` parses the (valid) string, and
//! its own rejection is a `400` in the API's shape too.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use percent_encoding::percent_decode;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldIssue};

/// Query parameters deserialized into `T`, refused with `400` (naming the parameter) when a
/// name or value is not UTF-8 once decoded.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let issues = undecodable_parameters(parts.uri.query().unwrap_or_default());
        if !issues.is_empty() {
            return Err(ApiError::InvalidQuery(issues));
        }
        let Query(params) = Query::try_from_uri(&parts.uri).map_err(|rejection| {
            ApiError::InvalidQuery(vec![FieldIssue::request("query", rejection.body_text())])
        })?;
        Ok(Self(params))
    }
}

/// Every parameter of `query` whose name or value is not UTF-8 once percent-decoded (`+` is a
/// space, as in a form).
fn undecodable_parameters(query: &str) -> Vec<FieldIssue> {
    let decode = |text: &str| {
        let spaced = text.replace('+', " ");
        percent_decode(spaced.as_bytes())
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
    };
    let mut issues = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (decode(name), decode(value)) {
            (Ok(_), Ok(_)) => {}
            (Ok(name), Err(_)) => issues.push(FieldIssue::request(
                &name,
                "must be UTF-8 text once percent-decoded",
            )),
            (Err(_), _) => issues.push(FieldIssue::request(
                &String::from_utf8_lossy(&percent_decode(name.as_bytes()).collect::<Vec<u8>>()),
                "the parameter's name must be UTF-8 text once percent-decoded",
            )),
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(query: &str) -> Vec<String> {
        undecodable_parameters(query)
            .into_iter()
            .map(|issue| issue.field)
            .collect()
    }

    #[test]
    fn utf8_parameters_pass_whatever_their_escapes() {
        assert!(fields("topic=%C3%BC&source=a+b&cursor=&from=start").is_empty());
        assert!(fields("topic=%E8%AE%A2%E5%8D%95&&x").is_empty());
        assert!(fields("").is_empty());
    }

    #[test]
    fn a_value_that_is_not_utf8_is_named_by_its_parameter() {
        assert_eq!(fields("topic=%ff"), ["topic"]);
        assert_eq!(fields("topic=ok&source=%C3"), ["source"]);
        assert_eq!(fields("topic=%ED%A0%80"), ["topic"], "an encoded surrogate");
    }

    #[test]
    fn a_name_that_is_not_utf8_is_refused_too() {
        assert_eq!(fields("%ff=1").len(), 1);
    }
}
