//! Python bindings of the tierkreis-rs engine: the `tierkreis_rs._native`
//! extension module of the `tierkreis-rs` wheel.
//!
//! Everything lives behind the `python` feature, which maturin turns on when
//! it builds the wheel; a plain `cargo build --workspace` compiles an empty
//! library and needs no Python development files. The Python side
//! (`python/tierkreis_rs`) maps the reference's storages and executors onto
//! the one entry point here, [`tierkreis_controller::embedded::run_workflow`].

// PyO3's macros keep their FFI glue's `unsafe` to themselves: the workspace's
// `unsafe_code = "deny"` holds here without an exception.
#[cfg(feature = "python")]
mod bindings;
