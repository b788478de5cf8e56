//! Fault injection: the SPEC syntax, where a request's SPEC comes from, and the `times=N`
//! budget.
//!
//! A SPEC is a comma-separated list of `key` or `key=value`:
//! `delay=MS`, `slow` or `slow=MS`, `close-after=N`, `status=500|503`, `chunked`, `http10`,
//! `reject-early`, `rate-limit`, `times=N`. It comes from, in order of precedence, a path
//! prefix `/_fault/<SPEC>/`, the `X-Emulator-Fault` header, or the `--fault` start flag.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The header that carries a SPEC.
pub const FAULT_HEADER: &str = "x-emulator-fault";
/// The path prefix that carries a SPEC: `/_fault/<SPEC>/<normal path>`.
pub const FAULT_PREFIX: &str = "/_fault/";

/// A parsed SPEC. The default value injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSpec {
    /// `delay=MS`: wait this long before answering.
    pub delay: Option<Duration>,
    /// `slow[=MS]`: write the response one byte at a time, pausing this long between bytes.
    pub slow: Option<Duration>,
    /// `close-after=N`: read N body bytes, then drop the connection without answering.
    pub close_after: Option<u64>,
    /// `status=500|503`: answer this HTTP status with a JSON error body.
    pub status: Option<u16>,
    /// `chunked`: answer with `Transfer-Encoding: chunked`, chunk extensions and a trailer.
    pub chunked: bool,
    /// `http10`: answer `HTTP/1.0`, delimited by closing the connection.
    pub http10: bool,
    /// `reject-early`: answer 401 before reading the body, then close.
    pub reject_early: bool,
    /// `rate-limit`: answer retCode / ret_code 1008028.
    pub rate_limit: bool,
    /// `times=N`: apply to the first N requests carrying this exact SPEC string only.
    pub times: Option<u64>,
}

/// The pause between bytes for `slow` without a value.
pub const DEFAULT_SLOW: Duration = Duration::from_millis(2);
/// The longest SPEC accepted, in bytes (every key once with a large value fits in 150).
pub const MAX_SPEC_LEN: usize = 256;
/// The largest `delay=MS`: one minute.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The largest `slow=MS`: a second between bytes already makes an answer take minutes.
pub const MAX_SLOW_MS: u64 = 1_000;
/// How many distinct SPEC strings with `times=N` the budget remembers. A count cannot be
/// forgotten (a retry would see the fault again), so a new SPEC past this is refused.
pub const MAX_BUDGET_SPECS: usize = 256;

impl FaultSpec {
    /// Parses a SPEC.
    ///
    /// # Errors
    /// A message naming the key or value that is not understood.
    pub fn parse(spec: &str) -> Result<FaultSpec, String> {
        if spec.len() > MAX_SPEC_LEN {
            return Err(format!("fault SPEC longer than {MAX_SPEC_LEN} bytes"));
        }
        let mut f = FaultSpec::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            let number = |v: Option<&str>| -> Result<u64, String> {
                v.ok_or_else(|| format!("fault `{key}` needs a value"))?
                    .parse::<u64>()
                    .map_err(|_| format!("fault `{key}` needs a whole number"))
            };
            let flag = |v: Option<&str>| -> Result<bool, String> {
                match v {
                    None => Ok(true),
                    Some(_) => Err(format!("fault `{key}` takes no value")),
                }
            };
            let at_most = |n: u64, max: u64| -> Result<Duration, String> {
                if n > max {
                    return Err(format!("fault `{key}` must be at most {max} ms, not {n}"));
                }
                Ok(Duration::from_millis(n))
            };
            match key {
                "delay" => f.delay = Some(at_most(number(value)?, MAX_DELAY_MS)?),
                "slow" => {
                    f.slow = Some(match value {
                        None => DEFAULT_SLOW,
                        Some(_) => at_most(number(value)?, MAX_SLOW_MS)?,
                    })
                }
                "close-after" => f.close_after = Some(number(value)?),
                "status" => {
                    let s = number(value)?;
                    if !(400..=599).contains(&s) {
                        return Err(format!("fault `status` must be 400..=599, not {s}"));
                    }
                    f.status = Some(s as u16);
                }
                "chunked" => f.chunked = flag(value)?,
                "http10" => f.http10 = flag(value)?,
                "reject-early" => f.reject_early = flag(value)?,
                "rate-limit" => f.rate_limit = flag(value)?,
                "times" => f.times = Some(number(value)?),
                _ => return Err(format!("unknown fault `{key}`")),
            }
        }
        Ok(f)
    }

    /// Whether the fault needs control over the raw bytes of the exchange, which the emulator's
    /// own HTTP/1.1 writer gives and hyper does not.
    pub fn is_raw(&self) -> bool {
        self.slow.is_some()
            || self.close_after.is_some()
            || self.chunked
            || self.http10
            || self.reject_early
    }

    /// Whether the SPEC injects anything at all.
    pub fn is_active(&self) -> bool {
        *self != FaultSpec::default()
            && *self
                != FaultSpec {
                    times: self.times,
                    ..Default::default()
                }
    }
}

/// Splits a request path into its `/_fault/<SPEC>` prefix (if any) and the normal path.
pub fn split_path(path: &str) -> (Option<&str>, &str) {
    match path.strip_prefix(FAULT_PREFIX) {
        Some(rest) => match rest.find('/') {
            Some(i) => (Some(&rest[..i]), &rest[i..]),
            None => (Some(rest), "/"),
        },
        None => (None, path),
    }
}

/// Counts how often each SPEC string with `times=N` has been applied: at most
/// [`MAX_BUDGET_SPECS`] strings of at most [`MAX_SPEC_LEN`] bytes, so about 100 KiB.
#[derive(Debug, Default)]
pub struct FaultBudget {
    used: Mutex<HashMap<String, u64>>,
}

/// A new `times=N` SPEC when the budget already holds [`MAX_BUDGET_SPECS`] of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetFull;

impl std::fmt::Display for BudgetFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the emulator already counts {MAX_BUDGET_SPECS} distinct times=N SPECs; reuse one \
             or restart the emulator"
        )
    }
}

impl std::error::Error for BudgetFull {}

impl FaultBudget {
    /// Whether a request carrying `spec` (parsed as `parsed`) gets the fault, using up one of
    /// its `times` if it has a limit.
    ///
    /// # Errors
    /// [`BudgetFull`] for a SPEC not yet counted when the table is full.
    pub fn admit(&self, spec: &str, parsed: &FaultSpec) -> Result<bool, BudgetFull> {
        let Some(limit) = parsed.times else {
            return Ok(true);
        };
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if !used.contains_key(spec) && used.len() >= MAX_BUDGET_SPECS {
            return Err(BudgetFull);
        }
        let n = used.entry(spec.to_owned()).or_insert(0);
        Ok(if *n < limit {
            *n += 1;
            true
        } else {
            false
        })
    }

    /// How many SPECs are counted.
    pub fn len(&self) -> usize {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no SPEC is counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let f = FaultSpec::parse(
            "delay=250,slow,close-after=100,status=503,chunked,http10,reject-early,rate-limit,times=2",
        )
        .unwrap();
        assert_eq!(f.delay, Some(Duration::from_millis(250)));
        assert_eq!(f.slow, Some(DEFAULT_SLOW));
        assert_eq!(f.close_after, Some(100));
        assert_eq!(f.status, Some(503));
        assert!(f.chunked && f.http10 && f.reject_early && f.rate_limit);
        assert_eq!(f.times, Some(2));
        assert!(f.is_raw());
        assert_eq!(
            FaultSpec::parse("slow=5").unwrap().slow,
            Some(Duration::from_millis(5))
        );
        assert!(
            !FaultSpec::parse("delay=1,status=500,rate-limit")
                .unwrap()
                .is_raw()
        );
        assert_eq!(FaultSpec::parse("").unwrap(), FaultSpec::default());
        assert!(!FaultSpec::parse("times=3").unwrap().is_active());
        assert!(FaultSpec::parse("delay=0").unwrap().is_active());
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "bogus",
            "delay",
            "delay=x",
            "status=200",
            "chunked=1",
            "close-after=-1",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_prefix() {
        assert_eq!(
            split_path("/_fault/close-after=100/v3/push/package/upload"),
            (Some("close-after=100"), "/v3/push/package/upload")
        );
        assert_eq!(split_path("/_fault/slow"), (Some("slow"), "/"));
        assert_eq!(split_path("/v3/push/app"), (None, "/v3/push/app"));
    }

    #[test]
    fn times_budget_per_spec_string() {
        let b = FaultBudget::default();
        let f = FaultSpec::parse("status=503,times=2").unwrap();
        assert_eq!(b.admit("status=503,times=2", &f), Ok(true));
        assert_eq!(b.admit("status=503,times=2", &f), Ok(true));
        assert_eq!(b.admit("status=503,times=2", &f), Ok(false));
        assert_eq!(b.admit("times=2,status=503", &f), Ok(true));
        let g = FaultSpec::parse("status=503").unwrap();
        assert!((0..10).all(|_| b.admit("status=503", &g) == Ok(true)));
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn the_budget_table_is_capped() {
        let b = FaultBudget::default();
        let f = FaultSpec::parse("status=503,times=1").unwrap();
        for i in 0..MAX_BUDGET_SPECS {
            assert_eq!(
                b.admit(&format!("status=503,times=1,delay={i}"), &f),
                Ok(true)
            );
        }
        assert_eq!(
            b.admit("status=503,times=1,delay=9999", &f),
            Err(BudgetFull)
        );
        // Counted SPECs keep their count; SPECs without times are not counted.
        assert_eq!(b.admit("status=503,times=1,delay=0", &f), Ok(false));
        let g = FaultSpec::parse("status=503").unwrap();
        assert_eq!(b.admit("status=503", &g), Ok(true));
        assert_eq!(b.len(), MAX_BUDGET_SPECS);
    }

    #[test]
    fn long_specs_and_long_waits_are_refused() {
        let long = format!("delay=1,{}", " ".repeat(MAX_SPEC_LEN));
        assert!(
            FaultSpec::parse(&long)
                .unwrap_err()
                .contains("longer than 256")
        );
        assert!(FaultSpec::parse("delay=60001").is_err());
        assert!(FaultSpec::parse("slow=1001").is_err());
        assert!(FaultSpec::parse("delay=60000,slow=1000").is_ok());
    }
}
