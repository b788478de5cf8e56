//! A run of a binary (the `tpns` program) with a time limit: stdin closed, stdout and stderr
//! read on threads so that a chatty child never blocks on a full pipe.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ID, SECRET};

/// The limit for runs whose test names none: far beyond any run's need, so that only a hang
/// reaches it.
pub const GENEROUS: Duration = Duration::from_secs(120);

/// What a run printed, how it ended and how long it took.
#[derive(Debug)]
pub struct Run {
    /// The child's process id.
    pub pid: u32,
    /// Its exit code.
    pub code: i32,
    /// Its standard output, lossily decoded.
    pub stdout: String,
    /// Its standard error, lossily decoded.
    pub stderr: String,
    /// From spawn to exit.
    pub took: Duration,
}

/// `bin` with the test app's AccessID and SecretKey in the environment and `RUST_LOG` removed.
pub fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("TPNS_ACCESS_ID", ID)
        .env("TPNS_SECRET_KEY", SECRET)
        .env_remove("RUST_LOG");
    cmd
}

/// Sets (`Some`) or removes (`None`) each variable of `vars` on `cmd`.
pub fn with_env<'c>(cmd: &'c mut Command, vars: &[(&str, Option<&str>)]) -> &'c mut Command {
    for (k, v) in vars {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// Runs `cmd` with stdin closed; kills it and panics if it is still running after `limit`,
/// or if it ends by a signal.
pub fn run(cmd: &mut Command, limit: Duration) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still ran after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        pid: child.id(),
        code: status.code().expect("an exit code, not a signal"),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        took: started.elapsed(),
    }
}

impl Run {
    /// Panics if any of `secrets` appears in the output; `what` names the run.
    pub fn assert_hides(&self, secrets: &[&str], what: &dyn std::fmt::Debug) {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "a secret appears in the output of {what:?}: {self:?}"
            );
        }
    }
}
