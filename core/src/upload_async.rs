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

use embedded_io::Read as BlockingRead;
use embedded_io_async::{Read, Write};

use crate::exchange;
use crate::upload::{Progress, Upload, UploadError, UploadResponse, upload_exchange};

/// Uploads `file_len` bytes from `source` as `job.file_name`, over an async transport.
///
/// Same contract as [`crate::upload::upload`]: one caller buffer of any size, progress and
/// cancel through `progress`, typed errors by phase.
///
/// # Errors
///
/// [`UploadError`], as for the blocking driver.
pub async fn upload<T, R, F>(
    transport: &mut T,
    job: &Upload<'_>,
    source: R,
    file_len: u64,
    buf: &mut [u8],
    progress: F,
) -> Result<UploadResponse, UploadError<T::Error, R::Error>>
where
    T: Read + Write,
    R: BlockingRead,
    F: FnMut(Progress) -> ControlFlow<()>,
{
    let exchange = upload_exchange(job, source, file_len, buf, progress)?;
    exchange::run_async(transport, exchange)
        .await
        .map_err(UploadError::from)
}
