//! Peer identities and the signaling server's challenge-response authentication.
//!
//! A peer id is the base64url (no padding) encoding of the peer's 32-byte Ed25519
//! public key: 43 chars. Anyone holding an id can verify that peer's signatures.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::ProtoError;

/// Length of a peer id, chars (base64url of 32 bytes, unpadded).
pub const PEER_ID_LEN: usize = 43;

/// Domain-separation prefix of the bytes signed during authentication (includes the
/// trailing NUL byte).
pub const AUTH_CONTEXT: &[u8] = b"parley-signal-auth-v1\0";

/// Domain-separation prefix of the bytes signed in a sign-in bound to the server's
/// owner (protocol 5, docs/protocol.md §3.1; includes the trailing NUL byte).
pub const AUTH_CONTEXT_BOUND: &[u8] = b"parley-signal-auth-v2\0";

/// Length of the server's challenge nonce, bytes (before base64url encoding).
pub const NONCE_BYTES: usize = 32;

/// A peer's identity: base64url-no-pad of its Ed25519 public key (43 chars).
///
/// On the wire it is a plain JSON string. Build one with [`PeerId::from_public_key`]
/// or [`PeerId::parse`]; values deserialised from JSON are checked by the message
/// `parse` functions of [`crate::signal`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(String);

impl PeerId {
    /// The id of the holder of `key`.
    pub fn from_public_key(key: &VerifyingKey) -> PeerId {
        PeerId(URL_SAFE_NO_PAD.encode(key.as_bytes()))
    }

    /// Parses and validates an id: 43 chars of canonical base64url (no padding)
    /// decoding to a valid Ed25519 public key.
    ///
    /// Errors: [`ProtoError::InvalidPeerId`].
    pub fn parse(s: &str) -> Result<PeerId, ProtoError> {
        let id = PeerId(s.to_owned());
        id.verifying_key()?;
        Ok(id)
    }

    /// The Ed25519 public key this id encodes.
    ///
    /// Errors: [`ProtoError::InvalidPeerId`] if the id is not a valid encoding.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ProtoError> {
        let invalid = |reason: &str| ProtoError::InvalidPeerId {
            reason: reason.to_owned(),
        };
        if self.0.len() != PEER_ID_LEN {
            return Err(invalid("must be 43 chars of base64url"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| invalid("not canonical base64url without padding"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid("does not decode to 32 bytes"))?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| invalid("not an Ed25519 public key"))
    }

    /// Whether [`PeerId::verifying_key`] would succeed.
    pub fn is_valid(&self) -> bool {
        self.verifying_key().is_ok()
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The invite link for this id: `parley://add/<id>` ([`INVITE_LINK_PREFIX`]).
    pub fn invite_link(&self) -> String {
        format!("{INVITE_LINK_PREFIX}{}", self.0)
    }

    /// The id in an invite link `parley://add/<id>` (a trailing `/` and a query or
    /// fragment are ignored; the scheme and `add` are matched without case, the
    /// id exactly).
    ///
    /// Errors: [`ProtoError::Invalid`] when it is not an invite link;
    /// [`ProtoError::InvalidPeerId`] when the id in it is not valid.
    pub fn from_invite_link(link: &str) -> Result<PeerId, ProtoError> {
        let link = link.trim();
        let prefix = INVITE_LINK_PREFIX.len();
        if link.len() < prefix
            || !link.is_char_boundary(prefix)
            || !link[..prefix].eq_ignore_ascii_case(INVITE_LINK_PREFIX)
        {
            return Err(ProtoError::Invalid {
                reason: format!("not a Parley invite link (expected {INVITE_LINK_PREFIX}<id>)"),
            });
        }
        let rest = &link[prefix..];
        let id = rest.split(['?', '#']).next().unwrap_or_default();
        PeerId::parse(id.strip_suffix('/').unwrap_or(id))
    }
}

/// How invite links start; the peer id follows.
pub const INVITE_LINK_PREFIX: &str = "parley://add/";

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PeerId {
    type Err = ProtoError;

    fn from_str(s: &str) -> Result<PeerId, ProtoError> {
        PeerId::parse(s)
    }
}

impl AsRef<str> for PeerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Encodes bytes as base64url without padding (the encoding of ids, nonces and
/// signatures on the wire).
pub fn encode_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
///
/// Errors: [`ProtoError::Malformed`] if `s` is not canonical unpadded base64url.
pub fn decode_b64url(s: &str) -> Result<Vec<u8>, ProtoError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| ProtoError::malformed(format!("bad base64url: {e}")))
}

/// The exact bytes a client signs to answer a challenge:
/// `b"parley-signal-auth-v1\0"` followed by the raw (decoded) nonce bytes.
pub fn auth_payload(nonce: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(AUTH_CONTEXT.len() + nonce.len());
    payload.extend_from_slice(AUTH_CONTEXT);
    payload.extend_from_slice(nonce);
    payload
}

/// Signs [`auth_payload`]`(nonce)` with `key`; returns the 64-byte signature as
/// base64url (86 chars), ready for the `auth` message.
///
/// `nonce` is the raw bytes, i.e. the challenge's `nonce` field already decoded.
pub fn sign_challenge(key: &SigningKey, nonce: &[u8]) -> String {
    encode_b64url(&key.sign(&auth_payload(nonce)).to_bytes())
}

/// The exact bytes a client signs in a sign-in bound to the server's owner
/// (protocol 5, docs/protocol.md §3.1): [`AUTH_CONTEXT_BOUND`], then `owner`'s
/// id (43 ASCII chars) as a 2-byte big-endian length and its bytes, then the raw
/// nonce. A server run by a peer (the embedded server of someone found nearby)
/// accepts it only when it names that peer, and every other server refuses it,
/// so a server that passes another's challenge on to us cannot sign in with our
/// answer anywhere but on the owner's own server.
pub fn auth_payload_bound(nonce: &[u8], owner: &PeerId) -> Vec<u8> {
    let owner = owner.as_str().as_bytes();
    let len = u16::try_from(owner.len()).unwrap_or(u16::MAX);
    let mut payload = Vec::with_capacity(AUTH_CONTEXT_BOUND.len() + 2 + owner.len() + nonce.len());
    payload.extend_from_slice(AUTH_CONTEXT_BOUND);
    payload.extend_from_slice(&len.to_be_bytes());
    payload.extend_from_slice(&owner[..usize::from(len)]);
    payload.extend_from_slice(nonce);
    payload
}

/// Signs [`auth_payload_bound`]`(nonce, owner)` with `key`: the base64url
/// signature for an `auth` whose `owner` is `owner`.
pub fn sign_challenge_bound(key: &SigningKey, nonce: &[u8], owner: &PeerId) -> String {
    encode_b64url(&key.sign(&auth_payload_bound(nonce, owner)).to_bytes())
}

/// Verifies that `sig_b64` is `id`'s signature of
/// [`auth_payload_bound`]`(nonce, owner)`.
///
/// Errors: as [`verify_challenge`].
pub fn verify_challenge_bound(
    id: &PeerId,
    nonce: &[u8],
    owner: &PeerId,
    sig_b64: &str,
) -> Result<(), ProtoError> {
    verify_payload(id, &auth_payload_bound(nonce, owner), sig_b64)
}

/// Verifies that `sig_b64` is `id`'s signature of [`auth_payload`]`(nonce)`.
///
/// Errors: [`ProtoError::InvalidPeerId`] if `id` is not a valid key;
/// [`ProtoError::BadSignature`] if the signature is not base64url of 64 bytes or
/// does not verify (strict verification: no malleable or small-order forms).
pub fn verify_challenge(id: &PeerId, nonce: &[u8], sig_b64: &str) -> Result<(), ProtoError> {
    verify_payload(id, &auth_payload(nonce), sig_b64)
}

/// Strictly verifies `sig_b64` as `id`'s signature of `payload`.
fn verify_payload(id: &PeerId, payload: &[u8], sig_b64: &str) -> Result<(), ProtoError> {
    let key = id.verifying_key()?;
    let bad = |reason: &str| ProtoError::BadSignature {
        reason: reason.to_owned(),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| bad("not base64url"))?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| bad("not 64 bytes"))?;
    key.verify_strict(payload, &Signature::from_bytes(&bytes))
        .map_err(|_| bad("signature does not verify"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_links_round_trip_and_refuse_anything_else() {
        let id = PeerId::from_public_key(&SigningKey::from_bytes(&[7; 32]).verifying_key());
        let link = id.invite_link();
        assert_eq!(link, format!("parley://add/{id}"));
        assert_eq!(PeerId::from_invite_link(&link).unwrap(), id);
        for ok in [
            format!("PARLEY://Add/{id}/"),
            format!(" {link}?from=mail "),
            format!("{link}#x"),
        ] {
            assert_eq!(PeerId::from_invite_link(&ok).unwrap(), id, "{ok}");
        }
        for bad in [
            String::new(),
            "parley://add/".to_owned(),
            format!("https://add/{id}"),
            format!("parley://call/{id}"),
            format!("parley://add/{}", &id.as_str()[1..]),
            "parley://add/../../etc/passwd".to_owned(),
            "parley://adé".to_owned(),
        ] {
            assert!(
                PeerId::from_invite_link(&bad).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn id_round_trips_through_parse_and_key() {
        let k = key(7);
        let id = PeerId::from_public_key(&k.verifying_key());
        assert_eq!(id.as_str().len(), PEER_ID_LEN);
        let parsed = PeerId::parse(id.as_str()).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.verifying_key().unwrap(), k.verifying_key());
        assert_eq!(id.to_string(), id.as_str());
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{}\"", id.as_str())
        );
    }

    #[test]
    fn parse_rejects_bad_ids() {
        let good = PeerId::from_public_key(&key(1).verifying_key());
        for bad in [
            "",
            "abc",
            &format!("{}=", good.as_str()),
            &format!("{}A", good.as_str()),
            &good.as_str().replace(|_: char| true, "+"),
        ] {
            assert!(
                matches!(PeerId::parse(bad), Err(ProtoError::InvalidPeerId { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn parse_rejects_non_canonical_trailing_bits() {
        let good = PeerId::from_public_key(&key(3).verifying_key());
        let mut s = good.as_str().to_owned();
        // The last char carries 4 data bits + 2 zero bits; flip a padding bit.
        let last = s.pop().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet.find(last).unwrap();
        s.push(alphabet.as_bytes()[idx ^ 1] as char);
        assert!(PeerId::parse(&s).is_err());
    }

    #[test]
    fn payload_is_context_then_nonce() {
        assert_eq!(
            auth_payload(&[1, 2]),
            b"parley-signal-auth-v1\0\x01\x02".to_vec()
        );
    }

    #[test]
    fn bound_payload_names_the_owner_with_its_length() {
        let owner = PeerId::from_public_key(&key(5).verifying_key());
        let mut want = b"parley-signal-auth-v2\0\x00\x2b".to_vec();
        want.extend_from_slice(owner.as_str().as_bytes());
        want.extend_from_slice(&[1, 2]);
        assert_eq!(auth_payload_bound(&[1, 2], &owner), want);
    }

    #[test]
    fn a_bound_signature_is_good_only_for_its_owner() {
        let k = key(9);
        let id = PeerId::from_public_key(&k.verifying_key());
        let (owner, other) = (
            PeerId::from_public_key(&key(5).verifying_key()),
            PeerId::from_public_key(&key(6).verifying_key()),
        );
        let nonce = [42u8; NONCE_BYTES];
        let sig = sign_challenge_bound(&k, &nonce, &owner);
        assert_eq!(verify_challenge_bound(&id, &nonce, &owner, &sig), Ok(()));
        assert!(verify_challenge_bound(&id, &nonce, &other, &sig).is_err());
        // Nor as an unbound answer (docs/protocol.md §3.1: what a relay would try).
        assert!(verify_challenge(&id, &nonce, &sig).is_err());
    }

    #[test]
    fn bound_test_vector() {
        // docs/protocol.md §3.1: key 32 bytes of 0x01, nonce 0x00..0x1f, owner
        // the id of 32 bytes of 0x02.
        let k = SigningKey::from_bytes(&[1; 32]);
        let owner = PeerId::from_public_key(&SigningKey::from_bytes(&[2; 32]).verifying_key());
        let nonce: Vec<u8> = (0..32).collect();
        let sig = sign_challenge_bound(&k, &nonce, &owner);
        assert_eq!(owner.as_str(), BOUND_VECTOR_OWNER);
        assert_eq!(sig, BOUND_VECTOR_SIG);
    }

    /// The same values are in docs/protocol.md §3.1.
    const BOUND_VECTOR_OWNER: &str = "gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q";
    const BOUND_VECTOR_SIG: &str =
        "4sah2-IArwQL6saVTldQbjXkXNU-ppez8kDVDkDPKODJoqBpDfpmw7xHOoYIm4M8mIrktoTiGyBlany0XqnKDw";

    #[test]
    fn sign_and_verify() {
        let k = key(9);
        let id = PeerId::from_public_key(&k.verifying_key());
        let nonce = [42u8; NONCE_BYTES];
        let sig = sign_challenge(&k, &nonce);
        assert_eq!(verify_challenge(&id, &nonce, &sig), Ok(()));
    }

    #[test]
    fn verify_rejects_wrong_key_nonce_and_garbage() {
        let k = key(9);
        let other = key(10);
        let id = PeerId::from_public_key(&k.verifying_key());
        let nonce = [42u8; NONCE_BYTES];
        let wrong_key_sig = sign_challenge(&other, &nonce);
        let err = verify_challenge(&id, &nonce, &wrong_key_sig).unwrap_err();
        assert!(matches!(err, ProtoError::BadSignature { .. }));
        assert_eq!(err.code(), crate::ErrorCode::AuthFailed);

        let sig = sign_challenge(&k, &nonce);
        assert!(verify_challenge(&id, &[0u8; NONCE_BYTES], &sig).is_err());
        assert!(verify_challenge(&id, &nonce, "not base64!").is_err());
        assert!(verify_challenge(&id, &nonce, &encode_b64url(&[0u8; 10])).is_err());
    }

    /// The worked example in docs/protocol.md.
    #[test]
    fn documented_test_vector() {
        let k = key(1);
        let id = PeerId::from_public_key(&k.verifying_key());
        assert_eq!(id.as_str(), "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w");
        let nonce: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            encode_b64url(&nonce),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        );
        let sig = sign_challenge(&k, &nonce);
        assert_eq!(
            sig,
            "52zYse_6dOTjXqkLQ2L7ORuviYtOK_YpjFTF83UXWvgGb8_fkADC_GOW0DweMITRyW6oQ21a76doy-s5ePEKDg"
        );
        assert_eq!(verify_challenge(&id, &nonce, &sig), Ok(()));
    }

    #[test]
    fn b64_round_trip() {
        let bytes = [0u8, 255, 17, 3];
        assert_eq!(decode_b64url(&encode_b64url(&bytes)).unwrap(), bytes);
        assert!(decode_b64url("a=").is_err());
    }
}
