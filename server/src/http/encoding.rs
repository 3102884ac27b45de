//! Choosing a content encoding from `Accept-Encoding`.

use axum::http::header::{ACCEPT_ENCODING, HeaderMap, HeaderValue};

/// An encoding Berth can serve pre-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Uncompressed.
    Identity,
    /// gzip.
    Gzip,
    /// Brotli.
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` value, if any.
    pub fn header_value(self) -> Option<HeaderValue> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
            Encoding::Brotli => Some(HeaderValue::from_static("br")),
        }
    }
}

/// The best encoding the request accepts: Brotli, then gzip, then none. A coding with `q=0` is refused.
pub fn preferred_encoding(headers: &HeaderMap) -> Encoding {
    let mut brotli = false;
    let mut gzip = false;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|param| {
                let param = param.trim();
                param.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            if refused {
                continue;
            }
            match coding.to_ascii_lowercase().as_str() {
                "br" => brotli = true,
                "gzip" | "x-gzip" => gzip = true,
                "*" => {
                    brotli = true;
                    gzip = true;
                }
                _ => {}
            }
        }
    }
    if brotli {
        Encoding::Brotli
    } else if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(value: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        preferred_encoding(&headers)
    }

    #[test]
    fn prefers_brotli_then_gzip_and_honours_q_zero() {
        assert_eq!(choose("gzip, deflate, br, zstd"), Encoding::Brotli);
        assert_eq!(choose("gzip"), Encoding::Gzip);
        assert_eq!(choose("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(choose("identity"), Encoding::Identity);
        assert_eq!(choose("*"), Encoding::Brotli);
        assert_eq!(preferred_encoding(&HeaderMap::new()), Encoding::Identity);
    }
}
