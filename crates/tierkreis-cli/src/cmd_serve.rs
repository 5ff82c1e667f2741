//! `tkr serve`: the live web view of the workflows in the checkpoint folder
//! (the server itself is the `tierkreis-server` crate).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Args;
use tierkreis_server::ServerConfig;

use crate::exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (loopback unless asked: the page can
    /// restart tasks).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub(crate) host: IpAddr,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8000)]
    pub(crate) port: u16,
    /// The checkpoint folder (default: $TKR_DIR, else ~/.tierkreis/checkpoints).
    #[arg(long, value_name = "DIR")]
    pub(crate) checkpoints: Option<PathBuf>,
}

pub fn serve(args: ServeArgs) -> u8 {
    serve_page(args, "")
}

/// Serves, announcing the address followed by `page` (e.g. `#/w/ID`, the
/// page of one workflow).
pub(crate) fn serve_page(args: ServeArgs, page: &str) -> u8 {
    let tkr_dir = args.checkpoints.unwrap_or_else(|| {
        tierkreis_storage::FileWorkerStorage::from_env()
            .tkr_dir()
            .to_path_buf()
    });
    let tkr_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find the tkr binary (needed to resume restarted runs): {e}");
            return exit::INTERNAL;
        }
    };
    let addr = SocketAddr::new(args.host, args.port);
    let config = ServerConfig {
        tkr_dir: tkr_dir.clone(),
        tkr_exe,
    };
    let ready = |bound: SocketAddr| {
        eprintln!(
            "serving {} on http://{bound}/{page} (Ctrl-C to stop)",
            tkr_dir.display()
        );
    };
    match tierkreis_server::serve_blocking(addr, config, ready) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}
