//! The firmware example: a whole TLS upload on a Cortex-M4F with 64 KiB of RAM, no heap.
//!
//! Build: `cargo build -p tpns-firmware-example --target thumbv7em-none-eabihf --profile firmware`
//! (or `--release`). An unoptimised (dev) build does not fit the 256 KiB of flash of
//! `memory.x`: unoptimised `embedded-tls` and its crypto alone take more than 600 KB.
//! On the host this is an empty program, so that workspace-wide host builds keep working.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod device {
    use core::hint::black_box;

    use cortex_m_rt::entry;
    use tpns_core::endpoint::Region;
    use tpns_firmware_example::{
        CA_DER, InsecureProbeRng, PACKAGE, Probe, example_settings, upload_over_tls,
    };
    use tpns_transport_embedded::source::FlashPackage;

    #[entry]
    fn main() -> ! {
        let endpoint = Region::Guangzhou.endpoint();
        let settings = example_settings(&endpoint, black_box(CA_DER));
        // A board passes its TCP socket and TRNG here; the probes only make the program link
        // the whole path.
        let mut package = FlashPackage::new(black_box(PACKAGE));
        let result = upload_over_tls(Probe, InsecureProbeRng, &settings, &mut package);
        black_box(result.is_ok());
        loop {
            cortex_m::asm::wfi();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
