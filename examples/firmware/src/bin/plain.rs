//! The upload path without TLS, for its flash figure: the same program as the TLS example
//! with the socket used as it is. `scripts/footprint.sh` subtracts `baseline` from it.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod device {
    use core::hint::black_box;

    use cortex_m_rt::entry;
    use tpns_core::endpoint::Region;
    use tpns_firmware_example::{
        CA_DER, InsecureProbeRng, PACKAGE, Probe, example_settings, upload_plain,
    };
    use tpns_transport_embedded::source::FlashPackage;

    #[entry]
    fn main() -> ! {
        let endpoint = Region::Guangzhou.endpoint();
        let settings = example_settings(&endpoint, CA_DER);
        let mut package = FlashPackage::new(black_box(PACKAGE));
        let result = upload_plain(&mut Probe, &mut InsecureProbeRng, &settings, &mut package);
        black_box(matches!(result, Some(Ok(_))));
        loop {
            cortex_m::asm::wfi();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
