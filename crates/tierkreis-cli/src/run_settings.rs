//! The run settings (`tierkreis_controller::engine::RunSettings`, recorded
//! in `debug/tkr-run-settings.json`) that `tkr run`, `tkr resume` and `tkr
//! restart` take from their flags; the engine is assembled from them, and
//! a resume or restart reuses the recorded ones (the web view's Restart
//! starts `tkr resume`, so it does too).

use std::path::Path;

use tierkreis_controller::engine::RunSettings;

use crate::Common;

/// The settings `common` and the reference flags give, paths absolute;
/// the default `./tkr.toml` is recorded when it exists.
pub fn from_flags(
    common: &Common,
    prefer_uv: bool,
    batch_poll_secs: Option<f64>,
    python: Option<&Path>,
) -> RunSettings {
    RunSettings {
        registries: common.registries.clone(),
        config: common.config.clone(),
        jobs: common.jobs,
        task_timeout: common.task_timeout,
        no_warm: common.no_warm,
        warm_prestart: common.warm_prestart,
        cache: common.cache,
        retries: common.retries,
        prefer_uv,
        batch_poll_secs,
        python: python.map(Path::to_path_buf),
    }
    .with_absolute_paths()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn polling_interval_sets_the_batch_job_polling_over_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("tkr.toml");
        std::fs::write(&config, "[hpc]\npoll_secs = 5\n").expect("write");
        let cli = crate::Cli::parse_from([
            "tkr".as_ref(),
            "run".as_ref(),
            "-f".as_ref(),
            "g.json".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "-p".as_ref(),
            "0.02".as_ref(),
        ]);
        let crate::Command::Run(args) = cli.command else {
            panic!("not run");
        };
        let settings = from_flags(
            &args.common,
            args.reference.uv,
            args.reference.polling_interval_seconds,
            None,
        );
        assert_eq!(settings.config, Some(config));
        let loaded = settings.load_config().expect("config");
        assert_eq!(loaded.hpc.poll_secs, Some(5.0));
        assert_eq!(settings.effective_config(loaded).hpc.poll_secs, Some(0.02));
    }
}
