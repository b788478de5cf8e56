//! The device path for real: a `#![no_std]`, `#![no_main]`, heap-free program for an emulated
//! Cortex-M4F (QEMU `mps2-an386`) that uploads an account package to TPNS (the emulator) over
//! TLS 1.3, the package streamed from "storage" and never held in RAM.
//!
//! - storage: a host file read through Arm semihosting in small chunks (`storage.rs`);
//! - network: the board's UART0, which QEMU bridges to a TCP socket (`uart.rs`);
//! - TLS: `embedded-tls` through `tpns-transport-embedded`, verifying the server against a CA
//!   read from a host file ([`pem`]);
//! - HTTP: `tpns-core`'s blocking upload driver with one 1 KiB buffer.
//!
//! Build: `cargo build -p tpns-qemu-device --target thumbv7em-none-eabihf --profile firmware`;
//! run: `scripts/qemu-e2e.sh` (see README.md). On the host this is an empty program, so
//! workspace-wide host builds keep working; [`pem`] and [`config`] are tested there.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod config;
mod pem;

#[cfg(target_os = "none")]
mod device;
#[cfg(target_os = "none")]
mod storage;
#[cfg(target_os = "none")]
mod uart;

#[cfg(not(target_os = "none"))]
fn main() {}
