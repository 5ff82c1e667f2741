//! `tkr serve`: a live web view of the workflows in a checkpoint folder.
//!
//! A JSON API under `/api/workflows` mirroring the reference visualizer's
//! (`tierkreis-visualization` 0.1.9: workflow list, the graph of a scope, a
//! node's inputs, outputs, logs and errors, restart of a task), server-sent
//! events pushed when nodes change state (inotify, no polling), and a page
//! shipped inside the binary that draws a scope's graph and follows it live.
//! It reads the files both implementations write, so runs of the Python
//! reference are shown too.
//!
//! ```no_run
//! # async fn f() -> Result<(), tierkreis_server::ServeError> {
//! use tierkreis_server::{Server, ServerConfig};
//! let config = ServerConfig { tkr_dir: "/tmp/ck".into(), tkr_exe: "tkr".into(), host_name: None, resume_args: Vec::new() };
//! let server = Server::bind("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("http://{}", server.local_addr()?);
//! server.run(std::future::pending()).await
//! # }
//! ```

pub mod access;
pub mod error;
pub mod live;
pub mod pictures;
pub mod routes;
pub mod view;
pub mod workflows;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::{ApiError, ServeError};

/// What the server serves and how it restarts tasks.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The checkpoint folder holding one folder per workflow.
    pub tkr_dir: PathBuf,
    /// The `tkr` binary started as `tkr resume --checkpoints DIR -q ID`
    /// after a task is restarted.
    pub tkr_exe: PathBuf,
    /// The host name the server was asked to listen on (`tkr serve --host
    /// NAME`), accepted in `Host` headers beside the loopback names and the
    /// bound IP (see [`access`]).
    pub host_name: Option<String>,
    /// Arguments added to that `tkr resume` (`tkr serve --registry DIR
    /// --config FILE`), on top of the settings the run recorded.
    pub resume_args: Vec<std::ffi::OsString>,
}

/// How long in-flight requests may take to finish once shutdown is asked
/// for; open event streams never finish by themselves and are dropped then.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The routes over `config`, without the [`access`] checks ([`guarded_router`]
/// adds them): creates the checkpoint folder if missing and starts watching
/// it.
pub fn router(config: ServerConfig) -> Result<axum::Router, ServeError> {
    std::fs::create_dir_all(&config.tkr_dir).map_err(|source| ServeError::CheckpointDir {
        path: config.tkr_dir.clone(),
        source,
    })?;
    let dir_watch = live::DirWatch::start(&config.tkr_dir)?;
    let state = routes::AppState {
        tkr_dir: config.tkr_dir,
        tkr_exe: config.tkr_exe,
        resume_args: config.resume_args,
        watches: live::Watches::default(),
        dir_watch,
    };
    Ok(routes::router(Arc::new(state)))
}

/// The routes behind the [`access`] checks of a server bound at one
/// address: what a [`Server`] serves. Without a socket it answers requests
/// given to it directly (`tower::ServiceExt::oneshot`), as the API tests do.
#[derive(Debug, Clone)]
pub struct GuardedRouter {
    /// The routes with the access checks in front.
    pub router: axum::Router,
    /// What the checks accept (host names, port, token).
    pub policy: Arc<access::AccessPolicy>,
}

impl GuardedRouter {
    /// The token the API requires (bound to a non-loopback address), if any.
    pub fn token(&self) -> Option<&str> {
        self.policy.token()
    }
}

/// [`router`] over `config` behind the [`access`] checks for a server bound
/// at `bound` (the `Host` it must be called by, and whether a token is
/// needed).
pub fn guarded_router(
    config: ServerConfig,
    bound: SocketAddr,
) -> Result<GuardedRouter, ServeError> {
    let policy = Arc::new(access::AccessPolicy::for_bound_address(
        bound,
        config.host_name.as_deref(),
    ));
    let router = router(config)?.layer(axum::middleware::from_fn_with_state(
        policy.clone(),
        access::guard,
    ));
    Ok(GuardedRouter { router, policy })
}

/// A bound server, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    app: GuardedRouter,
}

impl Server {
    /// Binds `addr` (port 0: any free port) and prepares the routes behind
    /// the [`access`] checks for the bound address.
    pub async fn bind(addr: SocketAddr, config: ServerConfig) -> Result<Server, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| ServeError::LocalAddr { source })?;
        let app = guarded_router(config, bound)?;
        Ok(Server { listener, app })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener
            .local_addr()
            .map_err(|source| ServeError::LocalAddr { source })
    }

    /// The token the API requires (bound to a non-loopback address), if any.
    pub fn token(&self) -> Option<&str> {
        self.app.token()
    }

    /// Serves until `shutdown` completes, then stops accepting connections
    /// and lets requests under way finish (for at most [`SHUTDOWN_GRACE`]:
    /// open event streams never end by themselves).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let serve = axum::serve(self.listener, self.app.router)
            .with_graceful_shutdown(async move {
                // An error means the sender is gone: stop as well.
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .into_future();
        tokio::pin!(serve);
        tokio::select! {
            r = &mut serve => return r.map_err(|source| ServeError::Serve { source }),
            () = shutdown => {}
        }
        let _ = stop_tx.send(true);
        match tokio::time::timeout(SHUTDOWN_GRACE, serve).await {
            Ok(r) => r.map_err(|source| ServeError::Serve { source }),
            Err(_) => Ok(()),
        }
    }
}

/// Runs the server on its own runtime until Ctrl-C: binds `addr`, calls
/// `on_ready` with the bound address and the token (if one is needed), then
/// serves.
pub fn serve_blocking(
    addr: SocketAddr,
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr, Option<&str>),
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Runtime { source })?;
    let result = rt.block_on(async move {
        let server = Server::bind(addr, config).await?;
        on_ready(server.local_addr()?, server.token());
        server
            .run(async {
                if tokio::signal::ctrl_c().await.is_err() {
                    // No Ctrl-C handler: serve until killed.
                    std::future::pending::<()>().await;
                }
            })
            .await
    });
    rt.shutdown_background();
    result
}
