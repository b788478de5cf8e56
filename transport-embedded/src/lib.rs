#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod nal;
pub mod source;
pub mod tls;
pub mod upload;

pub use embedded_tls::TlsError;
pub use rand_core;
