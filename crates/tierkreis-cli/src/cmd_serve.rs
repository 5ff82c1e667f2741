//! `tkr serve`: the live web view of the workflows in the checkpoint folder
//! (the server itself is the `tierkreis-server` crate).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::Args;
use tierkreis_server::ServerConfig;

use crate::exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address or host name to listen on (loopback unless asked: the
    /// page can restart tasks). Bound to any other address, the API needs
    /// the token in the printed URL.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8000)]
    pub(crate) port: u16,
    /// The checkpoint folder (default: $TKR_DIR, else ~/.tierkreis/checkpoints).
    #[arg(long, value_name = "DIR")]
    pub(crate) checkpoints: Option<PathBuf>,
    /// A registry folder of workers for the runs the page restarts or
    /// continues, instead of the ones each run recorded; repeatable.
    #[arg(long = "registry", visible_alias = "registry-path", value_name = "DIR")]
    pub(crate) registries: Vec<PathBuf>,
    /// The executor configuration file for the runs the page restarts or
    /// continues, instead of the one each run recorded.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// The `tkr resume` arguments for `--registry` and `--config`, paths made
/// absolute (the resume may start elsewhere).
fn resume_args(args: &ServeArgs) -> Vec<std::ffi::OsString> {
    let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    let mut out = Vec::new();
    for r in &args.registries {
        out.push("--registry".into());
        out.push(absolute(r).into_os_string());
    }
    if let Some(c) = &args.config {
        out.push("--config".into());
        out.push(absolute(c).into_os_string());
    }
    out
}

pub fn serve(args: ServeArgs) -> u8 {
    serve_page(args, "")
}

/// Serves, announcing the address followed by `page` (e.g. `#/w/ID`, the
/// page of one workflow).
pub(crate) fn serve_page(args: ServeArgs, page: &str) -> u8 {
    let resume_args = resume_args(&args);
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
    let addr = match resolve_host(&args.host, args.port) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let host_name = args
        .host
        .parse::<IpAddr>()
        .is_err()
        .then(|| args.host.clone());
    let config = ServerConfig {
        tkr_dir: tkr_dir.clone(),
        tkr_exe,
        host_name: host_name.clone(),
        resume_args,
    };
    let ready = |bound: SocketAddr, token: Option<&str>| {
        let shown = match &host_name {
            Some(name) => format!("{name}:{}", bound.port()),
            None => bound.to_string(),
        };
        let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
        eprintln!(
            "serving {} on http://{shown}/{page}{query} (Ctrl-C to stop)",
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

/// The socket address for `--host` (an IP, or a host name such as
/// `localhost`, resolved; IPv4 preferred) and `--port`.
fn resolve_host(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let found: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --host {host:?}: {e}"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
        .ok_or_else(|| format!("--host {host:?} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_resolve_and_ips_parse() {
        let a = resolve_host("localhost", 8000).expect("localhost resolves");
        assert!(a.ip().is_loopback() && a.port() == 8000, "{a}");
        assert_eq!(
            resolve_host("::1", 1).expect("ip"),
            "[::1]:1".parse::<SocketAddr>().expect("addr")
        );
        let err = resolve_host("no such host.invalid", 1).expect_err("bad name");
        assert!(err.contains("no such host.invalid"), "{err}");
    }
}
