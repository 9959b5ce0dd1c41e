//! The fuzz target's logic, compiled and tested with the crate. Not a public
//! API.
//!
//! The target checks the scrubber against a naive reference that finds
//! every occurrence of every pattern by brute force (no prefilter, no
//! automaton) and applies the same merge rule: so it tests both that
//! streaming equals one-shot for arbitrary chunkings and that no occurrence
//! is missed.

use crate::{Form, Forms, Scrubber};

/// Decodes fuzz bytes into secrets, forms, input and split points, and
/// checks the properties. Panics when one fails.
pub fn scrub_structured(data: &[u8]) {
    let mut r = Reader(data);
    let n = 1 + usize::from(r.byte() % 3);
    let mut secrets = Vec::new();
    for i in 0..n {
        let len = 8 + usize::from(r.byte() % 24);
        let value = r.take(len).to_vec();
        if value.len() < 8 {
            return;
        }
        secrets.push((format!("S{i}"), value));
    }
    let flags = r.byte();
    let forms = Forms {
        reversed: flags & 1 != 0,
        base64: flags & 2 != 0,
        base64url: flags & 4 != 0,
        hex: flags & 8 != 0,
        percent: flags & 16 != 0,
        json: flags & 32 != 0,
        fragments: (flags & 64 != 0).then_some(8),
        line_breaks: flags & 128 != 0 || flags & 1 == 0,
        invisible: flags & 1 == 0 || flags & 16 != 0,
        dumps: flags & 1 == 0 || flags & 32 != 0,
        ..Forms::default()
    };
    let splits: Vec<usize> = r.take(4).iter().map(|&b| usize::from(b)).collect();
    let mut input = r.rest().to_vec();
    // Plant the secrets so matches are common, not only accidental.
    for (i, (_, v)) in secrets.iter().enumerate() {
        if flags & 128 != 0 || i == 0 {
            let at = input.len() / (i + 2);
            input.splice(at..at, v.iter().copied());
        }
    }
    let mut b = Scrubber::builder();
    b.forms(forms);
    for (name, v) in &secrets {
        b.secret(name, v);
    }
    let Ok(s) = b.build() else {
        return;
    };
    check(&s, &input, &splits);
}

/// Checks one scrubber on one input: the reference agrees with one-shot,
/// and every chunking agrees with one-shot.
pub fn check(s: &Scrubber, input: &[u8], splits: &[usize]) {
    let whole = s.scrub(input);
    let reference = reference(s, input);
    assert!(
        whole == reference,
        "one-shot output differs from the reference"
    );
    let mut out = Vec::new();
    let mut stream = s.stream();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let size = splits
            .get(i % splits.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        stream.feed(chunk, &mut out);
        rest = tail;
        i += 1;
    }
    stream.finish(&mut out);
    assert!(out == whole, "chunked output differs from one-shot output");
}

/// The scrubber's behaviour, written the slow and obvious way.
pub fn reference(s: &Scrubber, input: &[u8]) -> Vec<u8> {
    let inner = &s.inner;
    // The same views the streams match on, each without its removable
    // spans; a match longer than the span limit is none.
    let mut hits: Vec<(usize, std::cmp::Reverse<usize>, usize)> = Vec::new();
    for &rules in &inner.views {
        let mut spans = Vec::new();
        crate::view::find(input, rules, &mut spans);
        let mut view = crate::view::View::default();
        view.build(input, &spans);
        let text = &view.text;
        for (pi, p) in inner.patterns.iter().enumerate() {
            if p.len() <= text.len() {
                for start in 0..=text.len() - p.len() {
                    if &text[start..start + p.len()] == p.as_slice() {
                        let (s0, e0) = view.span(start, start + p.len());
                        if e0 - s0 <= inner.span_limit {
                            hits.push((s0, std::cmp::Reverse(e0), pi));
                        }
                    }
                }
            }
        }
    }
    // The bytes dumps spell.
    if inner.dumps {
        let mut d = crate::dump::Decoded::default();
        crate::dump::decode(input, 0, inner.dump_step, &mut d);
        for (kind, run) in &d.runs {
            let text = &d.bytes[run.clone()];
            for (pi, p) in inner.patterns.iter().enumerate() {
                if p.len() <= text.len() {
                    for start in 0..=text.len() - p.len() {
                        if &text[start..start + p.len()] == p.as_slice() {
                            let (s0, e0) = d.span(run.start + start, run.start + start + p.len());
                            if e0 - s0 <= inner.span_limit {
                                let tagged = crate::stream::dump_pattern(*kind, pi);
                                hits.push((s0, std::cmp::Reverse(e0), tagged));
                            }
                        }
                    }
                }
            }
        }
    }
    // The longest proper prefix of a pattern that ends the input.
    let mut partial: Option<(usize, usize)> = None;
    for (pi, p) in inner.patterns.iter().enumerate() {
        if let Some(min) = inner.partial_min[pi] {
            for k in min.max(1)..p.len() {
                if k <= input.len()
                    && input.ends_with(&p[..k])
                    && partial.is_none_or(|(_, bk)| k > bk)
                {
                    partial = Some((pi, k));
                }
            }
        }
    }
    if let Some((_, k)) = partial {
        hits.push((input.len() - k, std::cmp::Reverse(input.len()), usize::MAX));
    }
    hits.sort_unstable();
    hits.dedup();
    let mut out = Vec::new();
    let mut cursor = 0;
    let mut open_end: Option<usize> = None;
    for (start, std::cmp::Reverse(end), pi) in hits {
        match open_end {
            Some(e) if start <= e => open_end = Some(e.max(end)),
            _ => {
                let from = cursor.max(open_end.unwrap_or(0));
                if from < start {
                    out.extend_from_slice(&input[from..start]);
                }
                let (secret, form) = if pi == usize::MAX {
                    (partial.map_or(0, |(p, _)| inner.origin[p].0), Form::Partial)
                } else {
                    crate::stream::origin(s, pi)
                };
                s.render_marker(secret, form, &mut out);
                open_end = Some(end);
                cursor = start;
            }
        }
    }
    let from = cursor.max(open_end.unwrap_or(0));
    if from < input.len() {
        out.extend_from_slice(&input[from..]);
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.0.first().copied().unwrap_or(0);
        self.0 = self.0.get(1..).unwrap_or_default();
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The scrubber's patterns, for benchmarks that build a baseline over the
/// same set (they are test data there, never real secrets).
pub fn patterns(s: &Scrubber) -> Vec<Vec<u8>> {
    s.inner.patterns.clone()
}

/// The most a stream may hold back once fed `fed`, by brute force, for
/// text of printable ASCII and line breaks: the longest suffix, in any
/// view, of the text before its unsettled tail (the last character, or
/// from a break among the last ten bytes) that is a prefix of some
/// pattern, else the unsettled tail from its first byte that begins a
/// pattern. A stream that holds back more keeps bytes no match can cover.
pub fn undecided_bound(s: &Scrubber, fed: &[u8]) -> usize {
    let inner = &s.inner;
    let len = fed.len();
    if len == 0 {
        return 0;
    }
    let mut tail = len - 1;
    if let Some(i) = (len.saturating_sub(10)..len).find(|&i| matches!(fed[i], b'\n' | b'\r')) {
        tail = tail.min(i);
    }
    let settled = &fed[..tail];
    let mut start = tail;
    for &rules in &inner.views {
        let mut spans = Vec::new();
        crate::view::find(settled, rules, &mut spans);
        let mut view = crate::view::View::default();
        view.build(settled, &spans);
        let text = &view.text;
        for p in &inner.patterns {
            for k in 1..=p.len().min(text.len()) {
                if text.ends_with(&p[..k]) {
                    start = start.min(view.original(text.len() - k));
                }
            }
        }
    }
    if start == tail {
        start = (tail..len)
            .find(|&y| inner.patterns.iter().any(|p| p.first() == Some(&fed[y])))
            .unwrap_or(len);
    }
    len - start
}
