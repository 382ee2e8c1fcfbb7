//! The read token (DESIGN §4, §7): where it comes from, and the one place it is checked.
//!
//! The log data holds peer addresses, so every read endpoint sits behind
//! [`require_token`], applied as a layer on the router of read routes: a new read route
//! cannot forget it. The token comes from `PEERSCOPE_TOKEN` or from a file only its owner
//! can read — one of them, never both, never empty — and is one RFC 6750 token.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::http::error;
use super::state::AppState;
use crate::cli::UsageError;

/// The environment variable holding the read token.
pub const TOKEN_ENV: &str = "PEERSCOPE_TOKEN";

/// Whether `token` is one bearer token (RFC 6750 `b64token`).
fn is_token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// The read token: `PEERSCOPE_TOKEN`, or a file only its owner can read, or none.
/// Giving both, an empty one, or a file holding anything but the one token is a usage
/// error: a token that silently turned into "no token" would open the logs to anyone.
pub fn read_token(file: Option<&Path>) -> Result<Option<Vec<u8>>, UsageError> {
    let env = std::env::var_os(TOKEN_ENV);
    let token = match (env, file) {
        (Some(_), Some(path)) => {
            return Err(UsageError(format!(
                "both {TOKEN_ENV} and --token-file {} give a read token; give one",
                path.display()
            )));
        }
        (None, None) => return Ok(None),
        (Some(value), None) => {
            let Some(value) = value.to_str().map(str::to_owned) else {
                return Err(UsageError(format!("{TOKEN_ENV} is not valid UTF-8")));
            };
            if value.is_empty() {
                return Err(UsageError(format!(
                    "{TOKEN_ENV} is set but empty; unset it to run without a token"
                )));
            }
            value
        }
        (None, Some(path)) => crate::cli::secret_from_file(path, "token file")?,
    };
    if !is_token(&token) {
        return Err(UsageError(format!(
            "the read token must be one word of letters, digits and -._~+/ (a bearer token); {} is not",
            if file.is_some() {
                "the token file's"
            } else {
                "PEERSCOPE_TOKEN's"
            }
        )));
    }
    Ok(Some(token.into_bytes()))
}

/// The bearer token of an `Authorization` value; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii_start();
    (!token.is_empty()).then_some(token)
}

/// Compares in time that does not depend on where the two differ.
fn same(given: &[u8], token: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != token.len());
    for (i, t) in token.iter().enumerate() {
        diff |= t ^ given.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The layer on every read route: with a token configured, a request without the right
/// one gets 401 with `WWW-Authenticate: Bearer` and is counted.
pub async fn require_token(
    State(s): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &s.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()));
    if given.is_some_and(|g| same(g, token)) {
        return next.run(request).await;
    }
    s.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    let challenge = if given.is_some() {
        "Bearer realm=\"peerscope\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"peerscope\""
    };
    let mut resp = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_exact() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"BEARER   abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cre", b"s3cret"));
        assert!(!same(b"s3cret!", b"s3cret"));
        assert!(!same(b"", b"s3cret"));
    }

    #[test]
    fn a_token_is_one_bearer_word() {
        for good in ["s3cret", "a-b.c_d~e+f/g==", "x"] {
            assert!(is_token(good), "{good}");
        }
        for bad in ["", "two words", "tab\there", "line\nbreak", "==", "é"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_token_file_holds_the_token_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        let write = |text: &str| {
            std::fs::write(&path, text).expect("write");
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
            std::fs::set_permissions(&path, mode).expect("chmod");
        };
        for (text, ok) in [
            ("s3cret", true),
            ("s3cret\n", true),
            ("s3cret\r\n", true),
            ("", false),
            ("\n", false),
            ("s3cret\nother\n", false),
            ("s3cret\n\n", false),
            ("two words\n", false),
        ] {
            write(text);
            let token = crate::cli::secret_from_file(&path, "token file")
                .ok()
                .filter(|t| is_token(t));
            assert_eq!(token.is_some(), ok, "{text:?}");
        }
    }
}
