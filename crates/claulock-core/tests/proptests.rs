//! Property tests: random values through random contexts in real bash, and
//! random text through the whole decision.

use claulock_core::policy::{CheckContext, Policy, SecretRules, decide};
use claulock_core::time::Timestamp;
use proptest::prelude::*;

use crate::bash_roundtrip::{CONTEXTS, run_plan};

/// Bytes that matter to bash, plus ordinary and non-ASCII ones (never NUL,
/// which no environment variable can carry).
fn hostile_value() -> impl Strategy<Value = Vec<u8>> {
    let interesting =
        prop::sample::select(b" \t\n'\"$`\\*?[]{}()<>|&;!#~%-=:,.\x7f\xc3\xa9\xff".to_vec());
    let any = 1u8..=255;
    prop::collection::vec(prop_oneof![3 => interesting, 1 => any], 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn bash_receives_exactly_the_value(value in hostile_value(), ctx in 0..CONTEXTS.len()) {
        let c = &CONTEXTS[ctx];
        let got = run_plan(c.command, &value).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got, (c.expect)(&value), "context {}", c.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decide_never_panics_and_plans_hold_no_placeholder(
        prefix in "[ -~\n\t]{0,30}",
        name in prop::sample::select(vec!["A", "B", "NOPE"]),
        suffix in "[ -~\n\t]{0,30}",
    ) {
        let command = format!("{prefix}{{{{{name}}}}}{suffix}");
        let mut policy = Policy::new();
        policy.insert("A", SecretRules::default());
        policy.insert("B", SecretRules {
            allow_hosts: vec![claulock_core::destination::HostPattern::parse("*.example.com").unwrap()],
            ..SecretRules::default()
        });
        let d = decide(&command, &policy, &CheckContext::at(Timestamp::from_unix(0)));
        prop_assert_eq!(d.allowed, d.refusals.is_empty());
        if let Some(plan) = d.plan {
            for b in &plan.bindings {
                let placeholder = format!("{{{{{}}}}}", b.secret);
                prop_assert!(!plan.command.contains(&placeholder) || command.contains("{{!"));
            }
        }
    }

    #[test]
    fn grammar_segments_tile_the_input(text in "[{}A-Z_!. a]{0,40}") {
        claulock_core::fuzzing::grammar(text.as_bytes());
    }
}
