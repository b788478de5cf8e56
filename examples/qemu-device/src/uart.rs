//! A polled driver for the CMSDK APB UART of Arm's MPS2 boards, as an
//! `embedded_io::{Read, Write}` byte pipe.
//!
//! On QEMU's `mps2-an386`, UART0 is at `0x4000_4000`; `-serial tcp:127.0.0.1:PORT` connects
//! it to a TCP socket, so the bytes written here are the TLS records the server reads. The
//! UART has a one-byte transmit and a one-byte receive holding register (CMSDK APB UART TRM:
//! DATA at 0x0, STATE at 0x4 with bit 0 "TX full" and bit 1 "RX full", CTRL at 0x8 with bit 0
//! "TX enable" and bit 1 "RX enable", BAUDDIV at 0x10, which must be at least 16).
//!
//! A line has no end-of-file: a peer that stops sending is noticed by an idle timeout counted
//! with SysTick wraps. It is a bound against hanging forever, not a timing claim.

use core::fmt;
use core::ptr::{read_volatile, write_volatile};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;

/// UART0 of the MPS2 boards (AN385/AN386/AN500).
pub const UART0: usize = 0x4000_4000;

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

/// The MPS2 boards' UART clock and system clock, 25 MHz. 25 MHz / 16 = 1.5625 MBd; QEMU does
/// not pace the line by the baud rate, but it refuses a divider below 16.
const BAUD_DIVIDER: u32 = 16;

/// SysTick counts the 25 MHz core clock from 0xFF_FFFF down: one wrap is about 0.67 s.
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;
const WRAPS_PER_10_S: u32 = 15;

/// Why the line failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError {
    /// Nothing could be sent for the idle timeout: the peer stopped reading.
    SendTimeout,
    /// Nothing arrived for the idle timeout: the peer stopped sending (or closed).
    ReceiveTimeout,
}

impl fmt::Display for UartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SendTimeout => "serial line: could not send for the idle timeout",
            Self::ReceiveTimeout => "serial line: nothing received for the idle timeout",
        })
    }
}

impl core::error::Error for UartError {}

impl embedded_io::Error for UartError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::TimedOut
    }
}

/// The UART, polled, with SysTick as its idle clock.
pub struct Uart {
    base: usize,
    syst: SYST,
    idle_wraps: u32,
    /// Bytes sent and received, for the report.
    pub sent: u64,
    /// Bytes received.
    pub received: u64,
}

impl fmt::Debug for Uart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uart")
            .field("base", &format_args!("{:#x}", self.base))
            .field("sent", &self.sent)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Uart {
    /// Enables the UART at `base` (transmit and receive), and SysTick for the idle timeout of
    /// `idle_seconds` (rounded to 10 s steps, at least 10 s).
    ///
    /// # Safety
    ///
    /// `base` must be a CMSDK APB UART that nothing else drives.
    #[allow(unsafe_code)]
    pub unsafe fn new(base: usize, mut syst: SYST, idle_seconds: u32) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYSTICK_RELOAD);
        syst.clear_current();
        syst.enable_counter();
        let uart = Uart {
            base,
            syst,
            idle_wraps: idle_seconds.div_ceil(10).max(1) * WRAPS_PER_10_S,
            sent: 0,
            received: 0,
        };
        uart.write_reg(BAUDDIV, BAUD_DIVIDER);
        uart.write_reg(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        uart
    }

    #[allow(unsafe_code)]
    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s caller promised a CMSDK UART at `base`; its registers are 32-bit,
        // aligned, and reading them has no effect beyond the device's own (DATA pops RX).
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    #[allow(unsafe_code)]
    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn state(&self) -> u32 {
        self.read_reg(STATE)
    }

    /// Polls until `ready`, or fails with `error` after the idle timeout.
    fn wait(&mut self, mask: u32, set: bool, error: UartError) -> Result<(), UartError> {
        let mut wraps = 0;
        // COUNTFLAG is cleared by reading it: start counting whole wraps from now.
        let _ = self.syst.has_wrapped();
        loop {
            if (self.state() & mask != 0) == set {
                return Ok(());
            }
            if self.syst.has_wrapped() {
                wraps += 1;
                if wraps >= self.idle_wraps {
                    return Err(error);
                }
            }
        }
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = UartError;
}

impl embedded_io::Read for Uart {
    /// Waits for a first byte, then takes whatever else is already there.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.wait(STATE_RX_FULL, true, UartError::ReceiveTimeout)?;
        let mut n = 0;
        while n < buf.len() && self.state() & STATE_RX_FULL != 0 {
            buf[n] = self.read_reg(DATA) as u8;
            n += 1;
        }
        self.received += n as u64;
        Ok(n)
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        Ok(self.state() & STATE_RX_FULL != 0)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        for &b in buf {
            self.wait(STATE_TX_FULL, false, UartError::SendTimeout)?;
            self.write_reg(DATA, u32::from(b));
        }
        self.sent += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), UartError> {
        self.wait(STATE_TX_FULL, false, UartError::SendTimeout)
    }
}
