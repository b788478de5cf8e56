#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod auth;
pub mod endpoint;
pub mod exchange;
pub mod json;
pub mod multipart;
pub mod package;
pub mod push;
pub mod raw_json;
pub mod request;
pub mod response;
#[cfg(feature = "signature")]
pub mod signature;
pub mod sink;
pub mod text;
pub mod upload;
#[cfg(feature = "async")]
pub mod upload_async;
