#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod check;
mod client;
mod deadline;
mod error;
mod file;
mod net;
mod proxy;
mod retry;
mod trace;

pub use check::{
    BrokenWhileSending, CheckError, CheckingRead, Invalid, Report, RowCheckingReader, Tally,
    Violation, ZipCheckingReader, broken_while_sending, check_file, check_file_as,
    check_file_but_rows, check_file_each,
};
pub use client::{
    CA_FILE_LIMIT, Client, ClientBuilder, DEFAULT_BUFFER, Event, Pushed, SecretKey, Uploaded,
};
pub use deadline::{DEADLINE_BASE, DEADLINE_MIN_RATE, default_deadline};
pub use error::{BuildError, CoreError, Error, Phase};
pub use file::{open_regular, read_limited};
pub use net::{Io, Peer, Timeouts};
pub use proxy::{DEFAULT_PROXY_PORT, NO_PROXY_VARS, NoProxy, Proxy, ProxyError, proxy_env_vars};
pub use retry::RetryPolicy;

pub use rustls;
pub use tpns_core;
pub use tpns_core::endpoint::{Endpoint, Region, Scheme};
pub use tpns_core::package::{PackageKind, RowKind};
pub use tpns_core::push::{Audience, Environment, MessageType, PushRequest};
