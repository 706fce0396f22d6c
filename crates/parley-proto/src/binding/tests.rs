use ed25519_dalek::SigningKey;

use super::*;

/// The worked example of docs/protocol.md §6.3.
const EXAMPLE_SDP: &str = "v=0\r\n\
o=- 1 1 IN IP4 0.0.0.0\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=fingerprint:sha-256 0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9:0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:aBcD\r\n\
a=ice-pwd:0123456789abcdefghijkl\r\n\
a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n";

fn keys() -> (SigningKey, PeerId, PeerId) {
    let alice = SigningKey::from_bytes(&[1u8; 32]);
    let bob = SigningKey::from_bytes(&[2u8; 32]);
    let a = PeerId::from_public_key(&alice.verifying_key());
    let b = PeerId::from_public_key(&bob.verifying_key());
    (alice, a, b)
}

fn example() -> (SigningKey, DescriptionBinding) {
    let (alice, a, b) = keys();
    let binding =
        DescriptionBinding::from_sdp("c0ffee", &a, &b, DescriptionType::Offer, EXAMPLE_SDP)
            .unwrap();
    (alice, binding)
}

#[test]
fn worked_example_matches_the_protocol_document() {
    let (alice, binding) = example();
    // The same fingerprint at session and media level, in two spellings, is one value.
    assert_eq!(
        binding.fingerprints,
        ["sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9"]
    );
    assert_eq!(binding.ice_ufrags, ["aBcD"]);
    let bytes = binding.signed_bytes();
    let sig = binding.sign(&alice);
    assert_eq!(hex::encode(&bytes), EXAMPLE_BYTES_HEX);
    assert_eq!(sig, EXAMPLE_SIG);
    binding.verify(Some(&sig)).unwrap();
}

const EXAMPLE_BYTES_HEX: &str = concat!(
    "7061726c65792d6465736372697074696f6e2d7631000006633066666565002b",
    "696f6a6a3358514a385a583955747374504c70646373706e436238646c424962",
    "3833534941625150623177002b67546c3344716839463139576f31526d773078",
    "2d7a4d754e69704730376a65695866595057345f4a73355100056f6666657200",
    "0100677368612d3235362030413a31423a32433a33443a34453a35463a36303a",
    "37313a38323a39333a41343a42353a43363a44373a45383a46393a30413a3142",
    "3a32433a33443a34453a35463a36303a37313a38323a39333a41343a42353a43",
    "363a44373a45383a463900010004614263440020b94645fb3ab7b55007f3d87a",
    "0e190dac198592c60cfb6c16a9bcacb2709b91fc",
);
const EXAMPLE_SIG: &str =
    "QSrL_PrdvSI7kJKktKRtPXnYdVrwflhuzaOZzEwoYT2vZKfVXdQTT7mbv0fIkyB6D4aC8uiMAGUDkKQJyl1jDQ";

#[test]
fn any_change_to_what_is_bound_breaks_the_signature() {
    let (alice, binding) = example();
    let sig = binding.sign(&alice);
    let (_, a, b) = keys();
    let tampered_fp = EXAMPLE_SDP.replace("0A:1B:2C", "0A:1B:2D");
    let tampered_ufrag = EXAMPLE_SDP.replace("ice-ufrag:aBcD", "ice-ufrag:aBcE");
    // Lines webrtc-rs's SDP parser reads as fingerprints but a plain line scan
    // does not: the digest of the whole text still catches them.
    let fp = "a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B";
    let hidden_cr = EXAMPLE_SDP.replace(fp, &format!("\ra=fingerprint:sha-256 66:66\r\n{fp}"));
    let hidden_blank = EXAMPLE_SDP.replace(fp, &format!("a= fingerprint:sha-256 66:66\r\n{fp}"));
    let extra_attribute = format!("{EXAMPLE_SDP}a=extmap:9 urn:x\r\n");
    let cases = [
        (
            "c0ffee",
            &a,
            &b,
            DescriptionType::Offer,
            tampered_fp.as_str(),
        ),
        (
            "c0ffee",
            &a,
            &b,
            DescriptionType::Offer,
            tampered_ufrag.as_str(),
        ),
        ("c0ffef", &a, &b, DescriptionType::Offer, EXAMPLE_SDP),
        ("c0ffee", &a, &b, DescriptionType::Answer, EXAMPLE_SDP),
        ("c0ffee", &a, &b, DescriptionType::Offer, &hidden_cr),
        ("c0ffee", &a, &b, DescriptionType::Offer, &hidden_blank),
        ("c0ffee", &a, &b, DescriptionType::Offer, &extra_attribute),
    ];
    for (call_id, from, to, kind, sdp) in cases {
        let other = DescriptionBinding::from_sdp(call_id, from, to, kind, sdp).unwrap();
        let err = other.verify(Some(&sig)).unwrap_err();
        assert!(matches!(err, ProtoError::BadSignature { .. }), "{err}");
    }
    // Sent to someone else, or claimed by the recipient.
    let swapped =
        DescriptionBinding::from_sdp("c0ffee", &b, &a, DescriptionType::Offer, EXAMPLE_SDP)
            .unwrap();
    assert!(swapped.verify(Some(&sig)).is_err());
}

#[test]
fn a_missing_or_garbled_signature_is_refused() {
    let (alice, binding) = example();
    for sig in [None, Some(""), Some("not base64!"), Some("AAAA")] {
        let err = binding.verify(sig).unwrap_err();
        assert!(
            matches!(err, ProtoError::BadSignature { .. }),
            "{sig:?}: {err}"
        );
    }
    let mut sig = decode_b64url(&binding.sign(&alice)).unwrap();
    sig[10] ^= 1;
    assert!(binding.verify(Some(&encode_b64url(&sig))).is_err());
}

#[test]
fn a_description_without_dtls_or_ice_cannot_be_bound() {
    let (_, a, b) = keys();
    let no_fp: String = EXAMPLE_SDP
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .map(|l| format!("{l}\n"))
        .collect();
    let no_ufrag = EXAMPLE_SDP.replace("a=ice-ufrag:aBcD\r\n", "");
    let bad_fp = EXAMPLE_SDP.replace("sha-256 0a:1b", "sha-256");
    for sdp in [no_fp.as_str(), no_ufrag.as_str(), "", bad_fp.as_str()] {
        let err = DescriptionBinding::from_sdp("c", &a, &b, DescriptionType::Offer, sdp);
        assert!(matches!(err, Err(ProtoError::Invalid { .. })), "{err:?}");
    }
}

#[test]
fn too_many_distinct_values_are_refused() {
    let (_, a, b) = keys();
    let mut sdp = EXAMPLE_SDP.to_owned();
    for i in 0..MAX_BOUND_VALUES {
        sdp.push_str(&format!("a=ice-ufrag:u{i}\r\n"));
    }
    let err = DescriptionBinding::from_sdp("c", &a, &b, DescriptionType::Offer, &sdp);
    assert!(matches!(err, Err(ProtoError::Invalid { .. })), "{err:?}");
}
