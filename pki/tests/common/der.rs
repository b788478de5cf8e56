//! DER and PEM for the tests: reading TLVs, writing them, re-signing a certificate, flipping
//! a byte. Only well-formed input that the tests made or picked is read here.

/// The DER inside a PEM block (the first one).
pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64(&body)
}

/// Every PEM block's DER, in order.
pub fn pem_all(pem: &str) -> Vec<Vec<u8>> {
    pem.split("-----END")
        .filter(|block| block.contains("-----BEGIN"))
        .map(pem_der)
        .collect()
}

/// Standard base64 with padding, no checks (the tests decode their own data).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| {
            acc | u32::from(value(c)) << (18 - 6 * i)
        });
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// One DER TLV, read without validation beyond the lengths (the tests feed it well-formed
/// certificates they made or picked).
pub struct Der<'a> {
    all: &'a [u8],
    header: usize,
}

impl<'a> Der<'a> {
    /// The TLV at the start of `bytes` (trailing bytes ignored).
    pub fn new(bytes: &'a [u8]) -> Der<'a> {
        let (header, len) = match bytes[1] {
            n if n < 0x80 => (2, usize::from(n)),
            n => {
                let count = usize::from(n & 0x7f);
                let len = bytes[2..2 + count]
                    .iter()
                    .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
                (2 + count, len)
            }
        };
        Der {
            all: &bytes[..header + len],
            header,
        }
    }

    /// The whole TLV.
    pub fn whole(&self) -> &'a [u8] {
        self.all
    }

    /// The value.
    pub fn content(&self) -> &'a [u8] {
        &self.all[self.header..]
    }

    /// The TLVs that make up `content`, whole.
    pub fn children(mut content: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !content.is_empty() {
            let tlv = Der::new(content).whole();
            out.push(tlv);
            content = &content[tlv.len()..];
        }
        out
    }
}

/// Encodes one TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    match len {
        0..0x80 => out.push(len as u8),
        0x80..0x100 => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The offset, within `cert`, of the TBSCertificate's serialNumber value, and its length.
pub fn serial_range(cert: &[u8]) -> (usize, usize) {
    let outer = Der::new(cert);
    let tbs = Der::new(outer.content());
    let fields = Der::children(tbs.content());
    let serial = Der::new(fields[1]);
    let start = fields[1].as_ptr() as usize - cert.as_ptr() as usize + serial.header;
    (start, serial.content().len())
}

/// `cert` signed again over its own TBS with the signature algorithm `alg` (the contents of
/// an AlgorithmIdentifier, e.g. `rustls_pki_types::alg_id::RSA_PSS_SHA256`) by `sign`, the
/// identifier replaced both inside the TBS and outside it.
pub fn resign(cert: &[u8], alg: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let outer = Der::new(cert);
    let parts = Der::children(outer.content());
    let mut fields: Vec<Vec<u8>> = Der::children(Der::new(parts[0]).content())
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let alg_id = tlv(0x30, alg);
    fields[2] = alg_id.clone(); // [0] version, serialNumber, signature
    let tbs = tlv(0x30, &fields.concat());
    let mut bits = vec![0u8];
    bits.extend(sign(&tbs));
    tlv(0x30, &[tbs, alg_id, tlv(0x03, &bits)].concat())
}

/// `der` with the byte at `at` XORed with 0x01.
pub fn flipped(der: &[u8], at: usize) -> Vec<u8> {
    let mut out = der.to_vec();
    out[at] ^= 0x01;
    out
}
