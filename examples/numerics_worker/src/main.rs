//! `tkr-numerics-worker`: the numerics worker's command line
//! (`<call-args path>` or `--stubs-path FILE`).

fn main() -> std::process::ExitCode {
    numerics_worker::worker().run_main()
}
