//! Public key pins: the SHA-256 of a certificate's SubjectPublicKeyInfo (SPKI), as
//! curl's `--pinnedpubkey sha256//...` and HPKP's `pin-sha256` write them: base64.

use std::fmt;

use rustls::pki_types::CertificateDer;
use rustls::server::ParsedCertificate;

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::prelude::{Engine, BASE64_STANDARD};

/// Bytes of a SHA-256 digest.
const SHA256_LEN: usize = 32;

/// The prefix curl writes before a SHA-256 pin.
const PREFIX: &str = "sha256//";

/// Standard base64 (RFC 4648 §4) that accepts a pin with or without its padding;
/// non-zero bits after the last byte are refused (one spelling per value).
const BASE64_PADDING_OPTIONAL: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The SHA-256 of a SubjectPublicKeyInfo.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pin([u8; SHA256_LEN]);

impl Pin {
    /// `sha256//BASE64` or bare `BASE64` (44 characters, padding optional).
    pub fn parse(text: &str) -> Result<Pin, String> {
        let text = text.trim();
        let encoded = text.strip_prefix(PREFIX).unwrap_or(text);
        if encoded.is_empty() {
            return Err(format!("{text:?} is empty (a pin is sha256//BASE64)"));
        }
        if encoded.contains("//") {
            return Err(format!("{text:?} is not a sha256// pin"));
        }
        let bytes = decode(encoded)
            .ok_or_else(|| format!("{text:?} is not base64 (a pin is sha256//BASE64)"))?;
        let digest = <[u8; SHA256_LEN]>::try_from(bytes).map_err(|b| {
            format!(
                "{text:?} is {} bytes, a SHA-256 pin is {SHA256_LEN}",
                b.len()
            )
        })?;
        Ok(Pin(digest))
    }

    /// The pin of a certificate's public key, with the SPKI as webpki reads it;
    /// `None` if the certificate does not parse (webpki verified it before this is
    /// asked, so that does not happen).
    pub fn of(cert: &CertificateDer<'_>) -> Option<Pin> {
        let parsed = ParsedCertificate::try_from(cert).ok()?;
        sha256(parsed.subject_public_key_info().as_ref()).map(Pin)
    }
}

/// `sha256//BASE64`, as curl and the pin setting take it.
impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        f.write_str(&BASE64_STANDARD.encode(self.0))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// SHA-256 (ring, as downloads use it).
fn sha256(data: &[u8]) -> Option<[u8; SHA256_LEN]> {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().try_into().ok()
}

/// Standard base64, padding optional; a bad character, a bad length or non-zero
/// bits after the last byte are refused.
fn decode(text: &str) -> Option<Vec<u8>> {
    BASE64_PADDING_OPTIONAL.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_the_rfc_4648_vectors_and_round_trips() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(BASE64_STANDARD.encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()));
            assert_eq!(
                decode(encoded.trim_end_matches('=')).as_deref(),
                Some(plain.as_bytes())
            );
        }
        for bad in ["Z", "Zh==", "Zm9v!", "Zm 9v", "é"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn pins_parse_in_curl_and_hpkp_spelling_and_display_as_curl_does() {
        // SHA-256 of the empty string, a known digest.
        let empty = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let pin = Pin::parse(empty).unwrap();
        assert_eq!(Some(pin.0), sha256(b""));
        assert_eq!(pin.to_string(), empty);
        assert_eq!(Pin::parse(&empty[8..]).unwrap(), pin);
        assert_eq!(Pin::parse(empty.trim_end_matches('=')).unwrap(), pin);
        for bad in ["sha256//AAAA", "sha1//AAAA", "", "sha256//!!"] {
            let why = Pin::parse(bad).unwrap_err();
            assert!(why.contains(&format!("{bad:?}")), "{why}");
        }
    }
}
