//! `GET /ui`: the console in the browser, a single page over the query API, served from files
//! compiled into the binary (`ui/` in the repository), so nothing is installed, built with
//! another toolchain or fetched from another origin.
//!
//! Every answer carries a strict `Content-Security-Policy` (scripts, styles and requests only
//! from this origin, no inline script, no framing), a weak `ETag` derived from the file's bytes,
//! and `Cache-Control: no-cache`: a browser keeps the files and revalidates them with one cheap
//! `304` each load, so a new binary's console is never mixed with an old one's. The files are
//! compressed on the way out when the browser accepts gzip (`router.rs`).
//!
//! The page is open (no key): it holds no data. Every request it makes goes to the API with the
//! key the user typed, which the page keeps in `sessionStorage` and sends as a Bearer token.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::state::AppState;
use crate::event::lower_hex;

/// Where the console is served.
pub const CONSOLE_PATH: &str = "/ui";

/// What the page may load and where it may connect: its own origin only. `img-src data:` is
/// for the icon drawn inline in the stylesheet; nothing else is allowed inline.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of the console.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: HeaderValue,
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            $content_type,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $name)).as_slice(),
        )
    };
}

/// Every file of the console; `index.html` is the page itself.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    const JS: &str = "text/javascript; charset=utf-8";
    [
        asset!("index.html", "text/html; charset=utf-8"),
        asset!("console.css", "text/css; charset=utf-8"),
        asset!("favicon.svg", "image/svg+xml"),
        asset!("main.js", JS),
        asset!("api.js", JS),
        asset!("view.js", JS),
        asset!("signin.js", JS),
        asset!("querybar.js", JS),
        asset!("histogram.js", JS),
        asset!("results.js", JS),
        asset!("live.js", JS),
        asset!("panels.js", JS),
    ]
    .into_iter()
    .map(|(name, content_type, bytes)| Asset {
        name,
        content_type,
        bytes,
        etag: etag_of(bytes),
    })
    .collect()
});

/// `W/"<first 16 bytes of the SHA-256, in hex>"`: weak, because the bytes on the wire differ
/// when they are compressed.
fn etag_of(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let tag = format!("W/\"{}\"", lower_hex(&digest[..16]));
    // Hex digits, a quote and a slash are always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("W/\"0\""))
}

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(CONSOLE_PATH, get(page))
        .route("/ui/", get(page))
        .route("/ui/{file}", get(file))
}

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return ApiError::NotFound.into_response();
    };
    let revalidated = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .any(|tag| same_entity(tag.trim(), &asset.etag));
    let mut response = if revalidated {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.bytes,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Weak comparison, as `If-None-Match` asks: the tags match whatever their `W/` prefix (and
/// `*` matches any).
fn same_entity(presented: &str, etag: &HeaderValue) -> bool {
    let opaque = |tag: &str| tag.trim_start_matches("W/").to_owned();
    presented == "*"
        || etag
            .to_str()
            .is_ok_and(|own| opaque(own) == opaque(presented))
}

/// Whether a request for `/` comes from a browser (it asks for HTML), which is sent to the
/// console; log shippers probing `/` ask for JSON or anything, and get the Elasticsearch answer.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("text/html"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_with_its_own_tag() {
        assert!(ASSETS.iter().all(|asset| !asset.bytes.is_empty()));
        let mut tags: Vec<_> = ASSETS.iter().map(|asset| asset.etag.clone()).collect();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }

    #[test]
    fn a_matching_tag_gets_304_and_another_gets_the_file() {
        let tag = ASSETS[0].etag.clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(
            serve("index.html", &headers).status(),
            StatusCode::NOT_MODIFIED
        );
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(serve("index.html", &headers).status(), StatusCode::OK);
        assert_eq!(
            serve("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn only_a_request_for_html_is_a_browser() {
        let with = |accept: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
            wants_html(&headers)
        };
        assert!(with("text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(!with("application/json"));
        assert!(!with("*/*"));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
