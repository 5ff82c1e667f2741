//! Who may talk to the server: the checks local web servers such as Jupyter
//! make, because binding to loopback does not stop a page in the user's own
//! browser from sending requests to it.
//!
//! - **Host** (DNS rebinding): a request is answered only when its `Host`
//!   names the bound address: a loopback name (`localhost`, `127.0.0.1`,
//!   `[::1]`), the bound IP, or the host name given to `tkr serve --host`,
//!   with the bound port. Else `421 Misdirected Request`. When bound to every
//!   address (`0.0.0.0`, `::`), any name is accepted and the token below is
//!   what protects the API.
//! - **Origin** (cross-site requests): a state-changing request (anything
//!   but `GET`, `HEAD`, `OPTIONS`) whose `Origin`, or failing that `Referer`,
//!   is not this server is refused with `403`. A request with neither (curl,
//!   scripts) is not a browser's cross-site request and is let through.
//! - **Token**: when bound to a non-loopback address, the API requires the
//!   per-server token, given as `?token=`, `Authorization: Bearer`, or the
//!   `tkr_token` cookie that opening the printed URL sets; else `401`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The cookie carrying the token after the printed URL was opened.
pub const TOKEN_COOKIE: &str = "tkr_token";

/// What the server accepts, fixed once it is bound.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    /// Host names (lower case, IPv6 in brackets) accepted with `port`.
    host_names: Vec<String>,
    /// Bound to every address: any host name is accepted.
    any_host: bool,
    /// The bound port.
    port: u16,
    /// The token the API requires, when bound to a non-loopback address.
    token: Option<String>,
}

impl AccessPolicy {
    /// The policy for a server bound at `bound`, asked for as `host_name`
    /// (e.g. `localhost`, `myhost.example`): a token is made when the bound
    /// address is not loopback.
    pub fn for_bound_address(bound: SocketAddr, host_name: Option<&str>) -> AccessPolicy {
        let ip = bound.ip();
        let mut host_names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        host_names.push(host_text(ip));
        if let Some(name) = host_name {
            host_names.push(name.to_ascii_lowercase());
        }
        host_names.sort();
        host_names.dedup();
        let token = (!ip.is_loopback()).then(|| uuid::Uuid::new_v4().simple().to_string());
        AccessPolicy {
            host_names,
            any_host: ip.is_unspecified(),
            port: bound.port(),
            token,
        }
    }

    /// The token the API requires, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether `host` (a `Host` header or an origin's authority,
    /// `name[:port]`) names this server.
    fn accepts_host(&self, host: &str) -> bool {
        let (name, port) = split_host_port(host);
        let port_ok = match port {
            Some(p) => p == self.port,
            None => self.port == 80,
        };
        port_ok && (self.any_host || self.host_names.iter().any(|h| h == &name))
    }

    /// Why a request is refused, if it is.
    fn refusal(
        &self,
        method: &Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
    ) -> Option<Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| uri.authority().map(|a| a.to_string()));
        match host {
            Some(h) if self.accepts_host(&h) => {}
            Some(h) => return Some(Refusal::Host(h)),
            None => return Some(Refusal::Host(String::new())),
        }
        let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes_state {
            let origin = headers
                .get(header::ORIGIN)
                .map(|o| ("Origin", o))
                .or_else(|| headers.get(header::REFERER).map(|r| ("Referer", r)));
            if let Some((which, value)) = origin {
                let text = value.to_str().unwrap_or("");
                let same = authority_of(text).is_some_and(|a| self.accepts_host(&a));
                if !same {
                    return Some(Refusal::Origin {
                        header: which,
                        value: text.to_owned(),
                    });
                }
            }
        }
        if let Some(token) = &self.token {
            let is_api = uri.path().starts_with("/api/") || uri.path() == "/api";
            let given = query_token(uri)
                .or_else(|| bearer_token(headers))
                .or_else(|| cookie_token(headers));
            let page = uri.path() == "/" || uri.path() == "/index.html";
            if (is_api || page) && given.as_deref() != Some(token.as_str()) {
                return Some(Refusal::Token);
            }
        }
        None
    }
}

/// Why a request was refused.
#[derive(Debug)]
enum Refusal {
    Host(String),
    Origin { header: &'static str, value: String },
    Token,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Refusal::Host(h) => (
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "the Host {h:?} does not name this server; open it by the address `tkr serve` printed (a page on another site reaching it through DNS rebinding is refused)"
                ),
            ),
            Refusal::Origin { header, value } => (
                StatusCode::FORBIDDEN,
                format!(
                    "refused a state-changing request from {header} {value:?}: only the server's own page may restart tasks"
                ),
            ),
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                "this server needs its token: open the URL `tkr serve` printed (with ?token=...), or send Authorization: Bearer TOKEN".to_owned(),
            ),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// The middleware: refuses what the policy refuses; a page opened with the
/// right `?token=` gets the token as a same-site cookie for its API calls.
pub async fn guard(
    State(policy): State<Arc<AccessPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refusal) = policy.refusal(request.method(), request.uri(), request.headers()) {
        tracing::info!(uri = %request.uri(), ?refusal, "request refused");
        return refusal.into_response();
    }
    let set_cookie = policy
        .token()
        .filter(|t| query_token(request.uri()).as_deref() == Some(*t))
        .map(|t| format!("{TOKEN_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict"));
    let mut response = next.run(request).await;
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `127.0.0.1`, `[::1]`: an IP as it appears in a Host header.
fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// (lower-case name, port) of `name[:port]`, `[v6][:port]`.
fn split_host_port(host: &str) -> (String, Option<u16>) {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => (format!("[{v6}]"), after.strip_prefix(':')),
            None => (host.to_owned(), None),
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n.to_owned(), Some(p)),
            None => (host.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => match p.parse() {
            Ok(p) => Some(p),
            // An unparsable port never matches.
            Err(_) => Some(0),
        },
        None => None,
    };
    (name.to_ascii_lowercase(), port)
}

/// The `host[:port]` of an `http://` origin or URL; `None` for any other
/// scheme or `null`.
fn authority_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // user:password@ is never part of our origin.
    (!authority.is_empty() && !authority.contains('@')).then(|| authority.to_owned())
}

fn query_token(uri: &axum::http::Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(str::to_owned)
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{TOKEN_COOKIE}="))
                .map(str::to_owned)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins_are_parsed_strictly() {
        assert_eq!(
            split_host_port("LocalHost:8000"),
            ("localhost".into(), Some(8000))
        );
        assert_eq!(split_host_port("[::1]:80"), ("[::1]".into(), Some(80)));
        assert_eq!(split_host_port("a:b"), ("a".into(), Some(0)));
        assert_eq!(
            authority_of("http://127.0.0.1:8000/x?y"),
            Some("127.0.0.1:8000".into())
        );
        assert_eq!(authority_of("null"), None);
        assert_eq!(authority_of("https://127.0.0.1:8000"), None);
        assert_eq!(authority_of("http://evil@127.0.0.1:8000"), None);
        let p = AccessPolicy::for_bound_address("127.0.0.1:8000".parse().expect("addr"), None);
        assert!(p.accepts_host("localhost:8000"));
        assert!(!p.accepts_host("localhost:8001"));
        assert!(!p.accepts_host("evil.example:8000"));
        assert!(p.token().is_none());
        let p = AccessPolicy::for_bound_address("0.0.0.0:8000".parse().expect("addr"), None);
        assert!(p.accepts_host("myhost:8000"));
        assert!(p.token().is_some_and(|t| t.len() == 32));
    }
}
