//! Real certificate chains, gathered from public test corpora (see `data/README.md` for where
//! each file comes from), verified at a time when they were valid: real public RSA and ECDSA
//! chains with intermediates, and a few cases of RFC 5280's own test suite (PKITS).

mod common;

use rustls_pki_types::{CertificateDer, TrustAnchor};
use tpns_pki::{Error, KeyKind, Time, verify_server_chain};

/// 2025-08-13 19:31:46 UTC: when rustls-platform-verifier's real-world chains were captured
/// and the time its tests validate them at.
const AUGUST_2025: u64 = 1_755_113_506;

/// 2017-05-01 19:54:39 UTC: the time webpki-roots' own test validates the TUBITAK chain at.
const MAY_2017: u64 = 1_493_668_479;

/// 2017-07-14 02:40:00 UTC: inside the cryptography.io leaf's validity (2014-10-15 to
/// 2018-11-16).
const JULY_2017: u64 = 1_500_000_000;

/// 2015-01-01 00:00:00 UTC: inside PKITS' validity (2010 to 2030), after its "bad notAfter"
/// CA expired (2011).
const JANUARY_2015: u64 = 1_420_070_400;

const LETSENCRYPT: [&[u8]; 2] = [
    include_bytes!("data/letsencrypt_org_valid_1.crt"),
    include_bytes!("data/letsencrypt_org_valid_2.crt"),
];

const AWS: [&[u8]; 4] = [
    include_bytes!("data/aws_amazon_com_valid_1.crt"),
    include_bytes!("data/aws_amazon_com_valid_2.crt"),
    include_bytes!("data/aws_amazon_com_valid_3.crt"),
    include_bytes!("data/aws_amazon_com_valid_4.crt"),
];

/// The one anchor of webpki-roots whose subject names `cn`.
fn webpki_root(cn: &str) -> TrustAnchor<'static> {
    let mut found = webpki_roots::TLS_SERVER_ROOTS.iter().filter(|a| {
        a.subject
            .as_ref()
            .windows(cn.len())
            .any(|w| w == cn.as_bytes())
    });
    let anchor = found
        .next()
        .unwrap_or_else(|| panic!("{cn} in webpki-roots"));
    assert!(found.next().is_none(), "one {cn}");
    anchor.clone()
}

fn all_roots() -> &'static [TrustAnchor<'static>] {
    webpki_roots::TLS_SERVER_ROOTS
}

fn check(chain: &[&[u8]], anchors: &[TrustAnchor<'_>], host: &str, at: u64) -> Result<(), Error> {
    verify_server_chain(chain, anchors, host, Time::At(at)).map(|_| ())
}

#[test]
fn letsencrypt_org_ecdsa_chain_is_accepted() {
    // A P-256 leaf signed ecdsa-with-SHA384 by E6 (P-384), which ISRG Root X1 (RSA-4096)
    // signed with sha256WithRSAEncryption.
    assert_eq!(
        tpns_pki::describe(LETSENCRYPT[0]).unwrap().key,
        KeyKind::P256
    );
    assert_eq!(
        tpns_pki::describe(LETSENCRYPT[1]).unwrap().key,
        KeyKind::P384
    );
    let x1 = [webpki_root("ISRG Root X1")];
    for host in ["letsencrypt.org", "www.letsencrypt.org", "lencr.org"] {
        assert_eq!(
            check(&LETSENCRYPT, &x1, host, AUGUST_2025),
            Ok(()),
            "{host}"
        );
    }
    let key = verify_server_chain(
        &LETSENCRYPT,
        all_roots(),
        "letsencrypt.org",
        Time::At(AUGUST_2025),
    )
    .unwrap();
    assert_eq!(key.kind(), KeyKind::P256);
    assert_eq!(
        check(&LETSENCRYPT, &x1, "community.letsencrypt.org", AUGUST_2025),
        Err(Error::WrongHost)
    );
    // The leaf lived 90 days: from November 2025 on it is expired.
    let not_after = tpns_pki::describe(LETSENCRYPT[0]).unwrap().not_after;
    assert_eq!(
        check(&LETSENCRYPT, &x1, "letsencrypt.org", not_after + 1),
        Err(Error::Expired {
            at: not_after + 1,
            not_after
        })
    );
    assert_eq!(
        verify_server_chain(
            &LETSENCRYPT,
            &x1,
            "letsencrypt.org",
            Time::NotBefore(AUGUST_2025)
        )
        .map(|_| ()),
        Ok(())
    );
    // Without the intermediate, or under another root, there is no path.
    assert_eq!(
        check(&LETSENCRYPT[..1], &x1, "letsencrypt.org", AUGUST_2025),
        Err(Error::UnknownIssuer)
    );
    assert_eq!(
        check(
            &LETSENCRYPT,
            &[webpki_root("ISRG Root X2")],
            "letsencrypt.org",
            AUGUST_2025
        ),
        Err(Error::UnknownIssuer)
    );
}

#[test]
fn aws_amazon_com_rsa_chain_is_accepted() {
    // RSA-2048 leaf → Amazon RSA 2048 M01 → Amazon Root CA 1; the server also sent Amazon
    // Root CA 1 cross-signed by Starfield, and Starfield's own cross-signed root.
    assert_eq!(tpns_pki::describe(AWS[0]).unwrap().key, KeyKind::Rsa(2048));
    let amazon = [webpki_root("Amazon Root CA 1")];
    assert_eq!(check(&AWS, &amazon, "aws.amazon.com", AUGUST_2025), Ok(()));
    assert_eq!(
        check(&AWS[..2], &amazon, "aws.amazon.com", AUGUST_2025),
        Ok(())
    );
    assert_eq!(
        check(&AWS, all_roots(), "www.aws.amazon.com", AUGUST_2025),
        Ok(())
    );
    // The intermediates in reverse order.
    let reversed = [AWS[0], AWS[3], AWS[2], AWS[1]];
    assert_eq!(
        check(&reversed, &amazon, "aws.amazon.com", AUGUST_2025),
        Ok(())
    );
    assert_eq!(
        check(&AWS, &amazon, "amazon.com", AUGUST_2025),
        Err(Error::WrongHost)
    );
    // One byte of the leaf's RSA signature flipped.
    let bad = common::der::flipped(AWS[0], AWS[0].len() - 1);
    assert_eq!(
        check(&[&bad, AWS[1]], &amazon, "aws.amazon.com", AUGUST_2025),
        Err(Error::BadSignature)
    );
    // The intermediate's signature, by the root.
    let bad = common::der::flipped(AWS[1], AWS[1].len() - 1);
    assert_eq!(
        check(&[AWS[0], &bad], &amazon, "aws.amazon.com", AUGUST_2025),
        Err(Error::BadSignature)
    );
}

#[test]
fn tubitak_rsa_chain_is_accepted_within_its_name_constraints() {
    let root = include_bytes!("data/tubitak/root.der");
    let chain: [&[u8]; 2] = [
        include_bytes!("data/tubitak/subj.der"),
        include_bytes!("data/tubitak/inter.der"),
    ];
    let host = "testssl.kamusm.gov.tr";
    // The chain's own root, as a certificate.
    let root = CertificateDer::from(&root[..]);
    let own = [tpns_pki::anchor_from_der(&root).unwrap()];
    assert_eq!(check(&chain, &own, host, MAY_2017), Ok(()));
    // webpki-roots' anchor for the same root carries Mozilla's name constraints (.tr).
    let mozilla = webpki_root("TUBITAK Kamu SM SSL Kok Sertifikasi");
    assert!(mozilla.name_constraints.is_some());
    assert_eq!(check(&chain, &[mozilla], host, MAY_2017), Ok(()));
    // The leaf expired in March 2020.
    assert!(matches!(
        check(&chain, &own, host, JULY_2017 + 3 * 365 * 86_400),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn cryptography_io_chains_to_a_removed_root() {
    // An RSA-4096 leaf under RapidSSL SHA256 CA - G3 (RSA-2048), issued by GeoTrust Global
    // CA, which has left the Mozilla program: no anchor of webpki-roots accepts it.
    let pem = include_str!("data/cryptography.io.chain.pem");
    let certs = common::der::pem_all(pem);
    assert_eq!(certs.len(), 2);
    let chain: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    assert_eq!(
        tpns_pki::describe(chain[0]).unwrap().key,
        KeyKind::Rsa(4096)
    );
    assert_eq!(
        check(&chain, all_roots(), "www.cryptography.io", JULY_2017),
        Err(Error::UnknownIssuer)
    );
    // Trusting the intermediate itself (as a device pinning it would) accepts the leaf.
    let rapidssl = CertificateDer::from(chain[1]);
    let pinned = [tpns_pki::anchor_from_der(&rapidssl).unwrap()];
    assert_eq!(
        check(&chain[..1], &pinned, "www.cryptography.io", JULY_2017),
        Ok(())
    );
    assert_eq!(
        check(&chain[..1], &pinned, "cryptography.io", JULY_2017),
        Ok(())
    );
}

/// A PKITS case: the end entity, its CAs (nearest first), the expected outcome at
/// [`JANUARY_2015`] under the PKITS trust anchor.
///
/// PKITS end-entity certificates name no host (no SAN), so a path that validates ends in
/// `WrongHost`: webpki checks the host after the path, so `WrongHost` means "the path was
/// valid" here.
const PKITS: &[(&str, &str, &[&str], Error)] = &[
    (
        "4.1.1",
        "ValidCertificatePathTest1EE",
        &["GoodCACert"],
        Error::WrongHost,
    ),
    // The CA's signature BIT STRING says it has one unused bit (its first byte, 0x00 in a
    // good certificate, is 0x01): no RSA signature is that, and webpki refuses it as DER.
    (
        "4.1.2",
        "InvalidCASignatureTest2EE",
        &["BadSignedCACert"],
        Error::Malformed,
    ),
    (
        "4.1.3",
        "InvalidEESignatureTest3EE",
        &["GoodCACert"],
        Error::BadSignature,
    ),
    (
        "4.6.1",
        "InvalidMissingbasicConstraintsTest1EE",
        &["MissingbasicConstraintsCACert"],
        Error::NotCa,
    ),
    (
        "4.6.2",
        "InvalidcAFalseTest2EE",
        &["basicConstraintsCriticalcAFalseCACert"],
        Error::NotCa,
    ),
    (
        "4.6.4",
        "ValidbasicConstraintsNotCriticalTest4EE",
        &["basicConstraintsNotCriticalCACert"],
        Error::WrongHost,
    ),
    (
        "4.6.5",
        "InvalidpathLenConstraintTest5EE",
        &["pathLenConstraint0subCACert", "pathLenConstraint0CACert"],
        Error::PathLenExceeded,
    ),
    (
        "4.6.7",
        "ValidpathLenConstraintTest7EE",
        &["pathLenConstraint0CACert"],
        Error::WrongHost,
    ),
    (
        "4.7.1",
        "InvalidkeyUsageCriticalkeyCertSignFalseTest1EE",
        &["keyUsageCriticalkeyCertSignFalseCACert"],
        Error::KeyUsage,
    ),
    (
        "4.7.3",
        "ValidkeyUsageNotCriticalTest3EE",
        &["keyUsageNotCriticalCACert"],
        Error::WrongHost,
    ),
];

fn pkits(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/pkits/{name}.crt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn pkits_cases_get_their_expected_outcome() {
    let root = pkits("TrustAnchorRootCertificate");
    let root = CertificateDer::from(root.as_slice());
    let anchor = [tpns_pki::anchor_from_der(&root).unwrap()];
    for (section, ee, cas, expected) in PKITS {
        let mut certs = vec![pkits(ee)];
        certs.extend(cas.iter().map(|ca| pkits(ca)));
        let chain: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        assert_eq!(
            check(&chain, &anchor, "pkits.test", JANUARY_2015),
            Err(expected.clone()),
            "PKITS {section} {ee}"
        );
    }
}

#[test]
fn pkits_bad_ca_signature_with_a_whole_bit_string_is_a_bad_signature() {
    // 4.1.2 again, with the signature's unused-bits byte set back to 0: now the DER is
    // whole and the signature itself fails.
    let root = pkits("TrustAnchorRootCertificate");
    let root = CertificateDer::from(root.as_slice());
    let anchor = [tpns_pki::anchor_from_der(&root).unwrap()];
    let mut ca = pkits("BadSignedCACert");
    let at = ca.len() - 257; // BIT STRING contents: unused-bits byte, 256 signature bytes
    assert_eq!(ca[at - 4..=at], [0x03, 0x82, 0x01, 0x01, 0x01]);
    ca[at] = 0;
    let ee = pkits("InvalidCASignatureTest2EE");
    assert_eq!(
        check(&[&ee, &ca], &anchor, "pkits.test", JANUARY_2015),
        Err(Error::BadSignature)
    );
}

#[test]
fn pkits_expired_ca_is_refused_at_the_clock_and_the_floor() {
    // 4.2.2 Invalid CA notAfter Date Test5: the CA expired in 2011.
    let root = pkits("TrustAnchorRootCertificate");
    let root = CertificateDer::from(root.as_slice());
    let anchor = [tpns_pki::anchor_from_der(&root).unwrap()];
    let certs = [
        pkits("InvalidCAnotAfterDateTest5EE"),
        pkits("BadnotAfterDateCACert"),
    ];
    let chain: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    assert!(matches!(
        check(&chain, &anchor, "pkits.test", JANUARY_2015),
        Err(Error::Expired {
            at: JANUARY_2015,
            ..
        })
    ));
    assert!(matches!(
        verify_server_chain(&chain, &anchor, "pkits.test", Time::NotBefore(JANUARY_2015)),
        Err(Error::Expired { .. })
    ));
}
