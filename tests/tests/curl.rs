//! `curl` as a second independent client (skipped, with a printed note, where curl is absent).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use tpns_emulator::generate_cert;

fn has_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("note: curl is not installed; curl cases skipped");
    }
    ok
}

/// Runs curl; returns its exit code and stdout.
fn curl(args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--noproxy", "*"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s:?}"))
}

fn curl_upload(url: &str, ca: &Path, file: &Path, extra: &[&str]) -> (i32, String) {
    let user = format!("{}:{}", APP.0, APP.1);
    let form = format!("file=@{}", file.display());
    let ca = ca.display().to_string();
    let mut args = vec!["--cacert", &ca, "-u", &user, "-F", &form];
    args.extend_from_slice(extra);
    args.push(url);
    curl(&args)
}

#[test]
fn curl_uploads_over_https_and_http() {
    if !has_curl() {
        return;
    }
    let (dir, emu) = start_emulator("curl");
    let content = rows(50_000); // ~750 KB
    let file = dir.write("accounts.txt", &content);
    let port = emu.https_addr().port();
    let urls = [
        format!("https://127.0.0.1:{port}/v3/push/package/upload"),
        format!("https://localhost:{port}/v3/push/package/upload"),
        format!("http://{}/v3/push/package/upload", emu.http_addr().unwrap()),
    ];
    for url in &urls {
        let (code, out) = curl_upload(url, emu.ca_path(), &file, &[]);
        assert_eq!(code, 0, "{url}: {out}");
        assert_eq!(json(&out)["retCode"], 0, "{url}: {out}");
    }
    // TLS 1.2 and 1.3 both work; Expect: 100-continue is honoured.
    let url = &urls[0];
    for extra in [
        &["--tlsv1.2", "--tls-max", "1.2"][..],
        &["--tlsv1.3"][..],
        &["-H", "Expect: 100-continue"][..],
        &["-H", "Expect: 100-continue", "--expect100-timeout", "30"][..],
    ] {
        let (code, out) = curl_upload(url, emu.ca_path(), &file, extra);
        assert_eq!(code, 0, "{extra:?}: {out}");
        assert_eq!(json(&out)["retCode"], 0, "{extra:?}: {out}");
    }
    let ups = emu.uploads();
    assert_eq!(ups.len(), 7);
    for u in &ups {
        assert_eq!(u.rows, 50_000);
        assert_eq!(
            std::fs::read(emu.stored_path(u.upload_id)).unwrap(),
            content
        );
    }
}

#[test]
fn curl_sees_rejections_and_faults() {
    if !has_curl() {
        return;
    }
    let (dir, emu) = start_emulator("curl-faults");
    let bad = dir.write("bad.csv", b"account\nx,y\n");
    let base = format!("https://127.0.0.1:{}", emu.https_addr().port());
    let (code, out) = curl_upload(
        &format!("{base}/v3/push/package/upload"),
        emu.ca_path(),
        &bad,
        &[],
    );
    assert_eq!(code, 0);
    let j = json(&out);
    assert_eq!(j["retCode"], 1_008_011);
    assert!(j["errMsg"].as_str().unwrap().contains("line 2"), "{j}");

    let good = dir.write("good.txt", rows(3));
    for spec in ["chunked", "http10", "slow=0", "delay=20"] {
        let url = format!("{base}/_fault/{spec}/v3/push/package/upload");
        let (code, out) = curl_upload(&url, emu.ca_path(), &good, &[]);
        assert_eq!(code, 0, "{spec}: {out}");
        assert_eq!(json(&out)["retCode"], 0, "{spec}: {out}");
    }
    // close-after: curl reports an empty reply (52) or a receive error (56), and nothing is kept.
    let url = format!("{base}/_fault/close-after=50/v3/push/package/upload");
    let (code, _) = curl_upload(&url, emu.ca_path(), &good, &[]);
    assert!(code == 52 || code == 56, "curl exit {code}");
    // status: -f makes curl fail on it (22).
    let url = format!("{base}/_fault/status=503/v3/push/package/upload");
    let (code, _) = curl_upload(&url, emu.ca_path(), &good, &["-f"]);
    assert_eq!(code, 22);
    assert_eq!(emu.uploads().len(), 4);
}

#[test]
fn curl_refuses_an_untrusted_certificate() {
    if !has_curl() {
        return;
    }
    let (dir, emu) = start_emulator("curl-ca");
    let other = generate_cert(&["localhost"]).unwrap();
    let other_ca = dir.write("other-ca.pem", other.ca_pem);
    let url = format!("https://127.0.0.1:{}/", emu.https_addr().port());
    let (code, _) = curl(&["--cacert", &other_ca.display().to_string(), &url]);
    assert_eq!(code, 60, "curl must refuse a certificate from another CA");
    let (code, out) = curl(&["--cacert", &emu.ca_path().display().to_string(), &url]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["status"], "ok");
}
