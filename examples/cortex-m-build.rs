//! The build script of the two bare-metal examples (`firmware`, `qemu-device`; each names it
//! with `build = "../cortex-m-build.rs"`).
//!
//! - `TPNS_BUILD_TIME`: the build's time, the examples' floor for certificate dates on a board
//!   with no real-time clock (`Trust::not_before`): `SOURCE_DATE_EPOCH` for reproducible
//!   builds, else now.
//! - On a bare-metal Arm target only, links with cortex-m-rt's `link.x` and the package's own
//!   `memory.x`. Host builds of the workspace (clippy, tests) stay ordinary programs, and the
//!   other bare-metal targets (riscv32imc) use the library part only.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let now = env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    println!("cargo:rustc-env=TPNS_BUILD_TIME={now}");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none")
        || env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("arm")
    {
        return;
    }
    let package = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let memory = fs::read(package.join("memory.x")).expect("the package's memory.x");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
}
