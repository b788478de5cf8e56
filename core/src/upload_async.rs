//! The upload driver over `embedded_io_async` (feature `async`): for embassy-net sockets and
//! embedded-tls's async connection.
//!
//! It is the blocking driver's loop with `.await`: the request bytes come from the same
//! [`UploadBytes`], the response goes through the same [`Collector`] and means the same thing
//! ([`Answer::into_result`]). Only the moving of bytes differs.
//!
//! The package source stays a blocking [`embedded_io::Read`]: flash and SD-card drivers on
//! microcontrollers are synchronous, and their reads are short.

use core::ops::ControlFlow;

use embedded_io::Read as BlockingRead;
use embedded_io_async::{Read, Write};

use crate::json::Visitor;
use crate::upload::{
    Answer, Collector, Progress, Step, Upload, UploadBytes, UploadError, UploadFields,
    UploadResponse,
};

/// The blocking driver's `write_counted` over an async transport: every accepted byte is
/// counted as it goes, so a failure's phase and offset are exact.
///
/// # Panics
///
/// If the transport returns `Ok(0)` for a non-empty buffer (a broken `Write` contract).
async fn write_counted<T: Write>(
    transport: &mut T,
    mut bytes: &[u8],
    written: &mut u64,
) -> Result<(), T::Error> {
    while !bytes.is_empty() {
        let n = transport.write(bytes).await?;
        assert!(n > 0, "write() returned Ok(0)");
        *written += n as u64;
        bytes = &bytes[n..];
    }
    Ok(())
}

async fn read_step<T: Read, S, V: Visitor>(
    transport: &mut T,
    buf: &mut [u8],
    collector: &mut Collector<V>,
) -> Result<Step, UploadError<T::Error, S>> {
    loop {
        let n = transport
            .read(buf)
            .await
            .map_err(UploadError::ReadResponse)?;
        let step = if n == 0 {
            collector.close()
        } else {
            collector.feed(&buf[..n])
        }
        .map_err(UploadError::Response)?;
        if step != Step::NeedMore {
            return Ok(step);
        }
    }
}

async fn read_answer<T: Read, S, V: Visitor>(
    transport: &mut T,
    buf: &mut [u8],
    mut collector: Collector<V>,
) -> Result<Answer<V>, UploadError<T::Error, S>> {
    while read_step(transport, buf, &mut collector).await? != Step::Complete {}
    collector.finish().map_err(UploadError::Response)
}

/// See the blocking `early_answer_or`: a server's early answer beats the broken pipe.
async fn early_answer_or<T: Read + Write, S>(
    transport: &mut T,
    buf: &mut [u8],
    collector: Collector<UploadFields>,
    (head_sent, sent): (bool, u64),
    error: T::Error,
) -> UploadError<T::Error, S> {
    match read_answer::<T, S, _>(transport, buf, collector).await {
        Ok(answer) => match answer.into_result::<T::Error, S>() {
            Err(answered) => answered,
            Ok(_) if !head_sent => UploadError::SendHead(error),
            Ok(_) => UploadError::SendBody { sent, error },
        },
        Err(_) if !head_sent => UploadError::SendHead(error),
        Err(_) => UploadError::SendBody { sent, error },
    }
}

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
    mut progress: F,
) -> Result<UploadResponse, UploadError<T::Error, R::Error>>
where
    T: Read + Write,
    R: BlockingRead,
    F: FnMut(Progress) -> ControlFlow<()>,
{
    let mut request = UploadBytes::new(job, source, file_len).map_err(UploadError::Request)?;
    if buf.is_empty() {
        return Err(UploadError::EmptyBuffer);
    }
    let mut collector = Collector::new(job.limits, UploadFields::default());
    let mut written = 0u64;
    let mut len = 0;

    if job.expect_continue {
        loop {
            let n = request.fill(&mut buf[len..]).map_err(UploadError::Source)?;
            len += n;
            if len == buf.len() || n == 0 {
                let mut sent = write_counted(transport, &buf[..len], &mut written).await;
                if sent.is_ok() && n == 0 {
                    sent = transport.flush().await;
                }
                if let Err(error) = sent {
                    return Err(
                        early_answer_or(transport, buf, collector, (false, 0), error).await,
                    );
                }
                len = 0;
            }
            if n == 0 {
                break;
            }
        }
        match read_step(transport, buf, &mut collector).await? {
            Step::Continue => request.release_body(),
            _ => {
                return collector
                    .finish()
                    .map_err(UploadError::Response)?
                    .into_result();
            }
        }
    }

    if progress(request.progress(written)).is_break() {
        return Err(UploadError::Cancelled { sent: 0 });
    }
    loop {
        let n = request.fill(&mut buf[len..]).map_err(UploadError::Source)?;
        len += n;
        let done = n == 0;
        if len == buf.len() || (done && len > 0) {
            if let Err(error) = write_counted(transport, &buf[..len], &mut written).await {
                let at = (
                    written >= request.head_len(),
                    request.progress(written).sent,
                );
                return Err(early_answer_or(transport, buf, collector, at, error).await);
            }
            len = 0;
            let p = request.progress(written);
            if progress(p).is_break() {
                return Err(UploadError::Cancelled { sent: p.sent });
            }
        }
        if done {
            break;
        }
    }
    if let Err(error) = transport.flush().await {
        let at = (true, request.progress(written).sent);
        return Err(early_answer_or(transport, buf, collector, at, error).await);
    }
    read_answer(transport, buf, collector).await?.into_result()
}
