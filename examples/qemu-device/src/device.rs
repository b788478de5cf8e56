//! The program: arguments, CA, seed, package check, the TLS upload, the report.

use core::fmt::Write as _;
use core::ops::ControlFlow;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use embedded_io::Read as _;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rustls_pki_types::CertificateDer;
use semihosting::{eprintln, println, process};
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::package::{CheckedSource, check_file_name, check_size};
use tpns_core::response::Limits;
use tpns_core::upload::{Progress, Upload, upload};
use tpns_transport_embedded::source::{Package, SeekPackage};
use tpns_transport_embedded::tls;
use tpns_transport_embedded::tls::{
    READ_RECORD_LEN, TlsBuffers, Trust, WRITE_RECORD_LEN, anchor_from_der,
};
use tpns_transport_embedded::upload::TlsUploadError;

use crate::config::{Config, USAGE};
use crate::pem::PemDecoder;
use crate::storage::HostFile;
use crate::uart::{UART0, Uart};

/// The HTTP layer's buffer: request bytes out and response bytes in go through it.
const IO_BUF_LEN: usize = 1024;
/// Room for the trust anchor's certificate, DER (the emulator's RSA-4096 root is about 1.4 KB,
/// its ECDSA P-256 CA about 400 bytes).
const CA_CAPACITY: usize = 2048;
/// The firmware's build time (Unix seconds, from build.rs): a floor for certificate dates on a
/// board with no real-time clock.
const BUILD_TIME: u64 = match u64::from_str_radix(env!("TPNS_BUILD_TIME"), 10) {
    Ok(seconds) => seconds,
    Err(_) => panic!("TPNS_BUILD_TIME is not a number of seconds"),
};
/// Room for the semihosting command line.
const ARGS_LEN: usize = 512;
/// Give up when the line is silent this long (the emulator answers within a second or so).
const IDLE_SECONDS: u32 = 30;

/// Exit codes, for the script (0 is an upload done).
#[derive(Debug, Clone, Copy)]
enum Exit {
    /// Bad arguments or input files.
    Config = 2,
    /// The TLS handshake failed.
    Handshake = 3,
    /// The upload failed.
    Upload = 4,
    /// The stack self-test reached its floor.
    Stack = 5,
    /// A fault (a stack overflow into the guard is reported as such).
    Fault = 134,
}

fn fail(code: Exit, what: &str, error: &dyn core::fmt::Display) -> ! {
    eprintln!("tpns-qemu-device: error: {what}: {error}");
    process::exit(code as i32)
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` to statics (.bss): the TLS record buffers,
    // the HTTP buffer and the CA live there, not on the stack, and are counted as static RAM.
    static mut TLS_READ: [u8; READ_RECORD_LEN] = [0; READ_RECORD_LEN];
    static mut TLS_WRITE: [u8; WRITE_RECORD_LEN] = [0; WRITE_RECORD_LEN];
    static mut IO_BUF: [u8; IO_BUF_LEN] = [0; IO_BUF_LEN];
    static mut CA_DER: [u8; CA_CAPACITY] = [0; CA_CAPACITY];

    let Some(core) = cortex_m::Peripherals::take() else {
        fail(Exit::Config, "peripherals", &"taken twice")
    };
    guard_stack(&core.MPU);
    let args = match semihosting::experimental::env::args::<ARGS_LEN>() {
        Ok(args) => args,
        Err(e) => fail(Exit::Config, "reading the command line", &e),
    };
    let config = match Config::parse((&args).filter_map(Result::ok)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{USAGE}");
            fail(Exit::Config, "arguments", &e)
        }
    };

    if config.overflow_test {
        println!("selftest: recursing until the stack guard stops the program");
        let depth = recurse(0);
        fail(Exit::Stack, "selftest", &depth)
    }

    // Whom to trust: the CA file, decoded as it is read, 64 bytes at a time.
    let ca_der = {
        let mut file =
            HostFile::open(config.ca, 64).unwrap_or_else(|e| fail(Exit::Config, config.ca, &e));
        let mut decoder = PemDecoder::new(CA_DER);
        let mut chunk = [0u8; 64];
        loop {
            let n = file
                .read(&mut chunk)
                .unwrap_or_else(|e| fail(Exit::Config, config.ca, &e));
            if n == 0 {
                break;
            }
            decoder
                .feed(&chunk[..n])
                .unwrap_or_else(|e| fail(Exit::Config, config.ca, &e));
        }
        decoder
            .finish()
            .unwrap_or_else(|e| fail(Exit::Config, config.ca, &e))
    };
    let ca_cert = CertificateDer::from(&ca_der[..]);
    let anchors = [anchor_from_der(&ca_cert).unwrap_or_else(|e| fail(Exit::Config, config.ca, &e))];
    let trust = Trust::new(&anchors, config.server_name)
        .unwrap_or_else(|e| fail(Exit::Config, "trust", &e))
        // The emulated board has no real-time clock: the firmware's build time is the floor,
        // so a certificate that expired before this firmware was built is refused. A device
        // with a trusted clock uses `check_time`.
        .not_before(BUILD_TIME);

    // Randomness: QEMU's MPS2 board has no TRNG. The host hands a fresh 32-byte seed (from its
    // /dev/urandom) as a file, and ChaCha20 expands it. A real device seeds from its TRNG.
    let mut rng = {
        let mut seed = [0u8; 32];
        let mut file =
            HostFile::open(config.seed, 32).unwrap_or_else(|e| fail(Exit::Config, config.seed, &e));
        match file.read_exact(&mut seed) {
            Ok(()) => {}
            Err(embedded_io::ReadExactError::UnexpectedEof) => {
                fail(Exit::Config, config.seed, &"fewer than 32 bytes")
            }
            Err(embedded_io::ReadExactError::Other(e)) => fail(Exit::Config, config.seed, &e),
        }
        if seed.iter().all(|&b| b == seed[0]) {
            fail(Exit::Config, config.seed, &"a constant seed is no seed");
        }
        ChaCha20Rng::from_seed(seed)
    };

    // The package: read once, checked while it is sent (`CheckedSource`). A broken row stops
    // the upload before the body's closing delimiter (the last row is judged at the end of
    // the file, before that delimiter): the server stores nothing. Only a chunk is held.
    let format = match check_file_name(config.name).map(|kind| kind.format()) {
        Ok(Some(format)) => format,
        Ok(None) => fail(
            Exit::Config,
            config.name,
            &"zip packages are not handled by this program",
        ),
        Err(e) => fail(Exit::Config, config.name, &e),
    };
    let file = HostFile::open(config.package, config.chunk)
        .unwrap_or_else(|e| fail(Exit::Config, config.package, &e));
    let len = file
        .len()
        .unwrap_or_else(|e| fail(Exit::Config, config.package, &e));
    if let Err(e) = check_size(len) {
        fail(Exit::Config, config.package, &e);
    }
    let mut package = SeekPackage::region(file, 0, len)
        .unwrap_or_else(|e| fail(Exit::Config, config.package, &e));
    println!(
        "package {}: {} bytes, checked while sent; RAM for the program: {} bytes",
        config.package,
        package.len(),
        ram_len()
    );

    let endpoint =
        Endpoint::parse(config.url).unwrap_or_else(|e| fail(Exit::Config, config.url, &e));
    let credentials = Credentials::new(config.access_id, config.secret_key)
        .unwrap_or_else(|e| fail(Exit::Config, "app", &e));
    let mut boundary = [0u8; 16];
    rng.fill_bytes(&mut boundary);
    let job = Upload {
        endpoint: &endpoint,
        credentials,
        file_name: config.name,
        boundary: Boundary::from_random(boundary),
        expect_continue: false,
        limits: Limits::default(),
    };

    // SAFETY: UART0 of the MPS2 board; nothing else in this program touches it.
    #[allow(unsafe_code)]
    let mut uart = unsafe { Uart::new(UART0, core.SYST, IDLE_SECONDS) };
    let mut next_report = 0u64;
    let progress = |p: Progress| {
        if p.sent >= next_report {
            println!("sent {} of {} package bytes", p.sent, p.total);
            next_report += p.total.div_ceil(4).max(1);
        }
        ControlFlow::Continue(())
    };
    // The same steps as `tpns_transport_embedded::upload::upload_tls` (handshake, upload,
    // close_notify), taken one by one so that the stack each needs is measured apart: the stack
    // is repainted after each step and the next step's high-water mark read from the paint.
    let startup = stack_peak_and_repaint();
    let handshake = tls::connect(&mut uart, TlsBuffers::new(TLS_READ, TLS_WRITE), &trust, rng);
    let handshake_peak = stack_peak_and_repaint();
    let result = match handshake {
        Err(e) => Err(TlsUploadError::Handshake(e)),
        Ok(mut stream) => {
            let checked = CheckedSource::new(&mut package, format);
            let answer = upload(&mut stream, &job, checked, len, IO_BUF, progress);
            // The answer is in: a failed close_notify changes nothing about it.
            let _ = stream.close();
            answer.map_err(TlsUploadError::Upload)
        }
    };
    let upload_peak = stack_peak_and_repaint();

    let file = package.into_inner();
    let (statics, stack_room) = ram_layout();
    let peak = startup.max(handshake_peak).max(upload_peak);
    println!(
        "serial line: {} bytes sent, {} received; package file: {} reads of at most {} bytes \
         (largest {}), {} bytes read in all",
        uart.sent, uart.received, file.reads, config.chunk, file.largest, file.bytes
    );
    println!(
        "stack high-water by step: start-up and package check {startup}, TLS handshake \
         {handshake_peak}, upload over TLS and close {upload_peak} bytes"
    );
    println!(
        "RAM: {statics} bytes static (.data+.bss), stack high-water {peak} of {stack_room} bytes, \
         total {} of {}",
        statics + peak,
        ram_len()
    );
    if peak >= stack_room {
        fail(
            Exit::Stack,
            "stack",
            &"the stack reached the statics: overflow",
        );
    }
    match result {
        Ok(answer) => {
            println!("uploadId={}", answer.upload_id);
            process::exit(0)
        }
        Err(e) => {
            let mut line = Line::default();
            let _ = write!(line, "{e}");
            let code = match e {
                TlsUploadError::Handshake(_) => Exit::Handshake,
                // The exchange failed (or a failure this program does not know yet).
                _ => Exit::Upload,
            };
            fail(code, "upload", &line.as_str())
        }
    }
}

/// A short message buffer, so the error is printed once, whole.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl Line {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("(unprintable)")
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            let mut tmp = [0u8; 4];
            let bytes = c.encode_utf8(&mut tmp).as_bytes();
            if self.len + bytes.len() > self.buf.len() {
                return Ok(());
            }
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

#[allow(unsafe_code)]
unsafe extern "C" {
    // From cortex-m-rt's link.x: RAM bounds, and the stack's bounds (it grows down from
    // `_stack_start` to `_stack_end`, the end of the statics).
    static _ram_start: u32;
    static _ram_end: u32;
    static _stack_start: u32;
    static _stack_end: u32;
}

fn ram_len() -> usize {
    symbol(&raw const _ram_end) - symbol(&raw const _ram_start)
}

fn symbol(p: *const u32) -> usize {
    p as usize
}

/// Size of the MPU guard region at the bottom of the stack (the smallest ARMv7-M region).
const GUARD_LEN: usize = 32;

/// The lowest stack address the program may use: just above the guard region.
fn stack_floor() -> usize {
    symbol(&raw const _stack_end).next_multiple_of(GUARD_LEN) + GUARD_LEN
}

/// Static RAM (everything below the stack) and the stack's room above the guard, in bytes.
fn ram_layout() -> (usize, usize) {
    let end = symbol(&raw const _stack_end);
    (
        end - symbol(&raw const _ram_start),
        symbol(&raw const _stack_start) - stack_floor(),
    )
}

/// Makes a stack overflow fault instead of silently overwriting the statics: cortex-m-rt puts
/// the stack right above them, unguarded, so the MPU forbids every access to the 32 bytes at
/// the stack's bottom (ARMv7-M PMSA, region 0: no access, execute never; the default map
/// stays in force elsewhere). A program that hits it ends in a fault (QEMU exits non-zero);
/// a run that stays above it proves its high-water mark.
#[allow(unsafe_code)]
fn guard_stack(mpu: &cortex_m::peripheral::MPU) {
    const RASR_ENABLE: u32 = 1;
    const RASR_SIZE_32: u32 = 4 << 1; // 2^(4+1) bytes
    const RASR_AP_NONE: u32 = 0b000 << 24;
    const RASR_XN: u32 = 1 << 28;
    const CTRL_ENABLE: u32 = 1;
    const CTRL_PRIVDEFENA: u32 = 1 << 2;
    let base = stack_floor() - GUARD_LEN;
    // SAFETY: region 0 covers only the guard words, which nothing uses; the default memory map
    // (PRIVDEFENA) keeps every other access as it was. The barriers make it take effect before
    // the stack grows.
    unsafe {
        mpu.rnr.write(0);
        mpu.rbar.write(base as u32);
        mpu.rasr
            .write(RASR_XN | RASR_AP_NONE | RASR_SIZE_32 | RASR_ENABLE);
        mpu.ctrl.write(CTRL_ENABLE | CTRL_PRIVDEFENA);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

/// Uses 1 KiB of stack per call, as deep as the stack goes (64 KiB of RAM end far before
/// `u32::MAX` calls): only the stack guard ends it.
#[inline(never)]
fn recurse(depth: u32) -> u32 {
    if depth == u32::MAX {
        return 0;
    }
    let mut frame = [0u8; 1024];
    frame[depth as usize % 1024] = depth as u8;
    let frame = core::hint::black_box(frame);
    recurse(depth + 1) + u32::from(frame[0])
}

const PAINT: u32 = 0xCCCC_CCCC;

/// How deep the stack went since it was last painted, in bytes; then paints the free stack
/// (below the current stack pointer) again for the next step.
///
/// cortex-m-rt's `paint-stack` fills the whole stack with 0xCCCCCCCC at reset; the lowest word
/// that lost the paint is the high-water mark. Nothing else runs (no interrupts are enabled),
/// so the stack below this function's frame is free. The guard region is not read.
#[inline(never)]
#[allow(unsafe_code)]
fn stack_peak_and_repaint() -> usize {
    let start = symbol(&raw const _stack_start);
    let floor = stack_floor();
    let mut lowest = floor;
    while lowest < start {
        // SAFETY: `floor.._stack_start` is RAM, word aligned, outside the guard.
        if unsafe { core::ptr::read_volatile(lowest as *const u32) } != PAINT {
            break;
        }
        lowest += 4;
    }
    let sp = cortex_m::register::msp::read() as usize & !3;
    let mut at = floor;
    while at < sp {
        // SAFETY: RAM below the stack pointer and above the guard: unused stack.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
    start - lowest
}

#[exception]
#[allow(unsafe_code)]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // Configurable Fault Status and MemManage Fault Address registers (ARMv7-M B3.2.15/17).
    const CFSR: *const u32 = 0xE000_ED28 as *const u32;
    const MMFAR: *const u32 = 0xE000_ED34 as *const u32;
    const DACCVIOL: u32 = 1 << 1;
    const MSTKERR: u32 = 1 << 4;
    const MMARVALID: u32 = 1 << 7;
    // SAFETY: architectural System Control Block registers, read only.
    let (cfsr, mmfar) = unsafe {
        (
            core::ptr::read_volatile(CFSR),
            core::ptr::read_volatile(MMFAR),
        )
    };
    let guard = stack_floor() - GUARD_LEN..stack_floor();
    let at_guard = cfsr & MSTKERR != 0
        || (cfsr & (DACCVIOL | MMARVALID) == DACCVIOL | MMARVALID
            && guard.contains(&(mmfar as usize)));
    if at_guard {
        eprintln!(
            "tpns-qemu-device: stack overflow: the stack guard at {:#010x} was hit (CFSR {cfsr:#010x})",
            guard.start
        );
    } else {
        eprintln!(
            "tpns-qemu-device: HardFault at pc {:#010x} (CFSR {cfsr:#010x}, MMFAR {mmfar:#010x})",
            frame.pc()
        );
    }
    process::exit(Exit::Fault as i32)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    eprintln!("tpns-qemu-device: panic: {info}");
    process::exit(101)
}
