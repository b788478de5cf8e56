//! Scaffolding shared by the workspace's tests, so that no test file copies it and no crate
//! pulls another crate's test files in through `#[path]`.
//!
//! - [`corpus`]: the shared package corpus and its verdicts;
//! - [`package`]: valid account packages and their SHA-256, as the emulator records it;
//! - [`dir`]: temporary folders, removed on drop;
//! - `emulator` (feature `emulator`): the emulator with the test app in a temporary folder;
//! - [`run`]: a run of a binary with a time limit and its outputs;
//! - [`raw`]: one-connection misbehaving HTTP servers on 127.0.0.1;
//! - [`flood`]: the flooding answers every transport must refuse, as a table;
//! - [`random`]: a reproducible pseudo-random sequence for mutation tests;
//! - `deflate` (feature `deflate`): deflate streams that inflate a thousandfold, for zip bombs.
//!
//! It depends on no tpns crate but the emulator (feature `emulator`), and never on the core:
//! the expected refusals are named by [`flood::Refusal`], and each transport's tests map their
//! own error onto it.

pub mod corpus;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod dir;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod flood;
pub mod package;
pub mod random;
pub mod raw;
pub mod run;

/// The test app's AccessID.
pub const ID: &str = "1500001048";
/// The test app's SecretKey.
pub const SECRET: &str = "1452fcebae9f3115ba794fb0fff2fd73";

pub use dir::TempDir;
#[cfg(feature = "emulator")]
pub use emulator::Emu;
pub use package::{accounts, devices, sha256_hex};
