//! An `embedded-nal` 0.9 TCP socket as an `embedded_io` 0.7 byte stream.
//!
//! `embedded-nal`'s [`TcpClientStack`] is non-blocking in the `nb` style: `send` and `receive`
//! answer [`nb::Error::WouldBlock`] until the stack can make progress. `embedded_io` is
//! blocking: `read` waits for at least one byte, `write` for room for one. [`NalStream`]
//! bridges the two by retrying on `WouldBlock`, calling a caller's *wait* hook in between. The
//! hook is where a device polls its network interface (a smoltcp-based stack makes progress
//! only when polled), sleeps until the next interrupt, or gives up after a deadline.

use core::fmt;
use core::net::SocketAddr;
use core::ops::ControlFlow;

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use embedded_nal::{TcpClientStack, TcpError, TcpErrorKind};

/// The wait hook of [`NalStream::new`]: never gives up, spins.
pub type Spin = fn() -> ControlFlow<()>;

fn spin() -> ControlFlow<()> {
    core::hint::spin_loop();
    ControlFlow::Continue(())
}

/// Why a [`NalStream`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalError<E> {
    /// The stack failed; its error is kept.
    Stack(E),
    /// The wait hook gave up (returned [`ControlFlow::Break`]) while the stack had nothing to
    /// offer: a timeout.
    TimedOut,
}

impl<E: fmt::Debug> fmt::Display for NalError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stack(e) => write!(f, "TCP stack error: {e:?}"),
            Self::TimedOut => f.write_str("TCP operation timed out"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for NalError<E> {}

impl<E: TcpError> embedded_io::Error for NalError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Stack(e) => match e.kind() {
                TcpErrorKind::PipeClosed => ErrorKind::BrokenPipe,
                _ => ErrorKind::Other,
            },
            Self::TimedOut => ErrorKind::TimedOut,
        }
    }
}

/// A connected `embedded-nal` TCP socket with its stack, as `embedded_io::{Read, Write}`.
///
/// `W` is the wait hook, called each time the stack answers `WouldBlock`; returning
/// [`ControlFlow::Break`] abandons the operation with [`NalError::TimedOut`].
///
/// Reads follow `embedded_io`'s contract: they wait for at least one byte and return `0` only
/// at the end of the stream (the peer closed, which a stack reports either as `Ok(0)` or as
/// an error of kind [`TcpErrorKind::PipeClosed`]).
pub struct NalStream<'s, S: TcpClientStack, W = Spin> {
    stack: &'s mut S,
    socket: S::TcpSocket,
    wait: W,
}

impl<S: TcpClientStack> fmt::Debug for NalStream<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NalStream").finish_non_exhaustive()
    }
}

impl<'s, S: TcpClientStack> NalStream<'s, S, Spin> {
    /// Opens a socket on `stack` and connects it to `remote`, spinning while the stack says
    /// `WouldBlock`.
    ///
    /// # Errors
    ///
    /// [`NalError::Stack`] when the stack cannot open the socket or connect.
    pub fn connect(stack: &'s mut S, remote: SocketAddr) -> Result<Self, NalError<S::Error>> {
        Self::connect_with(stack, remote, spin as Spin)
    }

    /// Wraps a socket that is already connected; spins while the stack says `WouldBlock`.
    pub fn new(stack: &'s mut S, socket: S::TcpSocket) -> Self {
        NalStream {
            stack,
            socket,
            wait: spin,
        }
    }
}

impl<'s, S: TcpClientStack, W: FnMut() -> ControlFlow<()>> NalStream<'s, S, W> {
    /// Opens a socket on `stack` and connects it to `remote`, calling `wait` while the stack
    /// says `WouldBlock`.
    ///
    /// # Errors
    ///
    /// [`NalError::Stack`] when the stack cannot open the socket or connect (the socket is
    /// closed again), [`NalError::TimedOut`] when `wait` gives up.
    pub fn connect_with(
        stack: &'s mut S,
        remote: SocketAddr,
        mut wait: W,
    ) -> Result<Self, NalError<S::Error>> {
        let mut socket = stack.socket().map_err(NalError::Stack)?;
        match retry(&mut wait, || stack.connect(&mut socket, remote)) {
            Ok(()) => Ok(NalStream {
                stack,
                socket,
                wait,
            }),
            Err(e) => {
                // The socket is useless now; its close error would hide the real one.
                let _ = stack.close(socket);
                Err(e)
            }
        }
    }

    /// Wraps a socket that is already connected, with a wait hook.
    pub fn with_wait(stack: &'s mut S, socket: S::TcpSocket, wait: W) -> Self {
        NalStream {
            stack,
            socket,
            wait,
        }
    }

    /// Closes the socket.
    ///
    /// # Errors
    ///
    /// The stack's error.
    pub fn close(self) -> Result<(), S::Error> {
        self.stack.close(self.socket)
    }

    /// The stack and the socket, to go on using them directly.
    pub fn into_parts(self) -> (&'s mut S, S::TcpSocket) {
        (self.stack, self.socket)
    }
}

/// Retries an `nb` operation until it stops saying `WouldBlock`.
fn retry<T, E>(
    wait: &mut impl FnMut() -> ControlFlow<()>,
    mut op: impl FnMut() -> nb::Result<T, E>,
) -> Result<T, NalError<E>> {
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(nb::Error::Other(e)) => return Err(NalError::Stack(e)),
            Err(nb::Error::WouldBlock) => {
                if wait().is_break() {
                    return Err(NalError::TimedOut);
                }
            }
        }
    }
}

impl<S: TcpClientStack, W> ErrorType for NalStream<'_, S, W> {
    type Error = NalError<S::Error>;
}

impl<S: TcpClientStack, W: FnMut() -> ControlFlow<()>> Read for NalStream<'_, S, W> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (stack, socket) = (&mut *self.stack, &mut self.socket);
        match retry(&mut self.wait, || stack.receive(socket, buf)) {
            // The peer closed its side: the end of the stream, not a failure.
            Err(NalError::Stack(e)) if e.kind() == TcpErrorKind::PipeClosed => Ok(0),
            other => other,
        }
    }
}

impl<S: TcpClientStack, W: FnMut() -> ControlFlow<()>> Write for NalStream<'_, S, W> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (stack, socket) = (&mut *self.stack, &mut self.socket);
        retry(&mut self.wait, || stack.send(socket, buf))
    }

    /// `embedded-nal` has no flush: a stack sends what it accepted on its own.
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
