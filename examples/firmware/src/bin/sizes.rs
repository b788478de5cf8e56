//! `size_of` of the upload state *on the target*, published as symbol sizes
//! (`SIZE_OF_*`, read by `scripts/footprint.sh` with `llvm-nm --print-size`), and the HTTP
//! layer's RAM budget checked at compile time: state plus the caller's buffer within 1 KiB.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod device {
    use core::hint::black_box;
    use core::mem::size_of;

    use cortex_m_rt::entry;
    use tpns_core::exchange::Collector;
    use tpns_core::upload::UploadFields;
    use tpns_core::upload::{Upload, UploadBytes};
    use tpns_firmware_example::{HTTP_BUF_LEN, Probe};
    use tpns_transport_embedded::source::FlashPackage;
    use tpns_transport_embedded::tls::{ChainVerifier, NotBefore, TlsStream};

    /// The request side of an upload: head position, multipart state, the source.
    const REQUEST: usize = size_of::<UploadBytes<'static, &'static mut FlashPackage<'static>>>();
    /// The response side: HTTP framing, JSON reader, the fields and the error text.
    const RESPONSE: usize = size_of::<Collector<UploadFields>>();
    /// What to upload and where (borrowed strings, the boundary, limits).
    const JOB: usize = size_of::<Upload<'static>>();
    /// The HTTP layer's own RAM: its state plus the caller's buffer.
    const HTTP: usize = REQUEST + RESPONSE + JOB + HTTP_BUF_LEN;
    const _: () = assert!(
        HTTP <= 1024,
        "the HTTP layer must fit 1 KiB beyond the TLS buffers"
    );

    static SIZE_OF_UPLOAD_BYTES: [u8; REQUEST] = [0; REQUEST];
    static SIZE_OF_COLLECTOR: [u8; RESPONSE] = [0; RESPONSE];
    static SIZE_OF_UPLOAD_JOB: [u8; JOB] = [0; JOB];
    static SIZE_OF_HTTP_LAYER: [u8; HTTP] = [0; HTTP];
    /// The TLS connection's own state (its record buffers are the caller's).
    static SIZE_OF_TLS_CONNECTION: [u8; size_of::<TlsStream<'static, Probe>>()] =
        [0; size_of::<TlsStream<'static, Probe>>()];
    /// The chain verifier (lives during the handshake only): the leaf's key kept for the
    /// CertificateVerify, the transcript hash, what was proved.
    static SIZE_OF_TLS_VERIFIER: [u8; size_of::<ChainVerifier<'static, NotBefore>>()] =
        [0; size_of::<ChainVerifier<'static, NotBefore>>()];

    #[entry]
    fn main() -> ! {
        black_box(&SIZE_OF_UPLOAD_BYTES);
        black_box(&SIZE_OF_COLLECTOR);
        black_box(&SIZE_OF_UPLOAD_JOB);
        black_box(&SIZE_OF_HTTP_LAYER);
        black_box(&SIZE_OF_TLS_CONNECTION);
        black_box(&SIZE_OF_TLS_VERIFIER);
        loop {
            cortex_m::asm::wfi();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
