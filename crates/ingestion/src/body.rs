//! A request body as every ingest route reads it: its `Content-Encoding` undone under the
//! size limit, so a compression bomb costs no more than the limit.

use crate::{Rejection, rejection::Refusal};
use axum::{
    body::Bytes,
    http::{HeaderMap, header::CONTENT_ENCODING},
};
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use std::io::Read;

/// The body with its `Content-Encoding` undone (gzip, deflate, zstd, snappy or none), at most
/// `limit` bytes once decoded: reading stops one byte past the limit.
pub(crate) fn decode(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, Rejection> {
    let coding = headers
        .get(CONTENT_ENCODING)
        .map(|value| {
            value
                .to_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let decoded: Bytes = match coding.as_str() {
        "" | "identity" => body,
        "gzip" | "x-gzip" => read_all("gzip", MultiGzDecoder::new(&body[..]), limit)?.into(),
        // HTTP's "deflate" is zlib-wrapped; some clients send the raw stream.
        "deflate" => match read_all("deflate", ZlibDecoder::new(&body[..]), limit) {
            Err(Rejection::Invalid(_)) => {
                read_all("deflate", DeflateDecoder::new(&body[..]), limit)?
            }
            other => other?,
        }
        .into(),
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(&body[..])
                .map_err(|error| undecodable("zstd", &error))?;
            read_all("zstd", decoder, limit)?.into()
        }
        // The block format, as the Prometheus and Loki ecosystems send it.
        "snappy" => snappy_block(&body, limit)?.into(),
        other => {
            return Err(Rejection::UnsupportedMediaType(format!(
                "Content-Encoding {other:?} is not supported; use gzip, deflate, zstd, snappy or none"
            )));
        }
    };
    if decoded.len() > limit {
        return Err(Rejection::TooLarge { limit });
    }
    Ok(decoded)
}

/// A snappy block (not the framed format), refused before it is inflated when its header
/// says it is larger than `limit`.
pub(crate) fn snappy_block(body: &[u8], limit: usize) -> Result<Vec<u8>, Rejection> {
    let length = snap::raw::decompress_len(body).map_err(|error| undecodable("snappy", &error))?;
    if length > limit {
        return Err(Rejection::TooLarge { limit });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|error| undecodable("snappy", &error))
}

/// A JSON or text body without the UTF-8 byte order mark some clients put first.
pub(crate) fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

fn read_all(coding: &str, reader: impl Read, limit: usize) -> Result<Vec<u8>, Rejection> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|error| undecodable(coding, &error))?;
    Ok(out)
}

fn undecodable(coding: &str, error: &dyn std::fmt::Display) -> Rejection {
    Rejection::Invalid(Refusal::malformed(format!(
        "the body is not valid {coding}: {error}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use flate2::{
        Compression,
        write::{DeflateEncoder, GzEncoder, ZlibEncoder},
    };
    use std::io::Write;

    fn encoded(coding: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
        headers
    }

    fn deflated<W: Write>(
        mut encoder: W,
        finish: impl FnOnce(W) -> Vec<u8>,
        data: &[u8],
    ) -> Vec<u8> {
        encoder.write_all(data).unwrap();
        finish(encoder)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        deflated(
            GzEncoder::new(Vec::new(), Compression::default()),
            |e| e.finish().unwrap(),
            data,
        )
    }

    #[test]
    fn every_coding_is_undone_within_the_limit() {
        let plain = b"hello ".repeat(100);
        let bodies = [
            ("identity", plain.clone()),
            ("gzip", gzip(&plain)),
            (
                "deflate",
                deflated(
                    ZlibEncoder::new(Vec::new(), Compression::default()),
                    |e| e.finish().unwrap(),
                    &plain,
                ),
            ),
            (
                "deflate",
                deflated(
                    DeflateEncoder::new(Vec::new(), Compression::default()),
                    |e| e.finish().unwrap(),
                    &plain,
                ),
            ),
            ("zstd", zstd::encode_all(&plain[..], 3).unwrap()),
            (
                "snappy",
                snap::raw::Encoder::new().compress_vec(&plain).unwrap(),
            ),
        ];
        for (coding, body) in bodies {
            let body = Bytes::from(body);
            assert_eq!(
                decode(&encoded(coding), body.clone(), 600).unwrap(),
                plain,
                "{coding}"
            );
            assert!(
                matches!(
                    decode(&encoded(coding), body, 599),
                    Err(Rejection::TooLarge { limit: 599 })
                ),
                "{coding}"
            );
        }
        assert_eq!(
            decode(&HeaderMap::new(), Bytes::from(plain.clone()), 600).unwrap(),
            plain
        );
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 1 GiB of zeros in about 1 MiB (1024 gzip members of 1 MiB each, which gzip
        // allows); only limit + 1 bytes are ever inflated.
        let bomb = gzip(&vec![0u8; 1 << 20]).repeat(1024);
        assert!(matches!(
            decode(&encoded("gzip"), bomb.into(), 1 << 20),
            Err(Rejection::TooLarge { .. })
        ));
        let zeros = zstd::encode_all(&vec![0u8; 64 << 20][..], 3).unwrap();
        assert!(matches!(
            decode(&encoded("zstd"), zeros.into(), 1 << 20),
            Err(Rejection::TooLarge { .. })
        ));
    }

    #[test]
    fn bad_data_and_unknown_codings_say_so() {
        let message = |coding, body: &'static [u8]| {
            decode(&encoded(coding), Bytes::from_static(body), 100)
                .unwrap_err()
                .to_string()
        };
        assert!(message("gzip", b"not gzip").starts_with("the body is not valid gzip: "));
        assert!(message("snappy", &[0xff; 8]).starts_with("the body is not valid snappy: "));
        assert_eq!(
            message("br", b"x"),
            "Content-Encoding \"br\" is not supported; use gzip, deflate, zstd, snappy or none"
        );
        assert_eq!(without_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(without_bom(b"{}"), b"{}");
    }
}
