use super::*;

/// A short run of every target (the bench runs millions): no panic.
#[test]
fn every_target_survives_a_short_run() {
    for target in targets() {
        let seeds = (target.seeds)();
        assert!(!seeds.is_empty(), "{} has no seeds", target.name);
        for seed in &seeds {
            (target.run)(seed);
        }
        let mut m = Mutator::new(42);
        for _ in 0..5_000 {
            let input = m.input(&seeds);
            assert!(input.len() <= MAX_INPUT_BYTES);
            (target.run)(&input);
        }
    }
}

#[test]
fn the_documented_examples_parse() {
    let examples = doc_examples();
    assert!(examples.len() >= 40, "{}", examples.len());
    for e in &examples {
        let text = std::str::from_utf8(e).unwrap();
        let ok = ClientMessage::parse(text).is_ok()
            || ServerMessage::parse(text).is_ok()
            || ChatFrame::parse(text).is_ok()
            || ControlFrame::parse(text).is_ok()
            || TransferFrame::parse(text).is_ok();
        assert!(ok, "docs/protocol.md example does not parse: {text}");
    }
}

#[test]
fn the_mutator_is_deterministic() {
    let seeds = vec![b"{\"type\":\"ping\"}".to_vec()];
    let (mut a, mut b) = (Mutator::new(7), Mutator::new(7));
    for _ in 0..100 {
        assert_eq!(a.input(&seeds), b.input(&seeds));
    }
}
