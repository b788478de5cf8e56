//! Links with cortex-m-rt's `link.x` and this example's `memory.x`, for bare-metal targets
//! only: host builds of the workspace (clippy, tests) stay ordinary programs.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
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
