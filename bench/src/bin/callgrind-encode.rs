//! The encoder for `callgrind.sh`: sends N MiB (second argument, default 64) of a package
//! through the client's 64 KiB buffer into an in-memory sink. Only the `tpns_bench::hot_*`
//! function of the mode is counted:
//!
//! - `body`: `multipart::Body::fill` (part head, package, closing delimiter);
//! - `request`: `upload::UploadBytes::fill` (request head and body);
//! - `upload`: the blocking driver `upload::upload` into a transport that drops the bytes,
//!   with the canned response read back;
//! - `validate`: `package::validate_rows`, the check `tpns upload` runs before sending;
//! - `rows-ascii`, `rows-mixed`, `rows-cjk`: the row check alone (`RowValidator::feed` in
//!   64 KiB pieces, as the criterion bench `rows` runs it) on the data sets of `gen-package`.

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "request".into());
    let mib: usize = std::env::args()
        .nth(2)
        .map_or(64, |a| a.parse().expect("MiB"));
    let package = tpns_bench::package(mib << 20);
    let mut buf = vec![0u8; tpns_bench::BUFFER];
    let n = match mode.as_str() {
        "body" => tpns_bench::hot_body(&package, &mut buf),
        "request" => tpns_bench::with_job(|job| tpns_bench::hot_request(job, &package, &mut buf)),
        "upload" => tpns_bench::with_job(|job| {
            tpns_bench::hot_upload(job, &package, &mut buf);
            package.len() as u64
        }),
        "validate" => tpns_bench::hot_validate(&package, &mut buf),
        "rows-ascii" | "rows-mixed" | "rows-cjk" => {
            let mix = match mode.as_str() {
                "rows-ascii" => tpns_bench::Mix::Ascii,
                "rows-mixed" => tpns_bench::Mix::Mixed,
                _ => tpns_bench::Mix::Cjk,
            };
            let text = tpns_bench::mixed_package(mib << 20, mix);
            tpns_bench::hot_rows(&text, tpns_bench::BUFFER)
        }
        other => {
            eprintln!("unknown mode {other}: body, request, upload, validate or rows-MIX");
            std::process::exit(2);
        }
    };
    println!("{mode} {n}");
}
