//! Links with cortex-m-rt's `link.x` and this example's `memory.x`, for bare-metal targets
//! only: host builds of the workspace (clippy, tests) stay ordinary programs.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // The firmware's build time, the examples' floor for certificate dates on a board with no
    // real-time clock: SOURCE_DATE_EPOCH for reproducible builds, else now.
    let now = env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    println!("cargo:rustc-env=TPNS_BUILD_TIME={now}");
    // cortex-m-rt's link.x is for Arm; other bare-metal targets (riscv32imc) use the library
    // part only.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none")
        || env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("arm")
    {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
}
