//! An empty cortex-m-rt program: the runtime's own flash and RAM, which
//! `scripts/footprint.sh` subtracts from the other binaries' figures.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod device {
    use cortex_m_rt::entry;
    // The panic handler only.
    use tpns_firmware_example as _;

    #[entry]
    fn main() -> ! {
        loop {
            cortex_m::asm::wfi();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {}
