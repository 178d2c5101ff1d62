//! `POST /v1/logs`: OpenTelemetry's OTLP/HTTP logs, as every OpenTelemetry SDK and the
//! Collector export them: an `ExportLogsServiceRequest` in protobuf (`application/x-protobuf`)
//! or in the OTLP JSON encoding (`application/json`), gzip or not (the intake decodes it).
//!
//! Each log record is judged on its own (`otlp/map.rs` says how it becomes an event): one whose
//! id, topic or payload is refused, or whose topic the key may not publish to, is counted in
//! the answer's `partial_success.rejected_log_records` with the first reasons in
//! `error_message`, and every other record is stored. The answer is `200` with an
//! `ExportLogsServiceResponse` in the request's encoding, as the specification asks (an empty
//! export included); `400` for a body that does not decode (exporters drop it: retrying cannot
//! help); `429` and `503` carry `Retry-After`, which OTLP exporters honour before they send the
//! same batch again — and the same batch stores nothing twice. Unlike the bulk API's, these
//! answers are never cut short: the route sits with `/publish` in the router.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;

use super::batch::{ingest_judged, Refusal, WholeRequestRefusals};
use super::error::{ApiError, ErrorResponse};
use super::media::{body_rejection, declared_media_type};
use super::state::AppState;
use crate::auth::{Caller, Scope};

pub mod map;

pub use map::{OtlpMapping, TopicTemplate};

/// How many refusal reasons `error_message` quotes.
const REASONS_QUOTED: usize = 5;

/// The two encodings of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        match declared_media_type(headers) {
            Some(media)
                if media.essence == "application/x-protobuf"
                    || media.essence == "application/protobuf" =>
            {
                Ok(Self::Protobuf)
            }
            Some(media) if media.essence == "application/json" => Ok(Self::Json),
            Some(media) => Err(ApiError::UnsupportedOtlpMediaType(media.declared)),
            None => Err(ApiError::UnsupportedOtlpMediaType("(none)".into())),
        }
    }

    fn decode(self, body: &[u8]) -> Result<ExportLogsServiceRequest, ApiError> {
        match self {
            Self::Protobuf => ExportLogsServiceRequest::decode(body)
                .map_err(|err| ApiError::MalformedOtlp(err.to_string())),
            Self::Json => {
                serde_json::from_slice(body).map_err(|err| ApiError::MalformedOtlp(err.to_string()))
            }
        }
    }

    fn answer(self, response: ExportLogsServiceResponse) -> Response {
        match self {
            Self::Protobuf => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                )],
                response.encode_to_vec(),
            )
                .into_response(),
            // `{}` rather than `{"partialSuccess":null}` when every record was stored.
            Self::Json if response.partial_success.is_none() => {
                Json(serde_json::json!({})).into_response()
            }
            Self::Json => Json(response).into_response(),
        }
    }
}

/// Store OpenTelemetry log records (OTLP/HTTP).
///
/// Each record becomes an event: topic from the resource's `service.name` (`--otlp-topic`),
/// `event_id` from the `log.record.uid` attribute or a digest of resource, scope and record,
/// time from `time_unix_nano` (else `observed_time_unix_nano`), source from
/// `service.instance.id` or `host.name`; the payload keeps body, severity, attributes, trace
/// and span ids, resource and scope. A refused record is counted in `partial_success`; the
/// others are stored.
#[utoipa::path(
    post,
    path = "/v1/logs",
    tag = "shippers",
    request_body(content(
                     (String = "application/x-protobuf"),
                     (Object = "application/json")
                 ),
                 description = "An `ExportLogsServiceRequest`, in protobuf or in the OTLP JSON encoding"),
    responses(
        (status = 200, description = "Every record stored, or the refused ones counted in \
                                      `partial_success` (an `ExportLogsServiceResponse`, in the \
                                      request's encoding)", body = Object),
        (status = 400, description = "The body does not decode as an `ExportLogsServiceRequest`", body = ErrorResponse),
        WholeRequestRefusals,
    )
)]
pub async fn export_logs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(&[Scope::Publish])?;
    let encoding = Encoding::of(&headers)?;
    let limits = &state.limits;
    let body = body.map_err(|rejection| body_rejection(rejection, limits.max_body_bytes))?;
    let request = encoding.decode(&body)?;
    let received_at = Utc::now();
    let outcome = ingest_judged(&state, &caller, "log records", || {
        map::map_request(&request, &state.otlp, received_at, limits.max_payload_depth)
    })
    .await?;
    let partial_success = (!outcome.refused.is_empty()).then(|| ExportLogsPartialSuccess {
        rejected_log_records: i64::try_from(outcome.refused.len()).unwrap_or(i64::MAX),
        error_message: describe_refusals(&outcome.refused),
    });
    Ok(encoding.answer(ExportLogsServiceResponse { partial_success }))
}

/// `"N log records refused: record 3: why; record 9: why; ..."`.
fn describe_refusals(refusals: &[(usize, Refusal)]) -> String {
    let quoted: Vec<String> = refusals
        .iter()
        .take(REASONS_QUOTED)
        .map(|(position, why)| format!("record {position}: {why}"))
        .collect();
    let more = refusals.len().saturating_sub(REASONS_QUOTED);
    let tail = if more > 0 {
        format!("; and {more} more")
    } else {
        String::new()
    };
    format!(
        "{} log record(s) refused: {}{tail}",
        refusals.len(),
        quoted.join("; ")
    )
}
