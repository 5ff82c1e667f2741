//! The OTLP exporter's HTTP client: plain HTTP/1.1 POSTs with the standard
//! library's sockets, each on a connection kept for the next request of
//! the same sender (`KeptConnection`: the span batches share one, the
//! metrics another). It exists so that exporting needs neither an async
//! runtime nor a TLS stack in the build (2-core CI); an `https` endpoint is
//! refused when the export is set up (send to a local collector over
//! `http`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};

/// An HTTP request that could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("OTLP endpoint {uri}: only http:// is supported (send to a local collector)")]
    Scheme { uri: String },
    #[error("OTLP endpoint {uri}: no host")]
    NoHost { uri: String },
    #[error("OTLP endpoint {uri}: cannot connect: {source}")]
    Connect {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("OTLP endpoint {uri}: {source}")]
    Io {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("OTLP endpoint {uri}: malformed HTTP response")]
    BadResponse { uri: String },
    #[error("OTLP endpoint {uri}: answered HTTP {status}")]
    Status { uri: String, status: u16 },
}

/// Sends OTLP requests over plain HTTP/1.1, with `timeout` for connecting,
/// writing and reading.
#[derive(Debug, Clone)]
pub struct PlainHttpClient {
    pub timeout: Duration,
}

/// Checks that `uri` is one [`PlainHttpClient`] can reach.
pub fn check_endpoint(uri: &str) -> Result<(), HttpClientError> {
    let parsed: http::Uri = uri.parse().map_err(|_| HttpClientError::NoHost {
        uri: uri.to_string(),
    })?;
    if parsed.scheme_str() != Some("http") {
        return Err(HttpClientError::Scheme {
            uri: uri.to_string(),
        });
    }
    if parsed.host().is_none() {
        return Err(HttpClientError::NoHost {
            uri: uri.to_string(),
        });
    }
    Ok(())
}

/// A connection kept open between the requests of one exporting thread, so
/// that a run's span batches do not each pay a new connection (and the
/// collector a new one).
#[derive(Debug, Default)]
pub(crate) struct KeptConnection {
    stream: Option<TcpStream>,
}

impl PlainHttpClient {
    /// A new connection to `request`'s host, with the client's timeouts.
    fn connect(&self, request: &Request<Bytes>) -> Result<TcpStream, HttpClientError> {
        let uri = request.uri().to_string();
        if request.uri().scheme_str() != Some("http") {
            return Err(HttpClientError::Scheme { uri });
        }
        let Some(host) = request.uri().host() else {
            return Err(HttpClientError::NoHost { uri });
        };
        let port = request.uri().port_u16().unwrap_or(80);
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|source| HttpClientError::Connect {
                uri: uri.clone(),
                source,
            })?;
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let Some(stream) = stream else {
            return Err(HttpClientError::Connect { uri, source: last });
        };
        let io = |source| HttpClientError::Io {
            uri: uri.clone(),
            source,
        };
        stream.set_read_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_write_timeout(Some(self.timeout)).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        Ok(stream)
    }

    /// Writes `request` on `stream` and reads the whole response's bytes
    /// (empty when the server closed the connection before answering).
    fn exchange(
        stream: &mut TcpStream,
        request: &Request<Bytes>,
        keep_alive: bool,
    ) -> std::io::Result<Vec<u8>> {
        let host = request.uri().host().unwrap_or_default();
        let port = request.uri().port_u16().unwrap_or(80);
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: {connection}\r\nContent-Length: {}\r\n",
            request.method(),
            request.body().len()
        );
        for (name, value) in request.headers() {
            if name == http::header::CONTENT_LENGTH || name == http::header::CONNECTION {
                continue;
            }
            if let Ok(v) = value.to_str() {
                head.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        // One write: a body sent after its head would wait for the head's
        // (delayed) acknowledgement on a kept connection, 40 ms on Linux.
        let mut message = head.into_bytes();
        message.extend_from_slice(request.body());
        stream.write_all(&message)?;
        // Read until the response is complete (by its length, or its last
        // chunk), not until the server closes: some keep the connection.
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if response_complete(&raw) {
                break;
            }
        }
        Ok(raw)
    }

    /// POSTs `request` on `connection` when it is open (again on a new one
    /// if the collector closed it meanwhile), reads the whole response, and
    /// keeps the connection open unless the collector says it closes it.
    fn post_kept(
        &self,
        connection: &mut KeptConnection,
        request: &Request<Bytes>,
    ) -> Result<Response<Bytes>, HttpClientError> {
        let uri = request.uri().to_string();
        if let Some(mut stream) = connection.stream.take() {
            if let Ok(raw) = Self::exchange(&mut stream, request, true) {
                if let Some(response) = parse_response(&raw) {
                    if !closes(&response) {
                        connection.stream = Some(stream);
                    }
                    return Ok(response);
                }
            }
            // A connection the collector closed while idle: a new one.
        }
        let mut stream = self.connect(request)?;
        let raw =
            Self::exchange(&mut stream, request, true).map_err(|source| HttpClientError::Io {
                uri: uri.clone(),
                source,
            })?;
        let response = parse_response(&raw).ok_or(HttpClientError::BadResponse { uri })?;
        if !closes(&response) {
            connection.stream = Some(stream);
        }
        Ok(response)
    }
}

/// Whether the server closes the connection after `response`.
fn closes(response: &Response<Bytes>) -> bool {
    response
        .headers()
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

impl PlainHttpClient {
    /// POSTs an OTLP protobuf `body` to `uri` with `headers` on
    /// `connection`; an error unless the collector answers 2xx.
    pub(crate) fn post_protobuf(
        &self,
        connection: &mut KeptConnection,
        uri: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<(), HttpClientError> {
        let mut request =
            Request::post(uri).header(http::header::CONTENT_TYPE, "application/x-protobuf");
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request
            .body(Bytes::from(body))
            .map_err(|_| HttpClientError::NoHost {
                uri: uri.to_string(),
            })?;
        let response = self.post_kept(connection, &request)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(HttpClientError::Status {
                uri: uri.to_string(),
                status: response.status().as_u16(),
            })
        }
    }
}

/// What an OTLP request carries, for the variables named after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
}

/// The extra headers of `signal`'s requests, as the OpenTelemetry SDKs read
/// them: `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (or `..._METRICS_HEADERS`),
/// else `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key2=value2`, values
/// percent-encoded).
pub(crate) fn headers_from_environment(signal: Signal) -> Vec<(String, String)> {
    let specific = match signal {
        Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    };
    let value = std::env::var(specific)
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_HEADERS"))
        .unwrap_or_default();
    parse_key_value_list(&value)
}

/// `key=value` pairs separated by commas, values percent-encoded (the
/// format of the SDKs' header and resource-attribute variables); pairs
/// with an empty key or value are left out.
pub(crate) fn parse_key_value_list(value: &str) -> Vec<(String, String)> {
    value
        .split_terminator(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let (key, value) = (key.trim(), value.trim());
            let value = percent_decode(value).unwrap_or_else(|| value.to_string());
            (!key.is_empty() && !value.is_empty()).then(|| (key.to_string(), value))
        })
        .collect()
}

/// `value` with its `%XX` escapes decoded; `None` when one is malformed.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `raw` holds a whole response: its head and as many body bytes as
/// `Content-Length` says, or a chunked body's last chunk.
fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = raw.len() - (end + 4);
    for line in head.split("\r\n") {
        if let Some(v) = line.strip_prefix("content-length:") {
            return v.trim().parse::<usize>().is_ok_and(|n| body >= n);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            return raw.ends_with(b"0\r\n\r\n");
        }
    }
    false
}

/// A whole HTTP/1.1 response (a chunked body is joined).
fn parse_response(raw: &[u8]) -> Option<Response<Bytes>> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut builder = Response::builder().status(status);
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        builder = builder.header(name.trim(), value);
    }
    let mut body = &raw[end + 4..];
    let body = if chunked {
        let mut joined = Vec::new();
        loop {
            let line_end = body.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            body = &body[line_end + 2..];
            if size == 0 {
                break;
            }
            joined.extend_from_slice(body.get(..size)?);
            body = body.get(size + 2..)?;
        }
        joined
    } else {
        body.to_vec()
    };
    builder.body(Bytes::from(body)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn reads_plain_and_chunked_responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").expect("plain");
        assert_eq!((r.status().as_u16(), r.body().as_ref()), (200, &b"ok"[..]));
        let r = parse_response(
            b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!(
            (r.status().as_u16(), r.body().as_ref()),
            (400, &b"abcde"[..])
        );
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"
        ));
        assert!(check_endpoint("https://collector:4318").is_err());
        assert!(check_endpoint("http://127.0.0.1:4318").is_ok());
    }

    /// A server on 127.0.0.1 answering 200 to each request; it closes a
    /// connection after `per_connection` requests. Returns its URL and the
    /// count of connections and requests it served.
    fn counting_server(per_connection: usize) -> (String, Arc<Mutex<(usize, usize)>>) {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/v1/traces",
            listener.local_addr().expect("address")
        );
        let counts = Arc::new(Mutex::new((0, 0)));
        let shared = Arc::clone(&counts);
        std::thread::spawn(move || {
            'connections: for stream in listener.incoming().flatten() {
                shared.lock().expect("lock").0 += 1;
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                for _ in 0..per_connection {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            continue 'connections;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().expect("length");
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).expect("body");
                    shared.lock().expect("lock").1 += 1;
                    writer
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .expect("answer");
                }
            }
        });
        (url, counts)
    }

    #[test]
    fn requests_share_one_connection_until_the_server_closes_it() {
        let client = PlainHttpClient {
            timeout: Duration::from_secs(10),
        };
        let (url, counts) = counting_server(usize::MAX);
        let mut connection = KeptConnection::default();
        for _ in 0..3 {
            client
                .post_protobuf(&mut connection, &url, &[], vec![1, 2, 3])
                .expect("sent");
        }
        assert_eq!(*counts.lock().expect("lock"), (1, 3));

        // A server that closes after each request: every request still
        // arrives, each on a new connection.
        let (url, counts) = counting_server(1);
        let mut connection = KeptConnection::default();
        for _ in 0..3 {
            client
                .post_protobuf(&mut connection, &url, &[], vec![4])
                .expect("sent");
        }
        assert_eq!(*counts.lock().expect("lock"), (3, 3));
    }

    #[test]
    fn reads_headers_as_the_sdks_do() {
        assert_eq!(
            parse_key_value_list("api-key = a%20b ,empty=, =x,team=core"),
            vec![
                ("api-key".to_string(), "a b".to_string()),
                ("team".to_string(), "core".to_string())
            ]
        );
        assert_eq!(parse_key_value_list(""), vec![]);
    }
}
