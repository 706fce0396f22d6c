//! Session descriptions bound to identity keys (docs/protocol.md §6.3).
//!
//! The signaling server relays offers and answers, so whoever runs it could swap
//! the DTLS fingerprints in them and sit in the middle of the call. To stop that,
//! every offer and answer carries `sig`: the sender's Ed25519 signature over
//! [`DescriptionBinding::signed_bytes`], which names the call, both parties, the
//! description's type, its DTLS fingerprints (RFC 8122 §5), its ICE ufrags
//! (RFC 8839 §5.4) and the SHA-256 of the exact SDP text. The digest matters:
//! webrtc-rs's SDP parser also reads lines our line scan would not (a leading
//! `\r`, blanks after `a=`), so binding only the values we extract would let a
//! relay slip in a fingerprint that DTLS uses and the signature does not cover. The receiver verifies it against the id of the peer it is in
//! the call with (the id is the public key) before applying the description; DTLS
//! then checks that the peer's certificate matches the signed fingerprint
//! (RFC 5763 §5), so a relay that rewrites either is caught.

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use sha2::{Digest as _, Sha256};

use crate::identity::{decode_b64url, encode_b64url};
use crate::{PeerId, ProtoError};

/// Domain-separation prefix of the signed bytes, trailing NUL included.
pub const DESCRIPTION_CONTEXT: &[u8] = b"parley-description-v1\0";

/// Most fingerprints or ufrags a description may carry (distinct values).
pub const MAX_BOUND_VALUES: usize = 16;

/// Which half of the offer/answer exchange (RFC 3264) a description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptionType {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
}

impl DescriptionType {
    /// `"offer"` or `"answer"`, as signed.
    pub fn as_str(self) -> &'static str {
        match self {
            DescriptionType::Offer => "offer",
            DescriptionType::Answer => "answer",
        }
    }
}

/// What a signature over a session description commits to.
///
/// Build it from the SDP with [`DescriptionBinding::from_sdp`] on both sides; the
/// sender signs it ([`DescriptionBinding::sign`]), the receiver checks the
/// signature ([`DescriptionBinding::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptionBinding {
    /// The call (or data session) id; never reused, so a replayed description
    /// from another call fails.
    pub call_id: String,
    /// The sender.
    pub from: PeerId,
    /// The recipient.
    pub to: PeerId,
    /// Offer or answer.
    pub kind: DescriptionType,
    /// Every distinct `a=fingerprint` value, normalised to
    /// `"<hash function in lowercase> <HEX:BYTES in uppercase>"`, sorted.
    pub fingerprints: Vec<String>,
    /// Every distinct `a=ice-ufrag` value, sorted.
    pub ice_ufrags: Vec<String>,
    /// SHA-256 of the SDP text exactly as sent (UTF-8 bytes of the `sdp` field).
    pub sdp_sha256: [u8; 32],
}

impl DescriptionBinding {
    /// Collects the DTLS fingerprints and ICE ufrags of `sdp`, session and media
    /// level alike, duplicates removed and sorted (so where a stack puts them does
    /// not matter).
    ///
    /// Errors: [`ProtoError::Invalid`] when the description has no fingerprint or no
    /// ufrag (nothing to bind: no DTLS or no ICE), or more than
    /// [`MAX_BOUND_VALUES`] distinct values of either.
    pub fn from_sdp(
        call_id: &str,
        from: &PeerId,
        to: &PeerId,
        kind: DescriptionType,
        sdp: &str,
    ) -> Result<DescriptionBinding, ProtoError> {
        let mut fingerprints = Vec::new();
        let mut ice_ufrags = Vec::new();
        for line in sdp.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(value) = line.strip_prefix("a=fingerprint:") {
                let mut parts = value.split_whitespace();
                let (Some(hash), Some(hex), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(invalid(format!("bad a=fingerprint line {line:?}")));
                };
                fingerprints.push(format!(
                    "{} {}",
                    hash.to_ascii_lowercase(),
                    hex.to_ascii_uppercase()
                ));
            } else if let Some(value) = line.strip_prefix("a=ice-ufrag:") {
                ice_ufrags.push(value.trim().to_owned());
            }
        }
        for (name, values) in [
            ("fingerprint", &mut fingerprints),
            ("ufrag", &mut ice_ufrags),
        ] {
            values.sort();
            values.dedup();
            if values.is_empty() {
                return Err(invalid(format!("the description has no {name}")));
            }
            if values.len() > MAX_BOUND_VALUES {
                return Err(invalid(format!(
                    "the description has {} distinct {name}s (at most {MAX_BOUND_VALUES})",
                    values.len()
                )));
            }
        }
        Ok(DescriptionBinding {
            call_id: call_id.to_owned(),
            from: from.clone(),
            to: to.clone(),
            kind,
            fingerprints,
            ice_ufrags,
            sdp_sha256: Sha256::digest(sdp.as_bytes()).into(),
        })
    }

    /// The exact bytes signed: [`DESCRIPTION_CONTEXT`], then the call id, sender
    /// id, recipient id and type, each as a 2-byte big-endian length and its UTF-8
    /// bytes; then the number of fingerprints (2 bytes, big-endian) and each one
    /// length-prefixed the same way; then the ufrags likewise; then the 32-byte
    /// SHA-256 of the SDP text, with its 2-byte length (32) in front.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(DESCRIPTION_CONTEXT);
        for field in [
            self.call_id.as_str(),
            self.from.as_str(),
            self.to.as_str(),
            self.kind.as_str(),
        ] {
            push_field(&mut out, field);
        }
        for values in [&self.fingerprints, &self.ice_ufrags] {
            out.extend_from_slice(&(values.len() as u16).to_be_bytes());
            for v in values {
                push_field(&mut out, v);
            }
        }
        out.extend_from_slice(&32u16.to_be_bytes());
        out.extend_from_slice(&self.sdp_sha256);
        out
    }

    /// Signs [`signed_bytes`](Self::signed_bytes); the 64-byte Ed25519 signature
    /// as base64url without padding (86 chars), the `sig` field of `offer` and
    /// `answer`.
    pub fn sign(&self, key: &SigningKey) -> String {
        encode_b64url(&key.sign(&self.signed_bytes()).to_bytes())
    }

    /// Checks that `sig` (base64url) is `from`'s signature over
    /// [`signed_bytes`](Self::signed_bytes) (strict Ed25519 verification).
    ///
    /// Errors: [`ProtoError::BadSignature`] when `sig` is missing (`None`), not
    /// base64url of 64 bytes, or does not verify; [`ProtoError::InvalidPeerId`]
    /// when `from` is not a valid key.
    pub fn verify(&self, sig: Option<&str>) -> Result<(), ProtoError> {
        let bad = |reason: &str| ProtoError::BadSignature {
            reason: reason.to_owned(),
        };
        let key = self.from.verifying_key()?;
        let sig = sig.ok_or_else(|| bad("the description is not signed"))?;
        let bytes: [u8; 64] = decode_b64url(sig)
            .map_err(|_| bad("not base64url"))?
            .try_into()
            .map_err(|_| bad("not 64 bytes"))?;
        key.verify_strict(&self.signed_bytes(), &Signature::from_bytes(&bytes))
            .map_err(|_| bad("the signature does not match the description"))
    }
}

fn push_field(out: &mut Vec<u8>, field: &str) {
    // Fields are bounded by the signaling frame limit (64 KiB), so they fit u16.
    let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&field.as_bytes()[..usize::from(len)]);
}

fn invalid(reason: String) -> ProtoError {
    ProtoError::Invalid { reason }
}

#[cfg(test)]
mod tests;
