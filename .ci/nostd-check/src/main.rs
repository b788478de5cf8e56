//! A bare-metal program that links every entry point of `tpns-core` with no global allocator.
//!
//! `alloc` ships in the bare-metal targets' standard library, so an rlib build proves nothing;
//! only a linked binary does: had anything used `alloc`, the link would fail with "no global
//! memory allocator found". The transport is opaque to the optimiser (`black_box`), so the
//! code is really linked, not folded away. CI builds it for `thumbv7em-none-eabihf` and
//! `riscv32imc-unknown-none-elf`; on the host it is an empty program.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod device {
    use core::hint::black_box;
    use core::ops::ControlFlow;

    use embedded_io::{ErrorKind, ErrorType};
    use tpns_core::auth::Credentials;
    use tpns_core::endpoint::Endpoint;
    use tpns_core::multipart::Boundary;
    use tpns_core::package::{Format, validate_rows};
    use tpns_core::push::{Push, PushAuth, PushRequest, push};
    use tpns_core::response::Limits;
    use tpns_core::upload::{Upload, upload};

    /// A transport whose behaviour the optimiser cannot see.
    struct Opaque;

    impl ErrorType for Opaque {
        type Error = ErrorKind;
    }

    impl embedded_io::Read for Opaque {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            let n = black_box(buf.len());
            for b in &mut buf[..n] {
                *b = black_box(0);
            }
            Ok(n)
        }
    }

    impl embedded_io::Write for Opaque {
        fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            Ok(black_box(buf).len())
        }
        fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    impl embedded_io_async::Read for Opaque {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            embedded_io::Read::read(self, buf)
        }
    }

    impl embedded_io_async::Write for Opaque {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            embedded_io::Write::write(self, buf)
        }
        async fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    static PACKAGE: &[u8] = b"device-000001\ndevice-000002\n";

    fn run() -> u64 {
        let endpoint = Endpoint::parse(black_box("https://api.tpns.tencent.com/"))
            .unwrap_or(tpns_core::endpoint::Region::Guangzhou.endpoint());
        let Ok(credentials) = Credentials::new(black_box("1500001048"), black_box("secret")) else {
            return 0;
        };
        let job = Upload {
            endpoint: &endpoint,
            credentials,
            file_name: "devices.txt",
            boundary: Boundary::from_random(black_box([7; 16])),
            expect_continue: black_box(false),
            limits: Limits::default(),
        };
        let mut buf = [0u8; 512];
        let package = black_box(PACKAGE);
        let mut id = 0;
        if validate_rows(package, Format::Txt, &mut buf).is_ok() {
            if let Ok(r) = upload(
                &mut Opaque,
                &job,
                package,
                package.len() as u64,
                &mut buf,
                |_| ControlFlow::Continue(()),
            ) {
                id += r.upload_id;
            }
        }
        {
            let mut transport = Opaque;
            let future = tpns_core::upload_async::upload(
                &mut transport,
                &job,
                package,
                28,
                &mut buf,
                |_| ControlFlow::Continue(()),
            );
            let mut future = core::pin::pin!(future);
            let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
            if let core::task::Poll::Ready(Ok(r)) = future.as_mut().poll(&mut cx) {
                id += r.upload_id;
            }
        }
        let request = PushRequest {
            upload_id: id,
            title: "t",
            content: "c",
            ..PushRequest::default()
        };
        let job = Push {
            endpoint: &endpoint,
            auth: PushAuth::Signature {
                credentials,
                timestamp: black_box(1_565_314_789),
            },
            request,
            limits: Limits::default(),
        };
        let mut pushed = match push(&mut Opaque, &job, &mut buf) {
            Ok(r) => r.push_id.as_str().len() as u64,
            Err(_) => id,
        };
        {
            let mut transport = Opaque;
            let future = tpns_core::push::push_async(&mut transport, &job, &mut buf);
            let mut future = core::pin::pin!(future);
            let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
            if let core::task::Poll::Ready(Ok(r)) = future.as_mut().poll(&mut cx) {
                pushed += r.push_id.as_str().len() as u64;
            }
        }
        pushed
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }

    // The entry point must keep its symbol name for the linker: `no_mangle` is an unsafe
    // attribute in edition 2024, hence the local allowance.
    #[allow(unsafe_code)]
    #[unsafe(no_mangle)]
    extern "C" fn _start() -> ! {
        black_box(run());
        loop {
            core::hint::spin_loop();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
