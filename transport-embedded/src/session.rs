//! What every TLS exchange of a device needs, in one value: the buffers, whom to trust, and the
//! random generator.
//!
//! [`DeviceBuffers`] holds the three buffers as arrays whose sizes are `const` parameters (the
//! defaults fit any server: [`READ_RECORD_LEN`], [`WRITE_RECORD_LEN`], [`HTTP_BUF_LEN`]), so
//! that a firmware puts them in a `static` or on a stack with one line. [`TlsSession`] borrows
//! them, with a [`Trust`] and the RNG: [`upload_tls`](crate::upload::upload_tls) and
//! [`push_tls`](crate::push::push_tls) take it whole, and reuse it exchange after exchange.

use core::fmt;

use embedded_io::{Read, Write};
use rand_core::{CryptoRng, RngCore};

#[cfg(feature = "async")]
use crate::tls::AsyncTlsStream;
use crate::tls::{
    HandshakeError, READ_RECORD_LEN, TimePolicy, TlsBuffers, TlsStream, Trust, WRITE_RECORD_LEN,
};

/// The default size of the HTTP layer's buffer: request bytes out, response bytes in. Over TLS
/// it can be small (64 bytes and up): the TLS write record gathers the bytes into records
/// anyway, so a small buffer costs no extra socket writes.
pub const HTTP_BUF_LEN: usize = 512;

/// The buffers of one TLS connection at a time, sized at compile time: the TLS read record
/// (`READ`, [`READ_RECORD_LEN`] fits any record), the TLS write record (`WRITE`) and the HTTP
/// buffer (`HTTP`, 64 bytes and up).
///
/// The defaults take 18 176 bytes. Put them where the RAM is counted: a `static` (through a
/// `static_cell::ConstStaticCell`, or cortex-m-rt's `static mut` in `#[entry]`), or the stack
/// of the task that uploads. [`DeviceBuffers::new`] is `const`, so a `static` needs no copy
/// through the stack.
///
/// ```
/// use tpns_transport_embedded::session::DeviceBuffers;
/// // The defaults: 16 640 + 1 024 + 512 bytes.
/// let defaults: DeviceBuffers = DeviceBuffers::new();
/// assert_eq!(core::mem::size_of_val(&defaults), 18_176);
/// // A device talking only to a server whose records it knows to be small:
/// let small = DeviceBuffers::<4096, 512, 256>::new();
/// assert_eq!(core::mem::size_of_val(&small), 4864);
/// ```
pub struct DeviceBuffers<
    const READ: usize = READ_RECORD_LEN,
    const WRITE: usize = WRITE_RECORD_LEN,
    const HTTP: usize = HTTP_BUF_LEN,
> {
    read: [u8; READ],
    write: [u8; WRITE],
    http: [u8; HTTP],
}

impl<const READ: usize, const WRITE: usize, const HTTP: usize> DeviceBuffers<READ, WRITE, HTTP> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        DeviceBuffers {
            read: [0; READ],
            write: [0; WRITE],
            http: [0; HTTP],
        }
    }

    /// The TLS record buffers and the HTTP buffer, for the lower-level functions
    /// ([`connect`](crate::tls::connect), [`upload_package`](crate::upload::upload_package)).
    pub fn split(&mut self) -> (TlsBuffers<'_>, &mut [u8]) {
        (
            TlsBuffers::new(&mut self.read, &mut self.write),
            &mut self.http,
        )
    }
}

impl<const READ: usize, const WRITE: usize, const HTTP: usize> Default
    for DeviceBuffers<READ, WRITE, HTTP>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const READ: usize, const WRITE: usize, const HTTP: usize> fmt::Debug
    for DeviceBuffers<READ, WRITE, HTTP>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBuffers")
            .field("read", &READ)
            .field("write", &WRITE)
            .field("http", &HTTP)
            .finish()
    }
}

/// One device's TLS setup, reused for each exchange: the buffers (borrowed for `'b`), the
/// [`Trust`] (anchors for `'t`, and the date policy `Tp`) and the random generator `R` (the
/// device's TRNG, or a CSPRNG seeded from it).
///
/// Only one exchange runs at a time on a session: each borrows it whole.
pub struct TlsSession<'b, 't, Tp, R> {
    /// The TLS record buffers.
    pub tls: TlsBuffers<'b>,
    /// The HTTP layer's buffer: 64 bytes and up.
    pub http: &'b mut [u8],
    /// Whom to trust, and how certificate dates are checked.
    pub trust: Trust<'t, Tp>,
    /// The random generator: key shares, and the upload's multipart boundary.
    pub rng: R,
}

impl<'b, 't, Tp, R> TlsSession<'b, 't, Tp, R> {
    /// A session over `buffers`.
    pub fn new<const READ: usize, const WRITE: usize, const HTTP: usize>(
        buffers: &'b mut DeviceBuffers<READ, WRITE, HTTP>,
        trust: Trust<'t, Tp>,
        rng: R,
    ) -> Self {
        let (tls, http) = buffers.split();
        TlsSession {
            tls,
            http,
            trust,
            rng,
        }
    }
}

impl<Tp: TimePolicy + Copy, R: CryptoRng + RngCore> TlsSession<'_, '_, Tp, R> {
    /// One exchange over TLS on `socket`: the handshake (the server checked against the
    /// session's [`Trust`]), `exchange` with the connection and the HTTP buffer, then TLS
    /// `close_notify`. The error is the handshake's; the exchange's outcome is returned as it
    /// was, since a failed `close_notify` after the answer changes nothing about it.
    #[inline(never)]
    pub(crate) fn over_tls<T: Read + Write, A>(
        &mut self,
        socket: T,
        exchange: impl FnOnce(&mut TlsStream<'_, T>, &mut [u8]) -> A,
    ) -> Result<A, HandshakeError> {
        let mut stream = TlsStream::new(socket, &mut *self.tls.read, &mut *self.tls.write);
        crate::tls::open(&mut stream, &self.trust, &mut self.rng)?;
        Ok(exchange_then_close(exchange, stream, self.http))
    }

    /// [`over_tls`](Self::over_tls) over an `embedded_io_async` socket (feature `async`).
    #[cfg(feature = "async")]
    pub(crate) async fn over_tls_async<T, A>(
        &mut self,
        socket: T,
        exchange: impl AsyncFnOnce(&mut AsyncTlsStream<'_, T>, &mut [u8]) -> A,
    ) -> Result<A, HandshakeError>
    where
        T: embedded_io_async::Read + embedded_io_async::Write,
    {
        let mut stream = AsyncTlsStream::new(socket, &mut *self.tls.read, &mut *self.tls.write);
        crate::tls::open_async(&mut stream, &self.trust, &mut self.rng).await?;
        let outcome = exchange(&mut stream, self.http).await;
        let _ = stream.close().await;
        Ok(outcome)
    }
}

/// Runs the exchange `f` on the open connection, then sends `close_notify`, in a frame of its
/// own: the exchange's state and its outcome then never share the stack with the handshake's
/// (in [`crate::tls::open`], called just before from the caller's frame). On a device the
/// stack is most of the RAM.
#[inline(never)]
fn exchange_then_close<T: Read + Write, O>(
    f: impl FnOnce(&mut TlsStream<'_, T>, &mut [u8]) -> O,
    mut stream: TlsStream<'_, T>,
    http: &mut [u8],
) -> O {
    let outcome = f(&mut stream, http);
    // The answer is in: a failed close_notify changes nothing about it.
    let _ = stream.close();
    outcome
}

impl<Tp: fmt::Debug, R> fmt::Debug for TlsSession<'_, '_, Tp, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("read", &self.tls.read.len())
            .field("write", &self.tls.write.len())
            .field("http", &self.http.len())
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}
