//! The program's arguments, `key=value` words from the semihosting command line (QEMU's
//! `-semihosting-config …,arg=…`): which host files stand for the device's storage, where the
//! service is and which app uploads.

use core::fmt;

/// What one run uploads, and from where. Its `Debug` output leaves the SecretKey out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Config<'a> {
    /// Host path of the CA certificate (PEM or DER) the server's certificate must chain to.
    pub ca: &'a str,
    /// Host path of the package ("the SD card file").
    pub package: &'a str,
    /// Host path of the 32-byte RNG seed (see the README: QEMU's board has no TRNG).
    pub seed: &'a str,
    /// The service's base URL, `https://localhost:PORT/`.
    pub url: &'a str,
    /// The AccessID.
    pub access_id: &'a str,
    /// The SecretKey.
    pub secret_key: &'a str,
    /// The package's name as the service sees it: the file name of `package` unless given.
    pub name: &'a str,
    /// The DNS name the server's certificate must carry.
    pub server_name: &'a str,
    /// Largest read from the package file, in bytes.
    pub chunk: usize,
    /// `selftest=stack-overflow`: recurse until the stack guard stops the program, instead of
    /// uploading (the test that an overflow faults rather than corrupting memory).
    pub overflow_test: bool,
}

impl fmt::Debug for Config<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("ca", &self.ca)
            .field("package", &self.package)
            .field("seed", &self.seed)
            .field("url", &self.url)
            .field("access_id", &self.access_id)
            .field("secret_key", &"<redacted>")
            .field("name", &self.name)
            .field("server_name", &self.server_name)
            .field("chunk", &self.chunk)
            .field("overflow_test", &self.overflow_test)
            .finish()
    }
}

/// Why the arguments were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError<'a> {
    /// A word without `=`, or an unknown key.
    Unknown(&'a str),
    /// A required key is missing.
    Missing(&'static str),
    /// `app` is not `ACCESS_ID:SECRET`.
    App,
    /// `chunk` is not a number in 1..=4096.
    Chunk,
    /// `selftest` names no known test.
    SelfTest,
}

impl fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(word) => write!(f, "unknown argument `{word}`"),
            Self::Missing(key) => write!(f, "missing argument `{key}=…`"),
            Self::App => f.write_str("`app` must be ACCESS_ID:SECRET"),
            Self::Chunk => f.write_str("`chunk` must be a number of bytes in 1..=4096"),
            Self::SelfTest => f.write_str("`selftest` must be `stack-overflow`"),
        }
    }
}

/// The usage line printed with a [`ConfigError`].
pub const USAGE: &str = "usage: tpns-qemu-device ca=PEM package=FILE seed=FILE \
url=https://localhost:PORT/ app=ACCESS_ID:SECRET [name=NAME] [server=DNS] [chunk=BYTES] [selftest=stack-overflow]";

impl<'a> Config<'a> {
    /// Reads `key=value` words; the first word (the program's name) is skipped.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] names the word or key at fault.
    pub fn parse<I: IntoIterator<Item = &'a str>>(words: I) -> Result<Self, ConfigError<'a>> {
        let (mut ca, mut package, mut seed, mut url, mut app) = (None, None, None, None, None);
        let (mut name, mut server_name, mut chunk) = (None, "localhost", 512);
        let mut overflow_test = false;
        for word in words.into_iter().skip(1).filter(|w| !w.is_empty()) {
            let (key, value) = word.split_once('=').ok_or(ConfigError::Unknown(word))?;
            match key {
                "ca" => ca = Some(value),
                "package" => package = Some(value),
                "seed" => seed = Some(value),
                "url" => url = Some(value),
                "app" => app = Some(value),
                "name" => name = Some(value),
                "server" => server_name = value,
                "chunk" => {
                    chunk = value
                        .parse()
                        .ok()
                        .filter(|c| (1..=4096).contains(c))
                        .ok_or(ConfigError::Chunk)?;
                }
                "selftest" if value == "stack-overflow" => overflow_test = true,
                "selftest" => return Err(ConfigError::SelfTest),
                _ => return Err(ConfigError::Unknown(word)),
            }
        }
        let package = package.ok_or(ConfigError::Missing("package"))?;
        let (access_id, secret_key) = app
            .ok_or(ConfigError::Missing("app"))?
            .split_once(':')
            .ok_or(ConfigError::App)?;
        Ok(Config {
            ca: ca.ok_or(ConfigError::Missing("ca"))?,
            package,
            seed: seed.ok_or(ConfigError::Missing("seed"))?,
            url: url.ok_or(ConfigError::Missing("url"))?,
            access_id,
            secret_key,
            name: name.unwrap_or_else(|| package.rsplit('/').next().unwrap_or(package)),
            server_name,
            chunk,
            overflow_test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_command_line() {
        let words = "tpns-qemu-device ca=emu/ca.pem package=run/devices.txt seed=run/seed.bin \
                     url=https://localhost:4433/ app=1500001048:s3cr:et chunk=256"
            .split(' ');
        let c = Config::parse(words).unwrap();
        assert_eq!(c.ca, "emu/ca.pem");
        assert_eq!(c.package, "run/devices.txt");
        assert_eq!(c.name, "devices.txt");
        assert_eq!((c.access_id, c.secret_key), ("1500001048", "s3cr:et"));
        assert_eq!((c.server_name, c.chunk), ("localhost", 256));
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("s3cr") && debug.contains("<redacted>"),
            "{debug}"
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let base = ["p", "ca=a", "package=b", "seed=c", "url=d", "app=1:x"];
        assert!(Config::parse(base).is_ok());
        assert_eq!(
            Config::parse(["p", "ca=a"]).unwrap_err(),
            ConfigError::Missing("package")
        );
        let mut bad = base;
        bad[5] = "app=1";
        assert_eq!(Config::parse(bad).unwrap_err(), ConfigError::App);
        bad = base;
        bad[1] = "cert=a";
        assert_eq!(
            Config::parse(bad).unwrap_err(),
            ConfigError::Unknown("cert=a")
        );
        bad[1] = "chunk=0";
        assert_eq!(Config::parse(bad).unwrap_err(), ConfigError::Chunk);
        let with = |extra| base.into_iter().chain([extra]);
        assert_eq!(
            Config::parse(with("selftest=x")).unwrap_err(),
            ConfigError::SelfTest
        );
        assert!(!Config::parse(base).unwrap().overflow_test);
        assert!(
            Config::parse(with("selftest=stack-overflow"))
                .unwrap()
                .overflow_test
        );
    }
}
