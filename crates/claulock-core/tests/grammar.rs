//! The placeholder grammar's edge cases.

use claulock_core::grammar::{MAX_NAME_LEN, Segment, parse, placeholders};

/// (input, the placeholder names found, in order)
const BASICS: &[(&str, &[&str])] = &[
    ("", &[]),
    ("plain text", &[]),
    ("{{TOKEN}}", &["TOKEN"]),
    ("a{{A}}b{{B_2}}c", &["A", "B_2"]),
    ("{{_private}}", &["_private"]),
    ("{{lower_case}}", &["lower_case"]),
    ("{{A}}{{A}}", &["A", "A"]),
];

const NOT_PLACEHOLDERS: &[(&str, &[&str])] = &[
    ("{{.State}}", &[]),
    ("{{ x }}", &[]),
    ("{{}}", &[]),
    ("{{9X}}", &[]),
    ("{{X-Y}}", &[]),
    ("{{X}", &[]),
    ("{X}}", &[]),
    ("{{X }}", &[]),
    ("{{ X}}", &[]),
    ("{{X.Y}}", &[]),
    ("{{é}}", &[]),
    ("{{!X}}", &[]),
    ("{{", &[]),
    ("}}{{", &[]),
];

const EDGE: &[(&str, &[&str])] = &[
    ("{{{X}}}", &["X"]),
    ("{{{{X}}}}", &["X"]),
    ("{{.State}}{{X}}", &["X"]),
    ("${{X}}", &["X"]),
    ("{{X}}}}", &["X"]),
    ("é{{X}}é", &["X"]),
    ("{{!X}}{{X}}", &["X"]),
];

#[test]
fn tables() {
    for (input, want) in BASICS.iter().chain(NOT_PLACEHOLDERS).chain(EDGE) {
        let got: Vec<String> = placeholders(input)
            .unwrap_or_else(|e| panic!("{input:?}: {e}"))
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(&got, want, "input {input:?}");
    }
}

#[test]
fn spans_are_byte_offsets() {
    let text = "é {{A}} {{!B}}";
    let segs = parse(text).unwrap();
    let spans: Vec<_> = segs
        .iter()
        .filter_map(|s| match s {
            Segment::Placeholder(p) | Segment::Escaped(p) => Some(p.span.clone()),
            Segment::Literal(_) => None,
        })
        .collect();
    assert_eq!(spans, [3..8, 9..15]);
    assert_eq!(&text[3..8], "{{A}}");
    assert!(matches!(segs.last(), Some(Segment::Escaped(p)) if p.name == "B"));
}

#[test]
fn name_length_limit() {
    let ok = format!("{{{{{}}}}}", "A".repeat(MAX_NAME_LEN));
    assert_eq!(placeholders(&ok).unwrap().len(), 1);
    let long = format!("xx {{{{{}}}}}", "A".repeat(MAX_NAME_LEN + 1));
    let err = placeholders(&long).unwrap_err();
    assert_eq!(err.offset(), 3);
    assert_eq!(
        err.to_string(),
        "placeholder at byte 3 has a name of 129 bytes, longer than the limit of 128"
    );
}
