//! The OpenAPI document (`/openapi.json`) and the interactive docs (`/docs`): the document lists
//! exactly the routes the router serves, with the request and response shapes of each.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ApiApp, TestApp};

/// Every route of the API, as a client knows it. A route served but missing here or in the
/// document fails `every_served_route_is_in_the_document`.
const SERVED_ROUTES: &[(&str, &str)] = &[
    ("post", "/publish"),
    ("get", "/events"),
    ("get", "/events/stream"),
    ("get", "/events/count"),
    ("get", "/events/values"),
    ("get", "/fields"),
    ("get", "/stats"),
    ("get", "/access"),
    ("get", "/topics"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("post", "/_bulk"),
    ("post", "/{index}/_bulk"),
    ("post", "/v1/logs"),
    ("post", "/loki/api/v1/push"),
    ("get", "/"),
    ("delete", "/topics/{topic}"),
];

async fn openapi(app: &TestApp) -> Value {
    let (status, document) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "{document}");
    document
}

/// `(method, path)` of every operation of the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .expect("paths is an object")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item is an object")
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

/// Whether the router has a route for `method path`: the fallbacks answer 404 (no such path)
/// and 405 (no such method) with these exact bodies, and no handler answers them that way.
async fn is_served(app: &TestApp, method: &str, path: &str) -> bool {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method");
    let response = app
        .client
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    // A live tail's answer never ends: its status says it is served, its body is not read.
    if status.is_success() && is_event_stream(&response) {
        return true;
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let fallback = (status == StatusCode::NOT_FOUND && body == json!({"error": "not found"}))
        || (status == StatusCode::METHOD_NOT_ALLOWED
            && body == json!({"error": "method not allowed"}));
    !fallback
}

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"))
}

/// Proves every operation in the document is served, and every served route is documented.
#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    // Arrange
    let app = spawn_app().await;
    let document = openapi(&app).await;
    let documented = operations(&document);

    // Act
    let mut unserved = Vec::new();
    for (method, path) in &documented {
        if !is_served(&app, method, path).await {
            unserved.push(format!("{method} {path}"));
        }
    }
    let mut undocumented = Vec::new();
    for &(method, path) in SERVED_ROUTES {
        assert!(
            is_served(&app, method, path).await,
            "{method} {path} is not served"
        );
        if !documented.contains(&(method.to_owned(), path.to_owned())) {
            undocumented.push(format!("{method} {path}"));
        }
    }

    // Assert
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert_eq!(documented.len(), SERVED_ROUTES.len(), "{documented:?}");
}

/// Proves the served document is the one generated from the router's route list.
#[tokio::test]
async fn the_served_document_is_generated_from_the_router() {
    let app = spawn_app().await;
    let served = openapi(&app).await;
    let generated = serde_json::to_value(aggregator::http::openapi()).expect("serialisable");
    assert_eq!(served, generated);
}

/// Proves `/openapi.json` is an OpenAPI 3 document with the publish body shapes, every publish
/// answer, the `/events` parameters and the error shape.
#[tokio::test]
async fn the_document_describes_bodies_answers_and_parameters() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let document = openapi(&app).await;

    // Assert
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{document}"
    );
    let publish = &document["paths"]["/publish"]["post"];
    let body = &publish["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        body["$ref"], "#/components/schemas/PublishBody",
        "{publish}"
    );
    let shapes = document["components"]["schemas"]["PublishBody"]["oneOf"]
        .as_array()
        .expect("PublishBody is a oneOf");
    assert_eq!(
        shapes.len(),
        3,
        "one event, an envelope, an array: {shapes:?}"
    );
    let answers: BTreeSet<&str> = publish["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        answers,
        BTreeSet::from(["200", "400", "401", "403", "408", "413", "415", "422", "429", "503"])
    );
    for status in ["429", "503"] {
        assert!(
            publish["responses"][status]["headers"]["Retry-After"].is_object(),
            "{status} documents Retry-After"
        );
    }
    let parameters: BTreeSet<&str> = document["paths"]["/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["topic", "source", "since", "until", "limit", "cursor", "q", "order"])
    );
    let error = &document["components"]["schemas"]["ErrorResponse"]["properties"];
    assert!(
        error["error"].is_object() && error["details"].is_object(),
        "{error}"
    );
    let metrics = &document["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(
        metrics.get("text/plain; version=0.0.4").is_some(),
        "{metrics}"
    );
}

/// Proves the document states the rules a client can check before sending: the item bounds of
/// a batch, the character rules of the key fields, uncapped-but-capped `limit`s, empty
/// parameters meaning "not given", and the `429` of every limited listing.
#[tokio::test]
async fn the_document_states_bounds_character_rules_and_empty_parameters() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let document = openapi(&app).await;

    // Assert
    let schemas = &document["components"]["schemas"];
    for batch in [
        &schemas["PublishBatch"]["properties"]["events"],
        &schemas["PublishArray"],
    ] {
        assert_eq!(batch["minItems"], 1, "{batch}");
        assert_eq!(batch["maxItems"], 10_000, "{batch}");
    }
    for field in ["topic", "event_id", "source"] {
        let schema = &schemas["PublishEvent"]["properties"][field];
        assert_eq!(schema["maxLength"], 255, "{field}");
        let pattern = schema["pattern"].as_str().unwrap_or_default();
        assert!(pattern.contains(r"\u0000-\u001f"), "{field}: {pattern}");
    }
    let topic = schemas["PublishEvent"]["properties"]["topic"]["pattern"]
        .as_str()
        .unwrap();
    assert!(
        topic.contains(r"\u202e") && topic.contains(r"\x{e0001}"),
        "{topic}"
    );
    let parameters = |path: &str| document["paths"][path]["get"]["parameters"].clone();
    for (path, parameter) in [
        ("/events", "limit"),
        ("/topics", "limit"),
        ("/events", "since"),
    ] {
        let found = parameters(path)
            .as_array()
            .unwrap()
            .iter()
            .find(|candidate| candidate["name"] == parameter)
            .cloned()
            .unwrap();
        let text = found.to_string();
        assert!(!text.contains("maximum"), "{path} {parameter}: {text}");
        assert!(
            text.contains("Empty means") && text.contains("anyOf"),
            "{path} {parameter} states the empty value: {text}"
        );
    }
    for path in ["/events", "/topics", "/stats"] {
        let answers = &document["paths"][path]["get"]["responses"];
        assert!(
            answers["429"]["headers"]["Retry-After"].is_object(),
            "{path}"
        );
    }
}

/// Proves `/docs` serves the Swagger UI page, from the binary (no CDN), set up to load our
/// document.
#[tokio::test]
async fn docs_serve_swagger_ui_for_the_document() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let page = app.client.get(app.url("/docs")).send().await.unwrap();
    let status = page.status();
    let content_type = page.headers()["content-type"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let script = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    let script_status = script.status();
    let script = script.text().await.unwrap();
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.contains("<title>Swagger UI</title>"), "{html}");
    assert!(
        !html.contains("://"),
        "the page loads nothing from elsewhere: {html}"
    );
    assert_eq!(script_status, StatusCode::OK);
    assert!(script.contains(r#""url": "/openapi.json""#), "{script}");
    assert_eq!(
        bundle.status(),
        StatusCode::OK,
        "the UI's code is served by the app"
    );
}

/// Proves the document declares both ways of presenting an API key, that every route needing
/// one lists both and documents its `401` and `403`, and that the probes need none.
#[tokio::test]
async fn the_document_declares_the_api_key_schemes_on_exactly_the_keyed_routes() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let document = openapi(&app).await;

    // Assert
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http", "{schemes}");
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["api_key"]["type"], "apiKey", "{schemes}");
    assert_eq!(schemes["api_key"]["in"], "header", "{schemes}");
    let header = schemes["api_key"]["name"].as_str().unwrap_or_default();
    assert!(header.eq_ignore_ascii_case("X-API-Key"), "{schemes}");
    assert!(
        document.get("security").is_none(),
        "no document-wide requirement, which the probes would inherit"
    );
    let keyed = [
        ("post", "/publish"),
        ("get", "/events"),
        ("get", "/events/stream"),
        ("get", "/topics"),
        ("get", "/stats"),
        ("get", "/metrics"),
    ];
    for (method, path) in keyed {
        let operation = &document["paths"][path][method];
        let security = operation["security"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            security.contains(&json!({"bearer": []})) && security.contains(&json!({"api_key": []})),
            "{method} {path} accepts either scheme: {security:?}"
        );
        for status in ["401", "403"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} documents {status}"
            );
        }
    }
    for path in ["/health", "/ready"] {
        let operation = &document["paths"][path]["get"];
        assert!(operation.is_object(), "{path} is documented");
        assert!(
            operation.get("security").is_none(),
            "{path} needs no key: {operation}"
        );
    }
}
