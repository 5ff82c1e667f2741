//! Empty library target of the `tkr` package: it exists only so that the
//! `tierkreis-rs` wheel's crate (crates/tierkreis-py) can name this package as
//! a dependency, which makes `maturin sdist` pack its sources; the wheel's
//! build script builds the `tkr` binary from them. Nothing links it.
