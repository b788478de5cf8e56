//! The emulator in a temporary folder: started with the test app, shut down and its folder
//! removed on drop.

use std::ops::Deref;

use tpns_emulator::{Emulator, EmulatorConfig};

use crate::{ID, SECRET, TempDir};

/// A running emulator whose data lives in `dir/data`, with the test app ([`ID`], [`SECRET`]).
/// It derefs to the [`Emulator`].
#[derive(Debug)]
pub struct Emu {
    // Fields drop in order: the server stops before its folder is removed.
    emulator: Emulator,
    dir: TempDir,
}

impl Emu {
    /// HTTPS and plain HTTP on ephemeral ports of 127.0.0.1.
    pub fn start(tag: &str) -> Emu {
        Self::start_with(tag, |c, _| c.http("127.0.0.1:0".parse().unwrap()))
    }

    /// HTTPS only, on an ephemeral port of 127.0.0.1.
    pub fn https_only(tag: &str) -> Emu {
        Self::start_with(tag, |c, _| c)
    }

    /// The test app's configuration as changed by `f`; `f` sees the folder, for files such as
    /// a certificate to serve.
    pub fn start_with(
        tag: &str,
        f: impl FnOnce(EmulatorConfig, &TempDir) -> EmulatorConfig,
    ) -> Emu {
        Self::try_start_with(tag, f).expect("the emulator starts")
    }

    /// As [`Emu::start_with`], for a test that can do without the emulator (an address the
    /// host may not have, such as `[::1]`).
    pub fn try_start_with(
        tag: &str,
        f: impl FnOnce(EmulatorConfig, &TempDir) -> EmulatorConfig,
    ) -> std::io::Result<Emu> {
        let dir = TempDir::new(tag);
        let config = f(EmulatorConfig::new(dir.join("data")).app(ID, SECRET), &dir);
        let emulator = Emulator::start(config)?;
        Ok(Emu { emulator, dir })
    }

    /// The folder, which holds `data/` and whatever the test writes.
    pub fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The emulator's CA certificate file, as text, ready to be an argument.
    pub fn ca(&self) -> &str {
        self.ca_path().to_str().unwrap()
    }
}

impl Deref for Emu {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}
