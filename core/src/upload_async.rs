//! The upload driver over `embedded_io_async` (feature `async`): for embassy-net sockets and
//! embedded-tls's async connection.
//!
//! It runs the same [`Exchange`](crate::exchange::Exchange) as the blocking driver, through
//! [`run_async`](crate::exchange::run_async): the same request bytes, the same reading of the
//! answer. Only the moving of bytes differs.
//!
//! The package source stays a blocking [`embedded_io::Read`]: flash and SD-card drivers on
//! microcontrollers are synchronous, and their reads are short.

use core::ops::ControlFlow;

use crate::exchange;
use crate::upload::{
    Progress, Upload, UploadError, UploadResponse, upload_driver, upload_exchange,
};

upload_driver!(
    /// Uploads `file_len` bytes from `source` as `job.file_name`, over an async transport.
    ///
    /// Same contract as [`crate::upload::upload`]: one caller buffer of any size, progress and
    /// cancel through `progress`, typed errors by phase.
    ///
    /// # Errors
    ///
    /// [`UploadError`], as for the blocking driver.
    exchange::run_async,
    embedded_io_async,
    async await
);
