//! Compressed request bodies: what a `Content-Encoding` header asks for, and decoding a body
//! so that no encoded body can inflate past the per-request limit.
//!
//! Log shippers compress their batches (Fluent Bit's `compress gzip`, Vector's `compression`,
//! OpenTelemetry exporters gzip by default), and a shipper drops a batch answered `400`, so
//! every ingest route takes `gzip`, `deflate` (the zlib format, as RFC 9110 defines it) and
//! `zstd`, and says plainly what else it does not take (`415`). The body intake
//! (`intake.rs`) decodes before any handler runs, so every route with a body gets the same
//! rules and sees only decoded bytes.
//!
//! Decoding reads the decoder a chunk at a time and stops one byte past the limit: a bomb
//! (200 MB of newlines in 200 KB of gzip) costs at most the limit in memory, never its
//! decoded size. Each chunk is reported to a `reserve` callback before it is kept, so that the
//! caller can count decoded bytes in its memory budget as they appear. Bytes that are not what
//! their label says (a plain body labelled `gzip`, a truncated stream, trailing bytes after
//! the stream) are a `400` that says so, never stored as if the label were absent.

use std::io::Read;

use axum::http::{header, HeaderMap};

/// The codings a request body may declare, as `Content-Encoding` names them.
pub const SUPPORTED: &str = "gzip, deflate (zlib), zstd, identity";

/// Bytes decoded at a time: small enough that a bomb stops soon after the limit, large enough
/// that the per-chunk bookkeeping costs nothing.
const CHUNK_BYTES: usize = 64 * 1024;

/// The most address space set aside for a decoded body before it is decoded; past it (an
/// unusually high `--max-body-bytes`) the buffer grows as it fills.
const PREALLOCATE_AT_MOST: usize = 64 * 1024 * 1024;

/// The largest zstd window accepted (`2^23` = 8 MiB, what `zstd -19` uses). A frame may declare
/// a window of up to 2 GiB, which the decoder would allocate before producing a byte; longer
/// windows (`zstd --long`) are refused as undecodable.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCoding {
    /// Not encoded (no header, or `identity`).
    Identity,
    /// `gzip` (RFC 1952), one or more members.
    Gzip,
    /// `deflate`: the zlib format (RFC 1950), as RFC 9110 defines the coding.
    Deflate,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl ContentCoding {
    /// The coding's name in `Content-Encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Zstd => "zstd",
        }
    }
}

/// Why a body's `Content-Encoding` cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// A coding the server does not decode, or more than one coding stacked (415).
    #[error("unsupported Content-Encoding {0:?}: send the body with one of {SUPPORTED}")]
    Unsupported(String),
    /// The bytes are not what the label says (400).
    #[error("the body is not valid {coding} data, as its Content-Encoding says: {reason}")]
    Mismatch {
        /// The declared coding.
        coding: &'static str,
        /// What the decoder found wrong.
        reason: String,
    },
    /// Decoded, the body would exceed the limit (413).
    #[error("request body larger than {limit} bytes once decoded from {coding}")]
    TooLarge {
        /// The declared coding.
        coding: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The caller's memory budget could not hold the next decoded chunk (429).
    #[error("the server is buffering as many request bodies as it may")]
    OverBudget,
}

/// The coding `headers` declare. Several `Content-Encoding` values (or a list) are refused
/// unless all but one are `identity`: no shipper stacks codings, and each stacked decoder would
/// be another buffer of up to the limit.
pub fn declared_coding(headers: &HeaderMap) -> Result<ContentCoding, EncodingError> {
    let mut found = ContentCoding::Identity;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let coding = match name.to_ascii_lowercase().as_str() {
                "identity" => continue,
                "gzip" | "x-gzip" => ContentCoding::Gzip,
                "deflate" => ContentCoding::Deflate,
                "zstd" => ContentCoding::Zstd,
                _ => return Err(EncodingError::Unsupported(name.to_owned())),
            };
            if found != ContentCoding::Identity {
                return Err(EncodingError::Unsupported(text.into_owned()));
            }
            found = coding;
        }
    }
    Ok(found)
}

/// Decodes `encoded` (a body declared as `coding`) into at most `limit` bytes. `reserve` is
/// told the size of each decoded chunk before it is kept and returns `false` to refuse it
/// ([`EncodingError::OverBudget`]). Blocking: a 10 MiB body takes milliseconds of CPU, so
/// async callers run it on a blocking thread.
pub fn decode(
    coding: ContentCoding,
    encoded: &[u8],
    limit: usize,
    reserve: impl FnMut(usize) -> bool,
) -> Result<Vec<u8>, EncodingError> {
    let mismatch = |reason: String| EncodingError::Mismatch {
        coding: coding.name(),
        reason,
    };
    match coding {
        ContentCoding::Identity => Ok(encoded.to_vec()),
        ContentCoding::Gzip => {
            // Several members are one body (RFC 1952 §2.2); anything after the last member that
            // is not another member is an error of the decoder, so nothing trails silently.
            let decoder = flate2::read::MultiGzDecoder::new(encoded);
            read_bounded(decoder, coding, limit, reserve)
        }
        ContentCoding::Deflate => {
            if !is_zlib_header(encoded) {
                return Err(mismatch(
                    "no zlib header (deflate means zlib data, RFC 9110 section 8.4.1.2)".into(),
                ));
            }
            let mut decoder = flate2::read::ZlibDecoder::new(encoded);
            let decoded = read_bounded(&mut decoder, coding, limit, reserve)?;
            let consumed = usize::try_from(decoder.total_in()).unwrap_or(usize::MAX);
            if consumed < encoded.len() {
                return Err(mismatch(format!(
                    "{} bytes after the end of the zlib stream",
                    encoded.len() - consumed
                )));
            }
            Ok(decoded)
        }
        ContentCoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(encoded)
                .map_err(|err| mismatch(err.to_string()))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|err| mismatch(err.to_string()))?;
            read_bounded(decoder, coding, limit, reserve)
        }
    }
}

/// A zlib stream opens with two bytes whose compression method is 8 (deflate) and whose value
/// is a multiple of 31 (RFC 1950 §2.2): a plain JSON body never does.
fn is_zlib_header(bytes: &[u8]) -> bool {
    match bytes {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// Reads `decoder` to its end a chunk at a time, refusing the body one byte past `limit`.
fn read_bounded(
    mut decoder: impl Read,
    coding: ContentCoding,
    limit: usize,
    mut reserve: impl FnMut(usize) -> bool,
) -> Result<Vec<u8>, EncodingError> {
    // Room for the whole limit at once: memory only counts once written, and a buffer that
    // grew by doubling would copy itself, holding up to twice the limit for a moment.
    let mut decoded = Vec::with_capacity(limit.min(PREALLOCATE_AT_MOST));
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(decoded),
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(EncodingError::Mismatch {
                    coding: coding.name(),
                    reason: err.to_string(),
                })
            }
        };
        if decoded.len() + read > limit {
            return Err(EncodingError::TooLarge {
                coding: coding.name(),
                limit,
            });
        }
        if !reserve(read) {
            return Err(EncodingError::OverBudget);
        }
        decoded.extend_from_slice(&chunk[..read]);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::CONTENT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn unbounded(coding: ContentCoding, encoded: &[u8]) -> Result<Vec<u8>, EncodingError> {
        decode(coding, encoded, usize::MAX, |_| true)
    }

    #[test]
    fn the_declared_coding_is_read_case_insensitively_and_identity_is_no_coding() {
        assert_eq!(declared_coding(&headers(&[])), Ok(ContentCoding::Identity));
        assert_eq!(
            declared_coding(&headers(&["GZip"])),
            Ok(ContentCoding::Gzip)
        );
        assert_eq!(
            declared_coding(&headers(&["x-gzip"])),
            Ok(ContentCoding::Gzip)
        );
        assert_eq!(
            declared_coding(&headers(&["identity, deflate"])),
            Ok(ContentCoding::Deflate)
        );
        assert_eq!(
            declared_coding(&headers(&["zstd"])),
            Ok(ContentCoding::Zstd)
        );
        assert_eq!(
            declared_coding(&headers(&["identity"])),
            Ok(ContentCoding::Identity)
        );
    }

    #[test]
    fn unknown_and_stacked_codings_are_refused_naming_what_is_supported() {
        for declared in [
            &["br"][..],
            &["gzip, gzip"],
            &["gzip", "zstd"],
            &["compress"],
        ] {
            let refused = declared_coding(&headers(declared)).unwrap_err();
            assert!(
                matches!(refused, EncodingError::Unsupported(_)),
                "{declared:?}"
            );
            assert!(refused.to_string().contains(SUPPORTED), "{refused}");
        }
    }

    #[test]
    fn every_coding_round_trips() {
        let body = b"{\"topic\":\"t\"}\n".repeat(1_000);
        assert_eq!(unbounded(ContentCoding::Gzip, &gzip(&body)).unwrap(), body);
        assert_eq!(
            unbounded(ContentCoding::Deflate, &zlib(&body)).unwrap(),
            body
        );
        let zstd = zstd::stream::encode_all(&body[..], 3).unwrap();
        assert_eq!(unbounded(ContentCoding::Zstd, &zstd).unwrap(), body);
        assert_eq!(unbounded(ContentCoding::Identity, &body).unwrap(), body);
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut both = gzip(b"first\n");
        both.extend(gzip(b"second\n"));
        assert_eq!(
            unbounded(ContentCoding::Gzip, &both).unwrap(),
            b"first\nsecond\n"
        );
    }

    #[test]
    fn a_plain_body_labelled_with_a_coding_is_a_mismatch() {
        let plain = br#"{"index":{"_index":"bulk.gz","_id":"g1"}}"#;
        for coding in [
            ContentCoding::Gzip,
            ContentCoding::Deflate,
            ContentCoding::Zstd,
        ] {
            let refused = unbounded(coding, plain).unwrap_err();
            assert!(
                matches!(refused, EncodingError::Mismatch { coding: name, .. } if name == coding.name()),
                "{coding:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn truncated_or_trailing_bytes_are_a_mismatch() {
        let body = b"some log lines\n".repeat(100);
        let gzipped = gzip(&body);
        let truncated = &gzipped[..gzipped.len() - 5];
        assert!(matches!(
            unbounded(ContentCoding::Gzip, truncated),
            Err(EncodingError::Mismatch { .. })
        ));
        let mut trailing = gzipped.clone();
        trailing.extend_from_slice(b"junk");
        assert!(matches!(
            unbounded(ContentCoding::Gzip, &trailing),
            Err(EncodingError::Mismatch { .. })
        ));
        let mut zlib_trailing = zlib(&body);
        zlib_trailing.extend_from_slice(b"junk");
        assert!(matches!(
            unbounded(ContentCoding::Deflate, &zlib_trailing),
            Err(EncodingError::Mismatch { .. })
        ));
    }

    #[test]
    fn a_bomb_stops_one_chunk_past_the_limit_without_inflating_whole() {
        // 64 MiB of newlines compress to about 64 KiB.
        let bomb = gzip(&vec![b'\n'; 64 * 1024 * 1024]);
        let limit = 1024 * 1024;
        let mut reserved = 0;
        let refused = decode(ContentCoding::Gzip, &bomb, limit, |bytes| {
            reserved += bytes;
            true
        })
        .unwrap_err();
        assert_eq!(
            refused,
            EncodingError::TooLarge {
                coding: "gzip",
                limit
            }
        );
        assert!(reserved <= limit, "reserved {reserved} bytes");
    }

    #[test]
    fn a_body_of_exactly_the_limit_passes() {
        let body = vec![b'x'; 3 * CHUNK_BYTES + 17];
        let decoded = decode(ContentCoding::Gzip, &gzip(&body), body.len(), |_| true).unwrap();
        assert_eq!(decoded.len(), body.len());
    }

    #[test]
    fn a_refused_reservation_stops_decoding() {
        let body = vec![b'x'; 4 * CHUNK_BYTES];
        let mut chunks = 0;
        let refused = decode(ContentCoding::Gzip, &gzip(&body), usize::MAX, |_| {
            chunks += 1;
            chunks < 2
        });
        assert_eq!(refused, Err(EncodingError::OverBudget));
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_refused() {
        let body = vec![b'a'; 1024];
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        encoder.long_distance_matching(true).unwrap();
        encoder.window_log(27).unwrap();
        encoder.write_all(&body).unwrap();
        let encoded = encoder.finish().unwrap();
        assert!(matches!(
            unbounded(ContentCoding::Zstd, &encoded),
            Err(EncodingError::Mismatch { .. })
        ));
    }
}
