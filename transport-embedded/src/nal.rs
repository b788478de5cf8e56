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
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
        // Some stacks answer a full transmit buffer with `Ok(0)`; `embedded_io::Write` must not
        // (a writer loop would panic or spin), so that is waited out like `WouldBlock`.
        retry(&mut self.wait, || match stack.send(socket, buf) {
            Ok(0) => Err(nb::Error::WouldBlock),
            other => other,
        })
    }

    /// `embedded-nal` has no flush: a stack sends what it accepted on its own.
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use core::cell::Cell;
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// What the scripted stack answers, one entry per call.
    #[derive(Debug, Clone, Copy)]
    enum Answer {
        Block,
        Bytes(usize),
        Fail(TcpErrorKind),
    }

    #[derive(Debug)]
    struct Failure(TcpErrorKind);

    impl TcpError for Failure {
        fn kind(&self) -> TcpErrorKind {
            self.0
        }
    }

    /// A stack that follows a script: `WouldBlock`s, short transfers, failures.
    #[derive(Default)]
    struct Scripted {
        answers: Vec<Answer>,
        sent: Vec<u8>,
        closed: usize,
    }

    impl Scripted {
        fn next(&mut self) -> Answer {
            if self.answers.is_empty() {
                Answer::Fail(TcpErrorKind::Other)
            } else {
                self.answers.remove(0)
            }
        }
    }

    impl TcpClientStack for Scripted {
        type TcpSocket = ();
        type Error = Failure;

        fn socket(&mut self) -> Result<(), Failure> {
            Ok(())
        }

        fn connect(&mut self, _: &mut (), _: SocketAddr) -> nb::Result<(), Failure> {
            match self.next() {
                Answer::Block => Err(nb::Error::WouldBlock),
                Answer::Bytes(_) => Ok(()),
                Answer::Fail(k) => Err(nb::Error::Other(Failure(k))),
            }
        }

        fn send(&mut self, _: &mut (), buffer: &[u8]) -> nb::Result<usize, Failure> {
            match self.next() {
                Answer::Block => Err(nb::Error::WouldBlock),
                Answer::Bytes(n) => {
                    let n = n.min(buffer.len());
                    self.sent.extend_from_slice(&buffer[..n]);
                    Ok(n)
                }
                Answer::Fail(k) => Err(nb::Error::Other(Failure(k))),
            }
        }

        fn receive(&mut self, _: &mut (), buffer: &mut [u8]) -> nb::Result<usize, Failure> {
            match self.next() {
                Answer::Block => Err(nb::Error::WouldBlock),
                Answer::Bytes(n) => {
                    let n = n.min(buffer.len());
                    buffer[..n].fill(b'x');
                    Ok(n)
                }
                Answer::Fail(k) => Err(nb::Error::Other(Failure(k))),
            }
        }

        fn close(&mut self, _: ()) -> Result<(), Failure> {
            self.closed += 1;
            Ok(())
        }
    }

    const ADDR: SocketAddr = SocketAddr::V4(core::net::SocketAddrV4::new(
        core::net::Ipv4Addr::LOCALHOST,
        443,
    ));

    /// A wait hook that counts its calls and always waits again.
    fn counting(waits: &Cell<u32>) -> impl FnMut() -> ControlFlow<()> + '_ {
        || {
            waits.set(waits.get() + 1);
            ControlFlow::Continue(())
        }
    }

    #[test]
    fn would_block_calls_the_wait_hook_and_retries() {
        use Answer::*;
        let mut stack = Scripted {
            answers: [
                Block,
                Block,
                Bytes(0),
                Block,
                Bytes(3),
                Block,
                Bytes(2),
                Bytes(9),
            ]
            .into(),
            ..Scripted::default()
        };
        let waits = Cell::new(0);
        let mut s = NalStream::connect_with(&mut stack, ADDR, counting(&waits)).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf).unwrap(), 3);
        s.write_all(b"hello").unwrap();
        s.flush().unwrap();
        s.close().unwrap();
        assert_eq!(waits.get(), 4);
        assert_eq!(stack.sent, b"hello");
        assert_eq!(stack.closed, 1);
    }

    #[test]
    fn a_send_of_zero_bytes_is_waited_out_not_passed_on() {
        use Answer::*;
        // connect, then send: 0 bytes twice (a full transmit buffer), then all of it.
        let mut stack = Scripted {
            answers: [Bytes(0), Bytes(0), Bytes(0), Bytes(5)].into(),
            ..Scripted::default()
        };
        let waits = Cell::new(0);
        let mut s = NalStream::connect_with(&mut stack, ADDR, counting(&waits)).unwrap();
        assert_eq!(s.write(b"hello").unwrap(), 5);
        assert_eq!(waits.get(), 2);
        assert_eq!(stack.sent, b"hello");
    }

    #[test]
    fn the_wait_hook_gives_up_with_timed_out() {
        let mut stack = Scripted {
            answers: [Answer::Bytes(0), Answer::Block, Answer::Block].into(),
            ..Scripted::default()
        };
        let mut left = 1;
        let mut s = NalStream::connect_with(&mut stack, ADDR, || {
            if left == 0 {
                return ControlFlow::Break(());
            }
            left -= 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        let err = s.read(&mut [0u8; 4]).unwrap_err();
        assert!(matches!(err, NalError::TimedOut));
        assert_eq!(embedded_io::Error::kind(&err), ErrorKind::TimedOut);
    }

    #[test]
    fn pipe_closed_is_the_end_of_the_stream_for_reads_and_broken_pipe_for_writes() {
        let mut stack = Scripted {
            answers: [
                Answer::Bytes(0),
                Answer::Fail(TcpErrorKind::PipeClosed),
                Answer::Fail(TcpErrorKind::PipeClosed),
                Answer::Fail(TcpErrorKind::Other),
            ]
            .into(),
            ..Scripted::default()
        };
        let mut s = NalStream::connect(&mut stack, ADDR).unwrap();
        assert_eq!(s.read(&mut [0u8; 4]).unwrap(), 0);
        let err = s.write(b"x").unwrap_err();
        assert_eq!(embedded_io::Error::kind(&err), ErrorKind::BrokenPipe);
        let err = s.read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(embedded_io::Error::kind(&err), ErrorKind::Other);
        assert!(std::format!("{err}").starts_with("TCP stack error"));
        // Empty buffers never reach the stack.
        assert_eq!(s.read(&mut []).unwrap(), 0);
        assert_eq!(s.write(&[]).unwrap(), 0);
    }

    #[test]
    fn a_failed_connect_closes_the_socket() {
        let mut stack = Scripted {
            answers: [Answer::Block, Answer::Fail(TcpErrorKind::Other)].into(),
            ..Scripted::default()
        };
        let err = NalStream::connect(&mut stack, ADDR).unwrap_err();
        assert!(matches!(err, NalError::Stack(_)));
        assert_eq!(stack.closed, 1);
    }
}
