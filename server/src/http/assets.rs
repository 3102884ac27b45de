//! The compiled site (`/pkg`: wasm, JS, CSS): served pre-compressed with long-lived cache headers.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use tower_http::services::ServeDir;

/// With hashed file names a new build gets new URLs, so browsers may keep files for a year.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Without hashed names a rebuild keeps URLs, so browsers must revalidate.
const REVALIDATE: HeaderValue = HeaderValue::from_static("public, no-cache");
/// Files worth compressing.
const COMPRESSIBLE: &[&str] = &["wasm", "js", "css", "svg", "json", "html"];

/// A router serving `pkg_dir` under `/{pkg_route}`, preferring `.br` and `.gz` siblings of each file.
pub fn pkg_router(pkg_route: &str, pkg_dir: PathBuf, hashed_names: bool) -> Router {
    let files = ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip();
    let cache = if hashed_names { IMMUTABLE } else { REVALIDATE };
    Router::new().nest_service(pkg_route, files).layer(axum::middleware::map_response(
        move |mut response: axum::response::Response| {
            // A missing file must not be remembered for a year: the next deploy may add it.
            let value = if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                cache.clone()
            } else {
                HeaderValue::from_static("no-store")
            };
            response.headers_mut().insert(CACHE_CONTROL, value);
            async move { response }
        },
    ))
}

/// Writes `.br` and `.gz` siblings for every compressible file in `dir` that lacks a current one. Each is written
/// to a temporary name and renamed, so a request never sees half a file. Returns how many files were written.
pub fn precompress_dir(dir: &Path) -> std::io::Result<usize> {
    let mut written = 0;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    for entry in entries {
        let path = entry?.path();
        let compressible = path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| COMPRESSIBLE.contains(&ext));
        if !path.is_file() || !compressible {
            continue;
        }
        let source_modified = std::fs::metadata(&path)?.modified()?;
        for (suffix, compress) in [("br", brotli_bytes as fn(&[u8]) -> Vec<u8>), ("gz", gzip_bytes)] {
            let target = sibling(&path, suffix);
            let current =
                std::fs::metadata(&target).and_then(|meta| meta.modified()).is_ok_and(|m| m >= source_modified);
            if current {
                continue;
            }
            let compressed = compress(&std::fs::read(&path)?);
            let temporary = sibling(&path, &format!("{suffix}.tmp"));
            std::fs::write(&temporary, compressed)?;
            std::fs::rename(&temporary, &target)?;
            written += 1;
        }
    }
    Ok(written)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

fn brotli_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut output = Vec::new();
    {
        // Quality 11 (the best) costs a few seconds once per build and saves about a tenth of the download.
        let mut encoder = brotli::CompressorWriter::new(&mut output, 4096, 11, 22);
        encoder.write_all(bytes).expect("writing to memory cannot fail");
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precompression_writes_siblings_once_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.js"), "console.log('berth');".repeat(50)).unwrap();
        std::fs::write(dir.path().join("photo.png"), [0u8; 10]).unwrap();
        assert_eq!(precompress_dir(dir.path()).unwrap(), 2);
        assert!(dir.path().join("app.js.br").exists() && dir.path().join("app.js.gz").exists());
        assert!(!dir.path().join("photo.png.gz").exists());
        assert_eq!(precompress_dir(dir.path()).unwrap(), 0, "current siblings are left alone");
    }
}
