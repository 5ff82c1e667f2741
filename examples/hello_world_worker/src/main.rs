//! `tkr-hello-world-worker`: the hello world worker's command line
//! (`<call-args path>` or `--stubs-path FILE`).

fn main() -> std::process::ExitCode {
    hello_world_worker::worker().run_main()
}
