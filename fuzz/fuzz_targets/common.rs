//! Shared by the fuzz targets: feeding a response reader in pieces, and the nesting depth of a
//! JSON value. Each target includes this file and uses part of it.
#![allow(dead_code)]

use tpns_core::response::{Event, Limits, ResponseError, ResponseReader};

/// What a response reader made of some input.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    pub interims: Vec<u16>,
    pub status: Option<u16>,
    pub body: Vec<u8>,
}

/// Feeds `input` in two pieces split at `split`, then closes; checks the reader's contract
/// on the way (consumption bounds, `NeedMore` consumes everything, the body limit).
pub fn read_response(input: &[u8], split: usize, limits: Limits) -> Result<Read, ResponseError> {
    let mut reader = ResponseReader::new(limits);
    let mut out = Read {
        interims: Vec::new(),
        status: None,
        body: Vec::new(),
    };
    let split = split.min(input.len());
    for piece in [&input[..split], &input[split..]] {
        let mut at = 0;
        loop {
            let (used, event) = reader.parse(&piece[at..])?;
            assert!(used <= piece.len() - at, "consumed more than given");
            at += used;
            match event {
                Event::NeedMore => {
                    assert_eq!(at, piece.len(), "NeedMore left input unconsumed");
                    break;
                }
                Event::Interim { status } => out.interims.push(status),
                Event::Head(h) => out.status = Some(h.status),
                Event::Body(b) => {
                    out.body.extend_from_slice(b);
                    assert!(
                        out.body.len() as u64 <= limits.max_body,
                        "body limit exceeded"
                    );
                }
                Event::End => return Ok(out),
            }
        }
    }
    reader.finish()?;
    Ok(out)
}

/// How deeply `v` nests arrays and objects (0 for a scalar).
pub fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
