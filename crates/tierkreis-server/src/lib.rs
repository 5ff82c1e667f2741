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
//! let config = ServerConfig { tkr_dir: "/tmp/ck".into(), tkr_exe: "tkr".into() };
//! let server = Server::bind("127.0.0.1:0".parse().unwrap(), config).await?;
//! println!("http://{}", server.local_addr()?);
//! server.run(std::future::pending()).await
//! # }
//! ```

pub mod error;
pub mod live;
pub mod routes;
pub mod view;
pub mod workflows;

use std::future::Future;
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
}

/// The routes over `config`: creates the checkpoint folder if missing and
/// starts watching it.
pub fn router(config: ServerConfig) -> Result<axum::Router, ServeError> {
    std::fs::create_dir_all(&config.tkr_dir).map_err(|source| ServeError::CheckpointDir {
        path: config.tkr_dir.clone(),
        source,
    })?;
    let dir_watch = live::DirWatch::start(&config.tkr_dir)?;
    let state = routes::AppState {
        tkr_dir: config.tkr_dir,
        tkr_exe: config.tkr_exe,
        watches: live::Watches::default(),
        dir_watch,
    };
    Ok(routes::router(Arc::new(state)))
}

/// A bound server, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    app: axum::Router,
}

impl Server {
    /// Binds `addr` (port 0: any free port) and prepares the routes.
    pub async fn bind(addr: SocketAddr, config: ServerConfig) -> Result<Server, ServeError> {
        let app = router(config)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Server { listener, app })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener
            .local_addr()
            .map_err(|source| ServeError::LocalAddr { source })
    }

    /// Serves until `shutdown` completes (open event streams are dropped).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let serve = axum::serve(self.listener, self.app);
        tokio::select! {
            r = serve => r.map_err(|source| ServeError::Serve { source }),
            () = shutdown => Ok(()),
        }
    }
}

/// Runs the server on its own runtime until Ctrl-C: binds `addr`, calls
/// `on_ready` with the bound address, then serves.
pub fn serve_blocking(
    addr: SocketAddr,
    config: ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Runtime { source })?;
    let result = rt.block_on(async move {
        let server = Server::bind(addr, config).await?;
        on_ready(server.local_addr()?);
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
