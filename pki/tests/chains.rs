//! The chain verifier on chains made here: the emulator's four modes and their variations
//! are accepted; each broken rule is refused with its own `Error` variant.

mod common;

use common::der::{Der, flipped, resign, serial_range};
use common::{
    Ca, HOST, RsaPublicKey, check, ecdsa_chain, now, p256, p384, pkcs8, ring_ecdsa_sign,
    ring_rsa_sign, rsa, rsa_chain,
};
use rcgen::{ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512,
    RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512,
};
use tpns_emulator::pki::{PkiMode, ca_params, generate, keys, leaf_params};
use tpns_pki::{Error, KeyKind, Time, verify_server_chain};

const MODES: [PkiMode; 4] = [
    PkiMode::Simple,
    PkiMode::PublicRsa,
    PkiMode::PublicEcdsa,
    PkiMode::Mixed,
];

const DAY: u64 = 86_400;

/// [`check`] for [`HOST`], now.
fn check_now(chain: &[&[u8]], root: &[u8]) -> Result<(), Error> {
    check(chain, root, HOST, Time::At(now()))
}

/// [`check_now`] of `leaf` sent with the intermediate `inter`, under `root`.
fn check_leaf(leaf: &[u8], inter: &Ca, root: &Ca) -> Result<(), Error> {
    check_now(&[leaf, &inter.der], &root.der)
}

fn refs(chain: &[Vec<u8>]) -> Vec<&[u8]> {
    chain.iter().map(Vec::as_slice).collect()
}

// ---- accepted ----------------------------------------------------------------------------

#[test]
fn every_emulator_mode_is_accepted_at_every_kind_of_time() {
    for mode in MODES {
        let chain = generate(mode, &[HOST]).expect("chain");
        let served = refs(&chain.served);
        for time in [
            Time::At(now()),
            Time::NotBefore(now() - 30 * DAY),
            Time::DangerousAnyTime,
        ] {
            let key = common::verify(&served, &chain.root_der, HOST, time)
                .unwrap_or_else(|e| panic!("{mode:?} at {time:?}: {e}"));
            let expected = match mode {
                PkiMode::PublicRsa => KeyKind::Rsa(2048),
                _ => KeyKind::P256,
            };
            assert_eq!(key.kind(), expected, "{mode:?}");
        }
    }
}

#[test]
fn intermediates_in_reverse_order_are_accepted() {
    let root = Ca::root("root", p384());
    let upper = root.sub("upper", Some(1), p384());
    let lower = upper.sub("lower", Some(0), p256());
    let leaf = lower.leaf(&p256());
    assert_accepted_in_either_order(&leaf, &lower.der, &upper.der, &root.der);
}

/// Asserts that `leaf` sent with the intermediates `a` and `b` is accepted under `root`,
/// whichever of the two comes first.
fn assert_accepted_in_either_order(leaf: &[u8], a: &[u8], b: &[u8], root: &[u8]) {
    assert_eq!(check_now(&[leaf, a, b], root), Ok(()), "a first");
    assert_eq!(check_now(&[leaf, b, a], root), Ok(()), "b first");
}

#[test]
fn a_wildcard_san_matches_one_label_only() {
    let (root, inter, key) = ecdsa_chain();
    let leaf = inter.sign(&leaf_params(&["*.tpns.example"], 0).unwrap(), &key);
    let chain = [leaf.as_slice(), &inter.der];
    assert_hosts(
        &chain,
        &root.der,
        &["api.tpns.example", "push.tpns.example", "API.TPNS.Example"],
        &["a.b.tpns.example", "tpns.example"],
    );
}

/// Asserts that `chain` is accepted for each of the `matching` host names and refused as
/// [`Error::WrongHost`] for each of the `other` ones.
fn assert_hosts(chain: &[&[u8]], root: &[u8], matching: &[&str], other: &[&str]) {
    let at = Time::At(now());
    for host in matching {
        assert_eq!(check(chain, root, host, at), Ok(()), "{host}");
    }
    for host in other {
        assert_eq!(
            check(chain, root, host, at),
            Err(Error::WrongHost),
            "{host}"
        );
    }
}

#[test]
fn ip_sans_match_v4_and_v6_addresses() {
    let (root, inter, key) = ecdsa_chain();
    let leaf = inter.sign(&leaf_params(&["127.0.0.1", "::1"], 0).unwrap(), &key);
    let chain = [leaf.as_slice(), &inter.der];
    let (matching, other) = (["127.0.0.1", "::1"], ["127.0.0.2", "localhost"]);
    assert_hosts(&chain, &root.der, &matching, &other);
}

#[test]
fn a_leaf_with_200_sans_and_the_host_last_is_accepted() {
    let (root, inter, key) = rsa_chain();
    let leaf = inter.sign(&leaf_params(&[HOST], 199).unwrap(), &key);
    let chain = [leaf.as_slice(), &inter.der];
    assert_hosts(
        &chain,
        &root.der,
        &[HOST],
        &["svc199.push.tpns-emulator.test"],
    );
}

/// rcgen 0.14 cannot sign with RSA-PSS, so the intermediate's signature on the leaf is made
/// again with ring (RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt) over the TBS rewritten
/// to name that algorithm.
#[test]
fn rsa_pss_signed_certificates_are_accepted() {
    use rustls_pki_types::alg_id;
    let (root, inter, key) = rsa_chain();
    let leaf = inter.leaf(&key);
    let inter_key = pkcs8(keys::INTER_RSA4096);
    for (alg, padding) in [
        (alg_id::RSA_PSS_SHA256, &RSA_PSS_SHA256),
        (alg_id::RSA_PSS_SHA384, &RSA_PSS_SHA384),
        (alg_id::RSA_PSS_SHA512, &RSA_PSS_SHA512),
    ] {
        let pss = resign(&leaf, &alg, |tbs| ring_rsa_sign(&inter_key, padding, tbs));
        assert_eq!(
            tpns_pki::describe(&pss).unwrap().signature.get(..9),
            Some("RSASSA-PS")
        );
        assert_eq!(check_leaf(&pss, &inter, &root), Ok(()));
        let bad = flipped(&pss, pss.len() - 3);
        assert_eq!(check_leaf(&bad, &inter, &root), Err(Error::BadSignature));
    }
    // PKCS#1 v1.5 with SHA-384 and SHA-512 too.
    for (alg, padding) in [
        (alg_id::RSA_PKCS1_SHA384, &RSA_PKCS1_SHA384),
        (alg_id::RSA_PKCS1_SHA512, &RSA_PKCS1_SHA512),
    ] {
        let cert = resign(&leaf, &alg, |tbs| ring_rsa_sign(&inter_key, padding, tbs));
        assert_eq!(check_leaf(&cert, &inter, &root), Ok(()));
    }
}

#[test]
fn ecdsa_keys_of_one_curve_sign_leaves_of_the_other() {
    // A P-256 leaf signed with ecdsa-with-SHA384 by a P-384 CA, and a P-384 leaf signed with
    // ecdsa-with-SHA256 by a P-256 CA.
    type MakeKey = fn() -> rcgen::KeyPair;
    let curves: [(MakeKey, MakeKey, _, _); 2] = [
        (p384, p256, "ecdsa-with-SHA384", KeyKind::P256),
        (p256, p384, "ecdsa-with-SHA256", KeyKind::P384),
    ];
    for (ca_key, leaf_key, signature, kind) in curves {
        let root = Ca::root("root", ca_key());
        let inter = root.sub("intermediate", Some(0), ca_key());
        let leaf = inter.leaf(&leaf_key());
        let described = tpns_pki::describe(&leaf).unwrap();
        assert_eq!(described.signature, signature);
        let key = common::verify(&[&leaf, &inter.der], &root.der, HOST, Time::At(now()));
        assert_eq!(key.unwrap().kind(), kind, "{signature}");
    }
}

#[test]
fn six_chained_intermediates_are_accepted_seven_are_too_many() {
    let root = Ca::root("root", p256());
    let mut cas = vec![root.sub("ca 1", None, p256())];
    for i in 2..=7 {
        let next = cas.last().unwrap().sub(&format!("ca {i}"), None, p256());
        cas.push(next);
    }
    let leaf = cas.last().unwrap().leaf(&p256());
    let at = Time::At(now());
    // leaf, ca 7 … ca 2: six intermediates, with ca 2 → ca 1 missing, so ca 1 is the anchor.
    let mut chain: Vec<&[u8]> = vec![&leaf];
    chain.extend(cas[1..].iter().rev().map(|ca| ca.der.as_slice()));
    assert_eq!(check(&chain, &cas[0].der, HOST, at), Ok(()));
    // With ca 1 as well, the path from the root holds seven intermediates.
    chain.push(&cas[0].der);
    assert_eq!(
        check_now(&chain, &root.der),
        Err(Error::TooManyCertificates(8))
    );
}

// ---- refused -----------------------------------------------------------------------------

#[test]
fn a_wrong_host_is_refused() {
    for mode in MODES {
        let chain = generate(mode, &[HOST]).unwrap();
        let served = refs(&chain.served);
        for host in ["other.tpns.example", "tpns.example", "10.0.0.1"] {
            assert_eq!(
                check(&served, &chain.root_der, host, Time::At(now())),
                Err(Error::WrongHost),
                "{mode:?} {host}"
            );
        }
        assert_eq!(
            check(&served, &chain.root_der, "not a host!", Time::At(now())),
            Err(Error::InvalidHostName)
        );
    }
}

#[test]
fn dates_are_checked_against_the_clock_and_the_floor() {
    // The intermediate is valid from January 1st of last year (the emulator's CA dates).
    let (root, inter, key) = ecdsa_chain();
    let this_year = 1970 + (now() / 31_556_952) as i32;
    let mut params = leaf_params(&[HOST], 0).unwrap();

    // A leaf that expired on June 1st of last year.
    params.not_before = rcgen::date_time_ymd(this_year - 1, 2, 1);
    params.not_after = rcgen::date_time_ymd(this_year - 1, 6, 1);
    let not_after = params.not_after.unix_timestamp() as u64;
    let expired = inter.sign(&params, &key);
    let chain = [expired.as_slice(), &inter.der];
    let t = now();
    assert_eq!(
        check(&chain, &root.der, HOST, Time::At(t)),
        Err(Error::Expired { at: t, not_after })
    );
    // A floor after its expiry refuses it; a floor before accepts it, and so does any time.
    assert_eq!(
        check(&chain, &root.der, HOST, Time::NotBefore(not_after + 1)),
        Err(Error::Expired {
            at: not_after + 1,
            not_after
        })
    );
    assert_eq!(
        check(&chain, &root.der, HOST, Time::NotBefore(not_after - 1)),
        Ok(())
    );
    assert_eq!(check(&chain, &root.der, HOST, Time::NotBefore(0)), Ok(()));
    assert_eq!(
        check(&chain, &root.der, HOST, Time::DangerousAnyTime),
        Ok(())
    );

    // A leaf not valid until January 1st of the year after next.
    params.not_before = rcgen::date_time_ymd(this_year + 2, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year + 3, 1, 1);
    let not_before = params.not_before.unix_timestamp() as u64;
    let future = inter.sign(&params, &key);
    let chain = [future.as_slice(), &inter.der];
    assert_eq!(
        check(&chain, &root.der, HOST, Time::At(t)),
        Err(Error::NotYetValid { at: t, not_before })
    );
    // A floor is a lower bound on now: a certificate that starts later moves it forward.
    assert_eq!(check(&chain, &root.der, HOST, Time::NotBefore(t)), Ok(()));
    assert_eq!(
        check(&chain, &root.der, HOST, Time::DangerousAnyTime),
        Ok(())
    );

    // The intermediate's dates count too: a leaf valid since 2000, checked in 2010.
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year + 3, 1, 1);
    let old = inter.sign(&params, &key);
    let chain = [old.as_slice(), &inter.der];
    let in_2010 = 1_262_304_000;
    assert!(matches!(
        check(&chain, &root.der, HOST, Time::At(in_2010)),
        Err(Error::NotYetValid { at: 1_262_304_000, not_before }) if not_before > in_2010
    ));
    assert_eq!(check(&chain, &root.der, HOST, Time::At(t)), Ok(()));
}

#[test]
fn an_intermediate_without_the_ca_bit_is_refused() {
    let root = Ca::root("root", p384());
    for is_ca in [IsCa::ExplicitNoCa, IsCa::NoCa] {
        let mut params = ca_params("not a CA", None).unwrap();
        params.is_ca = is_ca;
        let inter = root.sub_with(params, p384());
        let leaf = inter.leaf(&p256());
        assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::NotCa));
    }
}

#[test]
fn a_ca_as_the_leaf_is_refused() {
    let (root, inter, _) = ecdsa_chain();
    let mut params = leaf_params(&[HOST], 0).unwrap();
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    let leaf = inter.sign(&params, &p256());
    assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::NotCa));
}

#[test]
fn an_exceeded_path_length_is_refused() {
    // root → CA with pathlen 0 → another CA → leaf.
    let root = Ca::root("root", p384());
    let zero = root.sub("pathlen 0", Some(0), p384());
    let below = zero.sub("below pathlen 0", None, p384());
    let leaf = below.leaf(&p256());
    assert_eq!(
        check_now(&[&leaf, &below.der, &zero.der], &root.der),
        Err(Error::PathLenExceeded)
    );
    // pathlen 1 allows it.
    let one = root.sub("pathlen 1", Some(1), p384());
    let below = one.sub("below pathlen 1", None, p384());
    let leaf = below.leaf(&p256());
    assert_eq!(check_now(&[&leaf, &below.der, &one.der], &root.der), Ok(()));
}

#[test]
fn a_leaf_for_client_auth_only_is_refused() {
    let (root, inter, key) = ecdsa_chain();
    let mut params = leaf_params(&[HOST], 0).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = inter.sign(&params, &key);
    assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::WrongUsage));
    // An intermediate limited to clientAuth cannot issue a server leaf either.
    let mut params = ca_params("client CA", Some(0)).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let inter = root.sub_with(params, p384());
    let leaf = inter.leaf(&p256());
    assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::WrongUsage));
}

#[test]
fn key_usages_that_forbid_the_use_are_refused() {
    let root = Ca::root("root", p384());
    // An intermediate with keyUsage but no keyCertSign.
    let mut params = ca_params("no keyCertSign", Some(0)).unwrap();
    params.key_usages = vec![KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let inter = root.sub_with(params, p384());
    let leaf = inter.leaf(&p256());
    assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::KeyUsage));
    // A leaf with keyUsage but no digitalSignature.
    let inter = root.sub("intermediate", Some(0), p384());
    let mut params = leaf_params(&[HOST], 0).unwrap();
    params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let leaf = inter.sign(&params, &p256());
    assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::KeyUsage));
    // No keyUsage at all allows both (RFC 5280 §4.2.1.3 makes it optional).
    let mut params = leaf_params(&[HOST], 0).unwrap();
    params.key_usages = vec![];
    let leaf = inter.sign(&params, &p256());
    assert_eq!(check_leaf(&leaf, &inter, &root), Ok(()));
}

#[test]
fn an_unknown_root_is_refused() {
    let stranger = Ca::root("another root", p384());
    for mode in MODES {
        let chain = generate(mode, &[HOST]).unwrap();
        let served = refs(&chain.served);
        assert_eq!(
            check_now(&served, &stranger.der),
            Err(Error::UnknownIssuer),
            "{mode:?}"
        );
        // A root with the same name and another key of the same kind: webpki finds anchors by
        // name, so the reason is the signature that fails under the wrong key.
        let namesake = match mode {
            PkiMode::PublicRsa | PkiMode::Mixed => {
                Ca::root("tpns-emulator test root", rsa(keys::OTHER_RSA2048)).der
            }
            _ => generate(mode, &[HOST]).unwrap().root_der,
        };
        assert_eq!(
            check_now(&served, &namesake),
            Err(Error::BadSignature),
            "{mode:?} namesake"
        );
    }
    // An intermediate missing from what the server sent.
    let (root, inter, key) = rsa_chain();
    let leaf = inter.leaf(&key);
    assert_eq!(check_now(&[&leaf], &root.der), Err(Error::UnknownIssuer));
    // An impostor intermediate, with the right name and another key: the leaf's signature
    // fails under its key.
    let impostor = Ca::root("test root", rsa(keys::OTHER_RSA2048)).sub(
        "test intermediate",
        Some(0),
        rsa(keys::OTHER_RSA2048),
    );
    assert_eq!(
        check_now(&[&leaf, &impostor.der], &root.der),
        Err(Error::BadSignature)
    );
}

/// A byte flipped in the signature value (near its end, so that the DER stays well-formed)
/// or in the TBS (the serial number) of the leaf or the intermediate, in RSA and ECDSA chains.
#[test]
fn one_flipped_byte_in_a_signature_or_the_signed_part_is_refused() {
    for (name, (root, inter, key)) in [("rsa", rsa_chain()), ("ecdsa", ecdsa_chain())] {
        let leaf = inter.leaf(&key);
        assert_eq!(check_leaf(&leaf, &inter, &root), Ok(()));
        for back in 1..=4 {
            let bad_leaf = flipped(&leaf, leaf.len() - back);
            let bad_inter = flipped(&inter.der, inter.der.len() - back);
            for (which, chain) in [
                ("leaf", [bad_leaf.as_slice(), &inter.der]),
                ("intermediate", [leaf.as_slice(), &bad_inter]),
            ] {
                let got = check_now(&chain, &root.der);
                assert!(
                    matches!(got, Err(Error::BadSignature | Error::Malformed)),
                    "{name} {which} -{back}: {got:?}"
                );
            }
        }
        // The last byte of either signature keeps the DER whole: exactly BadSignature.
        let bad_leaf = flipped(&leaf, leaf.len() - 1);
        assert_eq!(
            check_leaf(&bad_leaf, &inter, &root),
            Err(Error::BadSignature),
            "{name}"
        );
        let bad_inter = flipped(&inter.der, inter.der.len() - 1);
        assert_eq!(
            check_now(&[&leaf, &bad_inter], &root.der),
            Err(Error::BadSignature),
            "{name}"
        );
        // The signed part: the serial number's last byte.
        for cert in [&leaf, &inter.der] {
            let (start, len) = serial_range(cert);
            let bad = flipped(cert, start + len - 1);
            let chain = if cert == &leaf {
                [bad.as_slice(), &inter.der]
            } else {
                [leaf.as_slice(), &bad]
            };
            assert_eq!(
                check_now(&chain, &root.der),
                Err(Error::BadSignature),
                "{name} TBS"
            );
        }
    }
}

#[test]
fn an_ecdsa_signature_that_is_not_der_is_refused() {
    // An ECDSA signature as r || s (the "fixed" form) where X.509 wants DER.
    let root = Ca::root("root", p384());
    let ca_key = p384();
    let ca_pkcs8 = ca_key.serialize_der();
    let ca = root.sub("fixed-form signer", Some(0), ca_key);
    let cert = ca.leaf(&p256());
    let alg = rustls_pki_types::alg_id::ECDSA_SHA384;
    let raw = resign(&cert, &alg, |tbs| {
        ring_ecdsa_sign(&ca_pkcs8, &ECDSA_P384_SHA384_FIXED_SIGNING, tbs)
    });
    assert_eq!(
        check_now(&[&raw, &ca.der], &root.der),
        Err(Error::BadSignature)
    );
    // The DER form by the same signer passes.
    let good = resign(&cert, &alg, |tbs| {
        ring_ecdsa_sign(&ca_pkcs8, &ECDSA_P384_SHA384_ASN1_SIGNING, tbs)
    });
    assert_eq!(check_now(&[&good, &ca.der], &root.der), Ok(()));
}

#[test]
fn truncated_der_is_malformed_at_every_length() {
    for mode in [PkiMode::PublicRsa, PkiMode::PublicEcdsa] {
        let chain = generate(mode, &[HOST]).unwrap();
        let (leaf, inter) = (&chain.served[0], &chain.served[1]);
        for len in 0..leaf.len() {
            assert_eq!(
                check(
                    &[&leaf[..len], inter],
                    &chain.root_der,
                    HOST,
                    Time::At(now())
                ),
                Err(Error::Malformed),
                "{mode:?} leaf cut at {len}"
            );
        }
        for len in 0..inter.len() {
            assert_eq!(
                check(
                    &[leaf, &inter[..len]],
                    &chain.root_der,
                    HOST,
                    Time::At(now())
                ),
                Err(Error::Malformed),
                "{mode:?} intermediate cut at {len}"
            );
        }
        // Trailing bytes after a whole certificate are malformed too.
        let mut long = leaf.clone();
        long.push(0);
        assert_eq!(
            check_now(&[&long, inter], &chain.root_der),
            Err(Error::Malformed)
        );
    }
}

#[test]
fn an_rsa_1024_leaf_is_refused_for_its_size() {
    let (root, inter, _) = rsa_chain();
    let weak = RsaPublicKey::from_pkcs8_pem(keys::WEAK_RSA1024);
    let leaf = inter.leaf(&weak);
    assert_eq!(tpns_pki::describe(&leaf).unwrap().key, KeyKind::Rsa(1024));
    assert_eq!(
        check_leaf(&leaf, &inter, &root),
        Err(Error::RsaKeySize(1024))
    );
    // The same leaf code path with the 2048-bit key passes (the refusal is the size).
    let strong = RsaPublicKey::from_pkcs8_pem(keys::LEAF_RSA2048);
    let leaf = inter.leaf(&strong);
    assert_eq!(check_leaf(&leaf, &inter, &root), Ok(()));
}

#[test]
fn empty_inputs_are_refused() {
    let chain = generate(PkiMode::PublicEcdsa, &[HOST]).unwrap();
    let served = refs(&chain.served);
    assert_eq!(check_now(&[], &chain.root_der), Err(Error::NoCertificate));
    assert_eq!(
        verify_server_chain(&served, &[], HOST, Time::At(now())).map(|_| ()),
        Err(Error::NoTrustAnchor)
    );
    assert_eq!(
        check(&[&[]], &chain.root_der, HOST, Time::At(now())),
        Err(Error::Malformed)
    );
}

#[test]
fn a_certificate_that_is_not_one_is_malformed() {
    let chain = generate(PkiMode::PublicEcdsa, &[HOST]).unwrap();
    let leaf = &chain.served[0];
    // A SEQUENCE holding the leaf's TBS alone, and the leaf's key as if it were a certificate.
    let tbs = Der::new(Der::new(leaf).content()).whole();
    for junk in [
        tbs,
        &[0x30, 0x00][..],
        &[0x30, 0x80, 0x00, 0x00][..],
        &[0xff; 16][..],
    ] {
        assert_eq!(
            check(
                &[junk, &chain.served[1]],
                &chain.root_der,
                HOST,
                Time::At(now())
            ),
            Err(Error::Malformed),
            "{junk:02x?}"
        );
    }
}

#[test]
fn an_rsa_signature_of_the_wrong_length_is_refused() {
    // A PKCS#1 signature by the RSA-4096 intermediate, with a zero byte prepended (one byte
    // longer than the modulus) or its first byte dropped.
    let (root, inter, key) = rsa_chain();
    let leaf = inter.leaf(&key);
    let inter_key = pkcs8(keys::INTER_RSA4096);
    let alg = rustls_pki_types::alg_id::RSA_PKCS1_SHA256;
    let long = resign(&leaf, &alg, |tbs| {
        let mut sig = vec![0];
        sig.extend(ring_rsa_sign(&inter_key, &RSA_PKCS1_SHA256, tbs));
        sig
    });
    let short = resign(&leaf, &alg, |tbs| {
        ring_rsa_sign(&inter_key, &RSA_PKCS1_SHA256, tbs)[1..].to_vec()
    });
    for cert in [long, short] {
        assert_eq!(check_leaf(&cert, &inter, &root), Err(Error::BadSignature));
    }
}

#[test]
fn an_rsa_leaf_signed_by_an_ecdsa_key_is_not_confused() {
    // The leaf names ecdsa-with-SHA256 but its issuer's key is RSA: webpki matches the
    // algorithm to the key kind before any arithmetic.
    let (root, inter, key) = rsa_chain();
    let leaf = inter.leaf(&key);
    let other = p256().serialize_der();
    let forged = resign(&leaf, &rustls_pki_types::alg_id::ECDSA_SHA256, |tbs| {
        ring_ecdsa_sign(&other, &ECDSA_P256_SHA256_ASN1_SIGNING, tbs)
    });
    let got = check_leaf(&forged, &inter, &root);
    assert!(
        matches!(got, Err(Error::UnsupportedAlgorithm | Error::BadSignature)),
        "{got:?}"
    );
}

#[test]
fn extra_certificates_off_the_path_do_not_matter() {
    // Servers send more than the path: the leaf twice (a common misconfiguration), the root
    // itself, another CA, a stray leaf. Only the path's certificates are judged.
    let (root, inter, key) = ecdsa_chain();
    let leaf = inter.leaf(&key);
    let stray = Ca::root("elsewhere", p256());
    let mut params = leaf_params(&["stray.example"], 0).unwrap();
    params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let stray_leaf = stray.sign(&params, &p256());
    for chain in [
        [leaf.as_slice(), &leaf, &inter.der],
        [leaf.as_slice(), &inter.der, &stray_leaf],
        [leaf.as_slice(), &stray.der, &inter.der],
        [leaf.as_slice(), &inter.der, &root.der],
    ] {
        assert_eq!(check_now(&chain, &root.der), Ok(()));
    }
}

#[test]
fn a_path_refused_for_key_usage_leaves_room_for_another() {
    // Two certificates for the same intermediate (same name, same key): one without
    // keyCertSign, one with it. The path through the second is found.
    let (root, inter, key) = rsa_chain();
    let leaf = inter.leaf(&key);
    let mut params = ca_params("test intermediate", Some(0)).unwrap();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let unfit = root.sub_with(params, rsa(keys::INTER_RSA4096));
    assert_eq!(
        check_now(&[&leaf, &unfit.der], &root.der),
        Err(Error::KeyUsage)
    );
    // Whichever comes first, the path through `inter` is found.
    assert_accepted_in_either_order(&leaf, &unfit.der, &inter.der, &root.der);
}

#[test]
fn any_single_flipped_bit_of_a_leaf_is_refused_without_panic() {
    // Every byte of the `simple` leaf, its top bit and its low bit in turn: lengths, tags,
    // names, dates, key, signature. None may panic, none may pass.
    let chain = generate(PkiMode::Simple, &[HOST]).unwrap();
    let leaf = &chain.served[0];
    for at in 0..leaf.len() {
        for bit in [0x01, 0x80] {
            let mut bad = leaf.clone();
            bad[at] ^= bit;
            let got = check_now(&[&bad], &chain.root_der);
            assert!(got.is_err(), "byte {at} ^ {bit:#04x} passed");
        }
    }
}

#[test]
fn a_name_outside_an_issuers_constraints_is_refused() {
    use rcgen::{GeneralSubtree, NameConstraints};
    let root = Ca::root("root", p384());
    let mut params = ca_params("constrained", Some(0)).unwrap();
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("tpns.example".to_owned())],
        excluded_subtrees: vec![],
    });
    let inter = root.sub_with(params, p384());
    let inside = inter.leaf(&p256());
    assert_eq!(check_leaf(&inside, &inter, &root), Ok(()));
    // Every SAN counts, not only the host asked for.
    let outside = inter.sign(
        &leaf_params(&[HOST, "tpns.elsewhere.example"], 0).unwrap(),
        &p256(),
    );
    assert_eq!(
        check_leaf(&outside, &inter, &root),
        Err(Error::NameConstraints)
    );
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    let (root, inter, key) = ecdsa_chain();
    let mut params = leaf_params(&[HOST], 0).unwrap();
    // A private OID (1.3.6.1.4.1.55555.1) holding a NULL, marked critical.
    let mut ext =
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![5, 0]);
    ext.set_criticality(true);
    params.custom_extensions.push(ext);
    let leaf = inter.sign(&params, &key);
    assert_eq!(
        check_leaf(&leaf, &inter, &root),
        Err(Error::UnsupportedCriticalExtension)
    );
    // The same extension, not critical, is ignored.
    params.custom_extensions[0].set_criticality(false);
    let leaf = inter.sign(&params, &key);
    assert_eq!(check_leaf(&leaf, &inter, &root), Ok(()));
}

#[test]
fn an_expired_intermediate_is_refused() {
    let root = Ca::root("root", p384());
    let mut params = ca_params("expired intermediate", Some(0)).unwrap();
    params.not_before = rcgen::date_time_ymd(2015, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let not_after = params.not_after.unix_timestamp() as u64;
    let inter = root.sub_with(params, p384());
    let leaf = inter.leaf(&p256());
    let t = now();
    assert_eq!(
        check(&[&leaf, &inter.der], &root.der, HOST, Time::At(t)),
        Err(Error::Expired { at: t, not_after })
    );
}

#[test]
fn ed25519_is_not_supported() {
    // An Ed25519 CA: its signature algorithm is unsupported.
    let ed = || rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let root = Ca::root("ed25519 root", ed());
    let leaf = root.leaf(&p256());
    assert_eq!(
        check_now(&[&leaf], &root.der),
        Err(Error::UnsupportedAlgorithm)
    );
    // An Ed25519 leaf under an ECDSA CA: the path holds, but the key cannot sign a TLS 1.3
    // handshake here.
    let (root, inter, _) = ecdsa_chain();
    let leaf = inter.leaf(&ed());
    assert_eq!(check_leaf(&leaf, &inter, &root), Err(Error::UnsupportedKey));
}

#[test]
fn an_rsa_1024_intermediate_is_refused_for_its_size() {
    // ring will not sign with RSA-1024, so this intermediate signs nothing (the root signs
    // the leaf): an RSA key outside 2048..=4096 bits anywhere in what the server sent is
    // refused, before any signature is checked.
    let root = Ca::root("root", rsa(keys::ROOT_RSA4096));
    let weak = RsaPublicKey::from_pkcs8_pem(keys::WEAK_RSA1024);
    let params = ca_params("weak intermediate", Some(0)).unwrap();
    let inter = root.sign(&params, &weak);
    let leaf = root.leaf(&rsa(keys::LEAF_RSA2048));
    assert_eq!(
        check_now(&[&leaf, &inter], &root.der),
        Err(Error::RsaKeySize(1024))
    );
}

#[test]
fn a_clock_far_in_the_future_is_refused_and_shown_quickly() {
    // A broken real-time clock can read anything: the refusal and its message must come back
    // at once, whatever the number.
    let chain = generate(PkiMode::PublicEcdsa, &[HOST]).unwrap();
    let served = refs(&chain.served);
    for at in [u64::MAX, u64::MAX / 86_400, 1 << 40] {
        let started = std::time::Instant::now();
        let got = check(&served, &chain.root_der, HOST, Time::At(at));
        assert!(
            matches!(got, Err(Error::Expired { at: a, .. }) if a == at),
            "{got:?}"
        );
        let shown = got.unwrap_err().to_string();
        assert!(shown.contains("9999-12-31T23:59:59Z"), "{shown}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{at}: {shown}"
        );
    }
}

#[test]
fn an_rsa_key_with_an_unusable_exponent_is_named_for_what_it_is() {
    // A 2048-bit modulus with e = 2^40 + 1 (above the 2^33 bound) or e = 1: the key is not
    // usable, and its size is not the reason.
    let (root, inter, _) = rsa_chain();
    let good = RsaPublicKey::from_pkcs8_pem(keys::LEAF_RSA2048);
    for e in [
        &[0x01, 0x00, 0x00, 0x00, 0x00, 0x01][..],
        &[0x01],
        &[0x01, 0x00, 0x00],
    ] {
        let odd = good.with_exponent(e);
        let leaf = inter.leaf(&odd);
        assert_eq!(tpns_pki::describe(&leaf).unwrap().key, KeyKind::Other);
        assert_eq!(
            check_leaf(&leaf, &inter, &root),
            Err(Error::UnsupportedKey),
            "e = {e:02x?}"
        );
    }
}
