//! Shared by the server's integration tests: real checkpoint folders made by
//! running graphs with the controller library (finished, failed, running),
//! the real server on a loopback port with a tiny HTTP/SSE client over
//! `TcpStream`, the same routes and access checks driven without a socket
//! (`tower::ServiceExt::oneshot`), and the test binary standing in for `tkr
//! resume` (the server restarts tasks by running `<tkr_exe> resume
//! --checkpoints DIR -q ID`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tierkreis_controller::executor::DefaultExecutor;
use tierkreis_controller::runtime;
use tierkreis_controller::scheduler::Outcome;
use tierkreis_core::GraphData;
use tierkreis_storage::{ControllerStorage, FileControllerStorage, WorkflowLock};
use uuid::Uuid;

pub mod cdp;

/// The fixtures recorded from the reference.
pub fn fixtures() -> PathBuf {
    tierkreis_test_support::fixtures_dir()
}

/// If this process was started as `<exe> resume --checkpoints DIR -q ID`
/// (by the server, after a restart), resume that workflow and exit.
pub fn act_as_tkr_resume() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("resume") {
        return;
    }
    let dir = args
        .iter()
        .position(|a| a == "--checkpoints")
        .and_then(|i| args.get(i + 1))
        .expect("--checkpoints DIR");
    let id = Uuid::parse_str(args.last().expect("id")).expect("a workflow id");
    let storage = FileControllerStorage::new(dir, id, None);
    let _lock = WorkflowLock::acquire(storage.workflow_dir()).expect("lock");
    let outcome = drive(Arc::new(storage), true);
    std::process::exit(match outcome {
        Outcome::Finished => 0,
        _ => 1,
    });
}

fn drive(storage: Arc<dyn ControllerStorage>, resume: bool) -> Outcome {
    let mut executor = DefaultExecutor::new();
    runtime::run(storage, resume, &mut executor, &mut |_| {}).expect("the run")
}

/// Runs `graph` as workflow `id` in `tkr_dir` with builtins, holding the
/// controller lock like `tkr run`.
pub fn run_graph(tkr_dir: &Path, id: Uuid, graph: &str, inputs: &[(&str, Vec<u8>)]) -> Outcome {
    let graph = GraphData::from_json(graph.as_bytes()).expect("graph");
    let storage = FileControllerStorage::new(tkr_dir, id, Some(format!("test {}", id.as_u128())));
    let _lock = WorkflowLock::acquire(storage.workflow_dir()).expect("lock");
    let inputs: IndexMap<String, Vec<u8>> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    runtime::start_workflow(&storage, &graph, &inputs).expect("start");
    drive(Arc::new(storage), false)
}

/// Runs `graph` as workflow `id` (named `name`) in `tkr_dir` with builtins
/// and `options`, holding the controller lock like `tkr run`.
pub fn run_graph_with_options(
    tkr_dir: &Path,
    id: Uuid,
    name: Option<&str>,
    graph: &str,
    options: &runtime::RunOptions,
) -> Outcome {
    let graph = GraphData::from_json(graph.as_bytes()).expect("graph");
    let storage = FileControllerStorage::new(tkr_dir, id, name.map(str::to_string));
    let _lock = WorkflowLock::acquire(storage.workflow_dir()).expect("lock");
    runtime::start_workflow(&storage, &graph, &Default::default()).expect("start");
    runtime::run_with_options(
        Arc::new(storage),
        options,
        &mut DefaultExecutor::new(),
        &mut |_| {},
        runtime::RunEventChannel::new(),
    )
    .expect("run")
}

/// `1 + 2` at `-.N2`, then `+ 2` at `-.N3`, both breakpoints, run as
/// workflow `id` in `tkr_dir` with breakpoints on; the run pauses at `-.N2`,
/// and the outcome says so.
pub fn run_to_first_breakpoint(tkr_dir: &Path, id: Uuid) -> Outcome {
    use tierkreis_controller::scheduler::Breakpoints;
    let options = runtime::RunOptions {
        resume: false,
        breakpoints: Breakpoints {
            from_metadata: true,
            ..Breakpoints::default()
        },
        ..runtime::RunOptions::default()
    };
    let graph = tierkreis_test_support::graphs::iadd_chain_graph(2, &[2, 3]);
    run_graph_with_options(tkr_dir, id, None, &graph, &options)
}

/// [`run_graph`] on a thread of its own.
pub fn spawn_graph(
    tkr_dir: &Path,
    id: Uuid,
    graph: String,
    inputs: Vec<(&'static str, Vec<u8>)>,
) -> std::thread::JoinHandle<Outcome> {
    let dir = tkr_dir.to_path_buf();
    std::thread::spawn(move || run_graph(&dir, id, &graph, &inputs))
}

/// Writes the PNG to `target/artifacts/<artifact>`, and to `docs/<doc>` (a
/// picture in the README) when `TKR_UPDATE_SCREENSHOT` is set.
pub fn save_screenshot(png: &[u8], artifact: &str, doc: &str) -> Result<(), libtest_mimic::Failed> {
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let root = tierkreis_test_support::workspace_root();
    let artifacts = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("artifacts");
    std::fs::create_dir_all(&artifacts)?;
    std::fs::write(artifacts.join(artifact), png)?;
    if std::env::var_os("TKR_UPDATE_SCREENSHOT").is_some() {
        std::fs::create_dir_all(root.join("docs"))?;
        std::fs::write(root.join("docs").join(doc), png)?;
    }
    Ok(())
}

/// The reference's `typed_map_simple` graph (map `-.N3` doubling each
/// element of the input `value`).
pub fn map_graph() -> String {
    std::fs::read_to_string(fixtures().join("conformance/typed_map_simple/graph.json"))
        .expect("fixture graph")
}

/// The same map dividing 12 by each element: an element `0` fails its
/// `-.N3.M<i>.N2` (`builtins.idivide`).
pub fn divide_map_graph() -> String {
    let g = map_graph();
    assert!(
        g.contains(r#""value":2,"inputs""#),
        "the fixture's const changed"
    );
    g.replace("builtins.itimes", "builtins.idivide")
        .replace(r#""value":2,"inputs""#, r#""value":12,"inputs""#)
}

/// A JSON list of integers as input bytes.
pub fn int_list(xs: impl IntoIterator<Item = i64>) -> Vec<u8> {
    let items: Vec<String> = xs.into_iter().map(|x| x.to_string()).collect();
    format!("[{}]", items.join(", ")).into_bytes()
}

/// A running server on a loopback port; its runtime lives on a thread.
pub struct TestServer {
    /// Where to connect (a loopback address even when bound to all).
    pub addr: SocketAddr,
    pub tkr_dir: PathBuf,
    /// The token the API requires, when bound to a non-loopback address.
    pub token: Option<String>,
}

/// Starts the real server on `127.0.0.1:0` over `tkr_dir`, with this test
/// binary as the `tkr` it runs for `resume`.
pub fn start_server(tkr_dir: &Path) -> TestServer {
    start_server_at(tkr_dir, "127.0.0.1:0")
}

/// [`start_server`] bound at `bind` (e.g. `0.0.0.0:0`); requests still go
/// to loopback.
pub fn start_server_at(tkr_dir: &Path, bind: &str) -> TestServer {
    let bind: SocketAddr = bind.parse().expect("bind address");
    let config = tierkreis_server::ServerConfig {
        tkr_dir: tkr_dir.to_path_buf(),
        tkr_exe: std::env::current_exe().expect("current exe"),
        host_name: None,
        resume_args: Vec::new(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let server = tierkreis_server::Server::bind(bind, config)
                .await
                .expect("bind");
            let token = server.token().map(str::to_owned);
            tx.send((server.local_addr().expect("addr"), token))
                .expect("send addr");
            server.run(std::future::pending()).await.expect("serve");
        });
    });
    let (bound, token) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server started");
    let addr = SocketAddr::new("127.0.0.1".parse().expect("loopback"), bound.port());
    TestServer {
        addr,
        tkr_dir: tkr_dir.to_path_buf(),
        token,
    }
}

/// Sends requests to a server under test: over a real socket
/// ([`TestServer`]) or handed to its routes directly ([`RouterServer`]).
/// Either way the request carries a `Host` (the server's address unless one
/// is given), as a browser's does.
pub trait Api {
    /// One request with extra headers; a `Host` among them replaces the
    /// default. The path is sent exactly as given (no normalisation of `..`).
    fn request_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp;

    fn get(&self, path: &str) -> Resp {
        self.request_with("GET", path, &[])
    }

    fn post(&self, path: &str) -> Resp {
        self.request_with("POST", path, &[])
    }
}

impl Api for TestServer {
    fn request_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        request_with(self.addr, method, path, headers)
    }
}

/// The server's routes behind its access checks, as [`Server`] serves them,
/// but answering requests handed to them (`tower::ServiceExt::oneshot`): no
/// socket, no port. The checks see the same `Host`, `Origin`, `Referer`,
/// cookie and token as over a connection, for a server taken to be bound at
/// `addr`.
///
/// [`Server`]: tierkreis_server::Server
pub struct RouterServer {
    runtime: tokio::runtime::Runtime,
    app: tierkreis_server::GuardedRouter,
    /// The address the server is taken to be bound at (what requests name
    /// in `Host` by default).
    pub addr: SocketAddr,
    /// The token the API requires, when bound to a non-loopback address.
    pub token: Option<String>,
}

/// The port a [`RouterServer`] is taken to be bound at (`tkr serve`'s
/// default); nothing listens on it.
pub const ROUTER_PORT: u16 = 8767;

/// The routes over `tkr_dir` for a server taken to be bound at
/// `127.0.0.1:ROUTER_PORT`, with this test binary as the `tkr` it runs for
/// `resume`.
pub fn start_router(tkr_dir: &Path) -> RouterServer {
    start_router_at(tkr_dir, &format!("127.0.0.1:{ROUTER_PORT}"))
}

/// [`start_router`] taken to be bound at `bind` (e.g. `0.0.0.0:8767`);
/// requests name loopback in `Host`, as [`start_server_at`]'s do.
pub fn start_router_at(tkr_dir: &Path, bind: &str) -> RouterServer {
    let bind: SocketAddr = bind.parse().expect("bind address");
    let config = tierkreis_server::ServerConfig {
        tkr_dir: tkr_dir.to_path_buf(),
        tkr_exe: std::env::current_exe().expect("current exe"),
        host_name: None,
        resume_args: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = tierkreis_server::guarded_router(config, bind).expect("routes");
    let token = app.token().map(str::to_owned);
    RouterServer {
        runtime,
        app,
        addr: SocketAddr::new("127.0.0.1".parse().expect("loopback"), bind.port()),
        token,
    }
}

impl Api for RouterServer {
    fn request_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            request = request.header("Host", self.addr.to_string());
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(axum::body::Body::empty())
            .unwrap_or_else(|e| panic!("request {method} {path}: {e}"));
        self.runtime.block_on(async {
            let response = self
                .app
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router answers");
            let mut head = format!("HTTP/1.1 {}\r\n", response.status());
            for (name, value) in response.headers() {
                head.push_str(&format!(
                    "{name}: {}\r\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
            let content_type = response
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the whole body");
            Resp {
                status,
                content_type,
                body: body.to_vec(),
                head,
            }
        })
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The status line and headers, as received.
    pub head: String,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request with `Connection: close`; the path is sent exactly
/// as given (no normalisation of `..`).
pub fn request(addr: SocketAddr, method: &str, path: &str) -> Resp {
    request_with(addr, method, path, &[])
}

/// [`request`] with extra headers; a `Host` among them replaces the default
/// (the address connected to).
pub fn request_with(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\nContent-Length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        body = dechunk(&body);
    }
    Resp {
        status,
        content_type: header("content-type"),
        body,
        head,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path)
}

pub fn post(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "POST", path)
}

/// A server-sent event stream being read.
pub struct Sse {
    reader: BufReader<TcpStream>,
}

impl Sse {
    /// Opens `path` and reads past the response head.
    pub fn open(addr: SocketAddr, path: &str) -> Sse {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .expect("send");
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Sse { reader }
    }

    /// The next event as (name, data); chunk-size lines are skipped.
    pub fn next_event(&mut self) -> (String, String) {
        let (mut name, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).expect("event stream");
            assert!(n > 0, "event stream closed");
            let l = line.trim_end_matches(['\r', '\n']);
            if let Some(v) = l.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = l.strip_prefix("data:") {
                data.push_str(v.trim_start());
            } else if l.is_empty() && !name.is_empty() {
                return (name, data);
            }
        }
    }
}
