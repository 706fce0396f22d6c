use ed25519_dalek::SigningKey;

use super::*;

fn id(seed: u8) -> PeerId {
    PeerId::from_public_key(&SigningKey::from_bytes(&[seed; 32]).verifying_key())
}

#[test]
fn both_sides_see_the_same_number() {
    let (a, b) = (id(1), id(2));
    let n = safety_number(&a, &b);
    assert_eq!(n, safety_number(&b, &a));
    let groups: Vec<&str> = n.split(' ').collect();
    assert_eq!(groups.len(), 12, "{n}");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|c| c.is_ascii_digit())),
        "{n}"
    );
    assert_eq!(n, EXAMPLE, "docs/protocol.md §2.1");
}

const EXAMPLE: &str = "19654 53620 45234 30450 95614 82546 97301 92639 49960 36965 78171 69281";

#[test]
fn another_key_gives_another_number() {
    let (a, b, c) = (id(1), id(2), id(3));
    let ab = safety_number(&a, &b);
    assert_ne!(ab, safety_number(&a, &c));
    assert_ne!(ab, safety_number(&c, &b));
    // Each id's half is its own: swapping one key changes half the digits.
    let ac = safety_number(&a, &c);
    let shared = ab.split(' ').filter(|g| ac.contains(g)).count();
    assert!(shared >= 6, "{ab} / {ac}");
}
