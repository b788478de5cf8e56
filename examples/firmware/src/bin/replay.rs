//! A recorded TLS upload (`replay/`, recorded against the emulator by `tests/replay.rs`)
//! played back on the target, for a *measured* stack high-water mark: cortex-m-rt paints the
//! stack at reset (`paint-stack`), the program runs the whole upload (handshake, certificate
//! check, request, answer) and reports over semihosting, then waits; `scripts/footprint.sh`
//! runs it in QEMU (mps2-an386), dumps the RAM through QEMU's monitor and finds the deepest
//! overwritten stack word. Build: `--features measure`.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod device {
    use cortex_m_rt::entry;
    use cortex_m_semihosting::hprintln;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;
    use tpns_core::endpoint::Endpoint;
    use tpns_firmware_example::{PACKAGE, REPLAY_SEED, Replay, replay_settings, upload_over_tls};
    use tpns_transport_embedded::source::FlashPackage;

    static SERVER: &[u8] = include_bytes!("../../replay/server.bin");
    static CA: &[u8] = include_bytes!("../../replay/ca.der");
    static META: &str = include_str!("../../replay/url.txt");

    #[entry]
    fn main() -> ! {
        let url = META.lines().next().unwrap_or("");
        match Endpoint::parse(url) {
            Ok(endpoint) => {
                let result = upload_over_tls(
                    Replay::new(SERVER),
                    ChaCha20Rng::seed_from_u64(REPLAY_SEED),
                    &replay_settings(&endpoint, CA),
                    &mut FlashPackage::new(PACKAGE),
                );
                match result {
                    Ok(id) => hprintln!("replay: ok uploadId {}", id),
                    Err(e) => hprintln!("replay: failed {:?}", e),
                }
            }
            Err(_) => hprintln!("replay: failed: bad URL"),
        }
        loop {
            cortex_m::asm::wfi();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
