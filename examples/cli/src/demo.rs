//! `tpns demo`: the whole job against an in-process emulator, for a first run without an
//! account.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tpns_emulator::{Emulator, EmulatorConfig};
use tpns_transport_std::rustls::crypto::ring::default_provider;
use tpns_transport_std::{Region, SecretKey};

use crate::fail::{Failure, NETWORK, USAGE};
use crate::settings::Settings;
use crate::{push, upload};

/// The demo app's AccessID (the emulator knows only this app, with a fresh random secret).
const DEMO_ACCESS_ID: &str = "1600000001";
/// Accounts in the sample package.
const DEMO_ROWS: u64 = 50_000;

pub fn run(out: &mut dyn Write) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::new(USAGE, format!("demo: {e}"));
    let dir = TempDir::new().map_err(io)?;
    let secret = random_secret()?;

    // 1. The emulator: HTTPS on 127.0.0.1 with a certificate from a CA made just now.
    let emulator = Emulator::start(
        EmulatorConfig::new(dir.0.join("emulator")).app(DEMO_ACCESS_ID, secret.dangerous_expose()),
    )
    .map_err(|e| Failure::new(NETWORK, format!("demo: cannot start the emulator: {e}")))?;
    let mut say = |line: String| -> Result<(), Failure> {
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))
    };
    say("tpns demo: the whole job against a local TPNS emulator (no account, no network)".into())?;
    say(format!(
        "1. Started the emulator at {} with a fresh certificate; its CA is {}",
        emulator.https_url(),
        crate::term::path(emulator.ca_path())
    ))?;
    say(format!(
        "   App: AccessID {DEMO_ACCESS_ID}, SecretKey random (not shown)"
    ))?;

    // 2. A sample package.
    let package = dir.0.join("demo-accounts.txt");
    write_package(&package, DEMO_ROWS).map_err(io)?;
    let size = std::fs::metadata(&package).map_err(io)?.len();
    say(format!(
        "2. Wrote a sample package {}: {DEMO_ROWS} accounts, {size} bytes",
        crate::term::path(&package)
    ))?;

    // 3 and 4. The code path of `tpns upload`: local check, then the upload over HTTPS,
    // verified against the emulator's CA only (besides the Mozilla roots).
    let settings = Settings {
        region: Region::Guangzhou,
        endpoint: Some(emulator.https_url()),
        access_id: DEMO_ACCESS_ID.to_owned(),
        secret,
        signed_push: false,
        ca_file: Some(emulator.ca_path().to_owned()),
        timeout: Duration::from_secs(10),
        deadline: None,
        retries: 3,
        // The emulator is in this process: a proxy from the environment must not be asked.
        proxy: None,
        no_proxy: true,
    };
    say("3. Checking it locally and uploading it, as `tpns upload` does:".into())?;
    say(format!(
        "   tpns upload --endpoint {} --ca-file {} {}",
        emulator.https_url(),
        crate::term::path(emulator.ca_path()),
        crate::term::path(&package)
    ))?;
    let mut printed = Vec::new();
    let outcome = upload::run(
        &settings,
        &package,
        &upload::Options {
            json: false,
            progress: true,
            kind: tpns_transport_std::RowKind::Account,
            name: None,
            check_first: false,
        },
        &mut printed,
    )?;
    let id = outcome.uploaded.upload_id;
    say(format!(
        "   The package is valid ({} rows). Uploaded over TLS (certificate and host name \
         verified) in {:.2} s: uploadId {id}",
        outcome.report.rows,
        outcome.uploaded.elapsed.as_secs_f64()
    ))?;

    // 5. What the emulator stored.
    let local = sha256_file(&package).map_err(io)?;
    match emulator.uploads().iter().find(|r| r.upload_id == id) {
        Some(r) if r.sha256 == local && r.size == size => say(format!(
            "4. The emulator stored {} bytes, {} rows; sha256 {} matches the local file",
            r.size, r.rows, r.sha256
        ))?,
        Some(r) => {
            return Err(Failure::new(
                NETWORK,
                format!(
                    "demo: the stored package differs: sha256 {} vs {local} locally",
                    r.sha256
                ),
            ));
        }
        None => {
            return Err(Failure::new(
                NETWORK,
                format!("demo: the emulator has no record of uploadId {id}"),
            ));
        }
    }

    // 6. The code path of `tpns push`.
    say(format!(
        "5. Pushing to it, as `tpns push --upload-id {id} --title ... --content ...` does:"
    ))?;
    let pushed = push::run(
        &settings,
        &push::Options::new(
            id,
            "Hello from tpns".into(),
            "The demo package got this notification.".into(),
        ),
        &mut printed,
    )?;
    say(format!(
        "   push_id {}",
        crate::term::sanitize(&pushed.push_id)
    ))?;
    say("Done. With your own app (see `tpns --help`):".into())?;
    say("   export TPNS_ACCESS_ID=<AccessID> TPNS_SECRET_KEY=<SecretKey>".into())?;
    say("   tpns check accounts.txt".into())?;
    say("   id=$(tpns upload --region gz accounts.txt)".into())?;
    say("   tpns push --region gz --upload-id \"$id\" --title Hello --content World".into())?;
    say(format!("uploadId: {id}"))?;
    emulator.shutdown();
    Ok(())
}

fn random_secret() -> Result<SecretKey, Failure> {
    let mut bytes = [0u8; 16];
    default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| Failure::new(USAGE, "demo: no random numbers from the system"))?;
    Ok(SecretKey::new(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

fn write_package(path: &Path, rows: u64) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..rows {
        writeln!(w, "demo-account-{i:06}")?;
    }
    w.into_inner()?.sync_all()
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let mut bytes = [0u8; 8];
        let _ = default_provider().secure_random.fill(&mut bytes);
        let dir = std::env::temp_dir().join(format!(
            "tpns-demo-{}-{}",
            std::process::id(),
            u64::from_le_bytes(bytes)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
