//! The log explorer: the page at `GET /` and the files it loads under `/ui/assets/`, built
//! from `ui/` (`npm run build` writes `ui/dist`, which is committed) and embedded in the
//! binary, so serving it needs neither Node nor files next to the binary.
//!
//! These routes are open even when API keys are set: the page holds no data, asks the user
//! for a key when the API refuses it, and sends that key with its own calls.
//!
//! The built files are named by their content hash, so they are cached for a year; the page
//! itself is revalidated on every load (its ETag), so a new build reaches browsers at once.
//! Text files are sent gzip-compressed to the browsers that accept it, compressed once on
//! first use.

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use include_dir::{Dir, include_dir};
use std::{collections::HashMap, io::Write, sync::LazyLock};
use traceflow_http::json_error;

static BUILT: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../ui/dist");

/// Everything the page may load comes from this service: the browser refuses any other
/// host, so the explorer works offline and cannot leak a query elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
    connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// How long a browser keeps a file before asking again.
#[derive(Clone, Copy)]
enum Caching {
    /// The page: every load asks (and gets a 304 while it is unchanged).
    Revalidate,
    /// A hashed asset: its name changes with its content.
    Immutable,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Caching::Revalidate => "no-cache",
            Caching::Immutable => "public, max-age=31536000, immutable",
        }
    }
}

/// One built file, ready to send.
struct Asset {
    bytes: &'static [u8],
    /// The gzip form, for text files.
    gzipped: Option<Vec<u8>>,
    content_type: &'static str,
    etag: String,
}

/// Every built file by its path under `ui/dist` (`index.html`, `assets/index-….js`).
static ASSETS: LazyLock<HashMap<&'static str, Asset>> = LazyLock::new(|| {
    let mut assets = HashMap::new();
    collect(&BUILT, &mut assets);
    assets
});

fn collect(dir: &'static Dir<'static>, assets: &mut HashMap<&'static str, Asset>) {
    for file in dir.files() {
        let path = file.path().to_str().expect("built file names are UTF-8");
        let (content_type, text) = content_type(path);
        assets.insert(
            path,
            Asset {
                bytes: file.contents(),
                gzipped: text.then(|| gzip(file.contents())),
                content_type,
                etag: format!("\"{:016x}\"", fnv1a(file.contents())),
            },
        );
    }
    for sub in dir.dirs() {
        collect(sub, assets);
    }
}

/// The `Content-Type` of a built file and whether it is text (worth compressing).
fn content_type(path: &str) -> (&'static str, bool) {
    match path.rsplit_once('.').map_or("", |(_, extension)| extension) {
        "html" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "png" => ("image/png", false),
        "ico" => ("image/x-icon", false),
        "woff2" => ("font/woff2", false),
        _ => ("application/octet-stream", false),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .expect("writing to memory does not fail");
    encoder.finish().expect("writing to memory does not fail")
}

/// A stable content hash for the ETag (FNV-1a, 64 bits): the same build gives the same tag
/// in every process.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether the request's `Accept-Encoding` takes gzip (or anything, `*`) without refusing
/// it with a zero weight (`gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn send(path: &str, request: &HeaderMap, caching: Caching) -> Response {
    let Some(asset) = ASSETS.get(path) else {
        return json_error(StatusCode::NOT_FOUND, format!("no such file: /ui/{path}"));
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(caching.header()),
    );
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&asset.etag).expect("a hex tag is a valid header"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.gzipped.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    let body = match &asset.gzipped {
        Some(gzipped) if accepts_gzip(request) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            gzipped.clone()
        }
        _ => asset.bytes.to_vec(),
    };
    (headers, body).into_response()
}

/// The log explorer page.
#[utoipa::path(get, path = "/", tag = "explorer", responses(
    (status = 200, description = "The log explorer (HTML); open without a key, it asks for one when the API needs it", content_type = "text/html"),
))]
pub(crate) async fn page(headers: HeaderMap) -> Response {
    let mut response = send("index.html", &headers, Caching::Revalidate);
    let security = response.headers_mut();
    security.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    security.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A script, stylesheet or image of the explorer, named by its content hash.
#[utoipa::path(get, path = "/ui/assets/{file}", tag = "explorer",
    params(("file" = String, Path, description = "A built file's name, as the page links it")),
    responses(
        (status = 200, description = "The file, cached for a year (its name changes with its content)"),
        (status = 404, description = "No such file", body = traceflow_http::ErrorBody),
    ))]
pub(crate) async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    send(&format!("assets/{file}"), &headers, Caching::Immutable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn gzip_only_when_accepted() {
        assert!(accepts_gzip(&accept("gzip, deflate, br")));
        assert!(accepts_gzip(&accept("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&accept("*")));
        assert!(!accepts_gzip(&accept("gzip;q=0")));
        assert!(!accepts_gzip(&accept("gzip; q=0.000")));
        assert!(!accepts_gzip(&accept("br, zstd")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_page_and_its_files_are_embedded() {
        let page = ASSETS
            .get("index.html")
            .expect("ui/dist/index.html is built");
        let text = std::str::from_utf8(page.bytes).unwrap();
        let linked: Vec<&str> = text
            .split('"')
            .filter_map(|part| part.strip_prefix("/ui/"))
            .collect();
        assert!(linked.iter().any(|path| path.ends_with(".js")), "{text}");
        for path in linked {
            assert!(ASSETS.contains_key(path), "the page links /ui/{path}");
        }
    }

    #[test]
    fn types_follow_extensions() {
        assert_eq!(
            content_type("assets/index-1a2b.js").0,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/style-1a2b.css").0,
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("index.html").0, "text/html; charset=utf-8");
        assert_eq!(content_type("assets/logo.png"), ("image/png", false));
        assert_eq!(content_type("LICENSE"), ("application/octet-stream", false));
    }
}
