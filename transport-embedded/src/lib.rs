#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod nal;
pub mod push;
pub mod session;
pub mod source;
pub mod tls;
pub mod upload;

/// The device client: uploads and pushes with settings given once.
pub use client::DeviceClient;
/// embedded-tls's error: the TLS layer's failures (the transport's, the protocol's, an alert
/// from the server). It is the error of a [`TlsStream`](tls::TlsStream)'s reads and writes,
/// so an exchange over TLS reports it in [`UploadError`](tpns_core::upload::UploadError)'s
/// transport variants; a failed handshake wraps it in
/// [`HandshakeError::Tls`](tls::HandshakeError::Tls). With feature `defmt` it is
/// `defmt::Format` (embedded-tls's own `defmt` feature).
pub use embedded_tls::TlsError;
/// The `rand_core` 0.6 that the RNG must implement (`RngCore + CryptoRng`): the version
/// embedded-tls uses, re-exported so that a device's TRNG driver can implement the same traits.
pub use rand_core;
/// The buffers sized by `const`s, and the session that groups them with the trust and the RNG.
pub use session::{DeviceBuffers, TlsSession};
