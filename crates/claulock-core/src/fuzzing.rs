//! Entry points of the fuzz targets, compiled and tested with the crate so
//! the fuzz logic cannot rot. Not a public API.

use crate::destination::HostPattern;
use crate::policy::{CheckContext, Policy, SecretRules, decide};
use crate::time::Timestamp;

/// Grammar: any text parses or errs, and segments tile the input.
pub fn grammar(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(segments) = crate::grammar::parse(text) {
        let mut at = 0;
        for s in segments {
            let len = match s {
                crate::grammar::Segment::Literal(l) => l.len(),
                crate::grammar::Segment::Placeholder(p) | crate::grammar::Segment::Escaped(p) => {
                    assert_eq!(p.span.start, at);
                    p.span.len()
                }
            };
            at += len;
        }
        assert_eq!(at, text.len());
    }
}

/// Policy file: any text parses or errs.
pub fn policy_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::policy_file::parse(text);
    }
}

/// Whole decision on any command: never panics; an allowed plan keeps every
/// non-placeholder byte and holds no placeholder it was meant to replace.
pub fn decide_command(data: &[u8]) {
    let Ok(command) = std::str::from_utf8(data) else {
        return;
    };
    let mut policy = Policy::new();
    for name in ["A", "TOKEN", "GITHUB_TOKEN"] {
        policy.insert(name, SecretRules::default());
    }
    if let Ok(pattern) = HostPattern::parse("*.example.com") {
        policy.insert(
            "B",
            SecretRules {
                allow_hosts: vec![pattern],
                ..SecretRules::default()
            },
        );
    }
    let d = decide(command, &policy, &CheckContext::at(Timestamp::from_unix(0)));
    if let Some(plan) = d.plan {
        for b in &plan.bindings {
            assert!(
                !plan.command.contains(&format!("{{{{{}}}}}", b.secret)) || command.contains("{{!")
            );
        }
    }
}
