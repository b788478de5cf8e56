//! Trust anchors the TPNS hosts are expected to chain to, picked one by one out of
//! webpki-roots (the Mozilla root program's data) at compile time.
//!
//! Each constant is found in `webpki_roots::TLS_SERVER_ROOTS` by its subject's common name
//! when this crate is built (`build.rs`): nothing is copied by hand, and a firmware links only the anchors
//! it names (a few hundred bytes each), not the whole list of about 150.
//!
//! Tencent's API hosts served an RSA chain up to **DigiCert Global Root G2** in 2025–26 (they
//! moved to G2 in 2025, with a cross-signed certificate for older clients that chains to the
//! older **DigiCert Global Root CA**). [`TPNS`] trusts G2: a path ends at the first trusted
//! anchor, so the cross-signed certificate is not needed. Check a live host with
//! `tpns cert-check --from` before you ship.
//!
//! DigiCert Global Root CA itself has left the Mozilla root program and is no longer in
//! webpki-roots, so it is not offered here. A device that must reach a host still chaining only
//! to it can pass that root's DER to [`crate::anchor_from_der`].
//!
//! ```
//! use tpns_pki::roots;
//! let anchors = [roots::DIGICERT_GLOBAL_ROOT_G2];
//! assert_eq!(roots::TPNS.len(), 1);
//! # let _ = anchors;
//! ```

use rustls_pki_types::TrustAnchor;

/// DigiCert Global Root G2 (RSA-2048, valid to 2038): the root of Tencent's API hosts since
/// 2025.
pub const DIGICERT_GLOBAL_ROOT_G2: TrustAnchor<'static> = DIGICERT_GLOBAL_ROOT_G2_DATA;

/// DigiCert TLS RSA4096 Root G5 (RSA-4096): DigiCert's newer RSA root.
pub const DIGICERT_TLS_RSA4096_ROOT_G5: TrustAnchor<'static> = DIGICERT_TLS_RSA4096_ROOT_G5_DATA;

/// DigiCert Global Root G3 (ECDSA P-384): DigiCert's ECDSA root, for hosts that serve ECDSA
/// chains.
pub const DIGICERT_GLOBAL_ROOT_G3: TrustAnchor<'static> = DIGICERT_GLOBAL_ROOT_G3_DATA;

/// The anchors to trust for the TPNS hosts: DigiCert Global Root G2.
pub const TPNS: &[TrustAnchor<'static>] = &[DIGICERT_GLOBAL_ROOT_G2];

use rustls_pki_types::Der;

include!(concat!(env!("OUT_DIR"), "/roots.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_anchor_is_the_named_root() {
        for (anchor, cn) in [
            (&DIGICERT_GLOBAL_ROOT_G2, "DigiCert Global Root G2"),
            (
                &DIGICERT_TLS_RSA4096_ROOT_G5,
                "DigiCert TLS RSA4096 Root G5",
            ),
            (&DIGICERT_GLOBAL_ROOT_G3, "DigiCert Global Root G3"),
        ] {
            let shown = crate::cert::Name(anchor.subject.as_ref()).to_string();
            assert!(shown.contains(&format!("CN={cn}")), "{shown}");
            assert!(
                webpki_roots::TLS_SERVER_ROOTS.iter().any(|r| r == anchor),
                "{cn} is not byte for byte a webpki-roots anchor"
            );
        }
    }
}
