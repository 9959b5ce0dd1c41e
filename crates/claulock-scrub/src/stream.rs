//! One scrubbed stream: feed chunks, get output, finish.
//!
//! # Chunk safety without timers
//!
//! A byte is decided (emitted or redacted) once no match the rest of the
//! stream could complete covers it: after each feed, the stream decides
//! everything before its undecided tail (see `pending`: the longest suffix
//! of each view that is a pattern's prefix, the bytes whose removability
//! the next input could change, a dump run still open). That never needs
//! more than the longest span a match may have and the context its views'
//! rules look at (see `view`), so the tail is at most
//! [`Scrubber::max_held_back`] bytes; the stream also keeps that much
//! decided context before its undecided bytes. No rule looks at time or at
//! where chunks end, so the output is byte-identical for every way of
//! splitting the input. Matches
//! that overlap or touch merge into one marker, chosen at the region's first
//! byte (the longest match starting there, then the earliest pattern), so
//! the choice cannot depend on where chunks end.

use std::collections::BTreeMap;

use crate::dump::{self, Decoded, Kind};
use crate::forms::Form;
use crate::matcher::Hit;
use crate::scrubber::Scrubber;
use crate::view::{self, View};

/// Hits found in dumps carry their layout above the pattern's index.
const DUMP_TAG: usize = 1 << 28;

pub(crate) fn dump_pattern(kind: Kind, pattern: usize) -> usize {
    let k = Kind::ALL.iter().position(|&x| x == kind).unwrap_or(0);
    DUMP_TAG * (k + 1) + pattern
}

/// The secret and form of a hit's pattern (a dump's layout names the form
/// of what was found in it).
pub(crate) fn origin(s: &Scrubber, pattern: usize) -> (usize, Form) {
    if pattern >= DUMP_TAG {
        let secret = s.inner.origin[pattern % DUMP_TAG].0;
        return (secret, Kind::ALL[pattern / DUMP_TAG - 1].form());
    }
    s.inner.origin[pattern]
}

/// A scrubbed stream. Call [`feed`](Self::feed) for each chunk, then
/// [`finish`](Self::finish) once at the end.
pub struct Stream {
    scrubber: Scrubber,
    /// Decided bytes kept as context (`buf[..ctx]`), then bytes received
    /// but not yet decided.
    buf: Vec<u8>,
    ctx: usize,
    /// Absolute stream offset of `buf[0]`.
    base: u64,
    /// Absolute end of the redaction region in progress (bytes before it
    /// are suppressed; a match starting at or before it extends it).
    open_end: Option<u64>,
    hits: Vec<Hit>,
    found: Vec<Hit>,
    stats: BTreeMap<(usize, Form), u64>,
    /// The secret a trailing partial match belongs to.
    partial_secret: usize,
    spans: Vec<(usize, usize)>,
    view: View,
    decoded: Decoded,
    finished: bool,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("held_back", &(self.buf.len() - self.ctx))
            .field("offset", &(self.base + self.ctx as u64))
            .finish_non_exhaustive()
    }
}

/// How often one secret was caught in one form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catch {
    /// The secret's name.
    pub secret: String,
    /// The form it was found in.
    pub form: Form,
    /// How many redaction markers it produced.
    pub count: u64,
}

impl Stream {
    pub(crate) fn new(scrubber: Scrubber) -> Self {
        Stream {
            scrubber,
            buf: Vec::new(),
            ctx: 0,
            base: 0,
            open_end: None,
            hits: Vec::new(),
            found: Vec::new(),
            stats: BTreeMap::new(),
            partial_secret: 0,
            spans: Vec::new(),
            view: View::default(),
            decoded: Decoded::default(),
            finished: false,
        }
    }

    /// Scrubs `chunk`, appending what can be decided to `out`: everything
    /// but the undecided tail (bytes that could still be part of a match),
    /// which is held back until the next call or [`finish`](Self::finish),
    /// and is never longer than [`Scrubber::max_held_back`] bytes.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.finished {
            // Bytes after the end cannot be scrubbed consistently; a caller
            // that feeds after finishing gets them scrubbed as a new stream.
            self.finished = false;
            self.buf.clear();
            self.ctx = 0;
            self.base = 0;
            self.open_end = None;
        }
        self.buf.extend_from_slice(chunk);
        let held = self.scrubber.max_held_back();
        let bound = self.buf.len().saturating_sub(held).max(self.ctx);
        let safe = self.undecided_from(bound).max(bound);
        if safe > self.ctx {
            self.process(safe, None, out);
        }
    }

    /// Ends the stream: decides every held-back byte, redacting a cut-off
    /// prefix of a form at the very end.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let len = self.buf.len();
        let partial = self.trailing_partial();
        self.process(len, partial, out);
        self.finished = true;
        self.open_end = None;
    }

    /// What was caught so far: which secret, in which form, how often.
    /// Never the bytes.
    pub fn stats(&self) -> Vec<Catch> {
        // Values that share a name (a rotated-out one) count together.
        let mut merged: BTreeMap<(&str, Form), u64> = BTreeMap::new();
        for (&(secret, form), &count) in &self.stats {
            *merged
                .entry((&self.scrubber.inner.names[secret], form))
                .or_insert(0) += count;
        }
        merged
            .into_iter()
            .map(|((secret, form), count)| Catch {
                secret: secret.to_owned(),
                form,
                count,
            })
            .collect()
    }

    /// Bytes received but not decided yet: the undecided tail the stream
    /// holds back until more input arrives or it finishes (see
    /// [`feed`](Self::feed)).
    pub fn held_back(&self) -> usize {
        self.buf.len() - self.ctx
    }

    /// Where the undecided tail of `buf` begins (see `pending`); anything
    /// below `bound` (the fixed bound, always safe) may be returned as
    /// `bound` or less.
    fn undecided_from(&mut self, bound: usize) -> usize {
        let inner = &self.scrubber.inner;
        let len = self.buf.len();
        let u0 = view::unsettled(&self.buf, inner.line_breaks, inner.invisible);
        // A match spans at most `span_limit` bytes, so a suffix that
        // starts earlier can complete none; the views are built on a
        // slice that starts `CONTEXT` bytes before that, where the rules
        // decide as on the whole.
        let lo = len.saturating_sub(inner.span_limit + view::CONTEXT);
        let hay = &self.buf[lo..];
        // Settled bytes before the slice are past the span limit anyway.
        let u0 = u0.saturating_sub(lo);
        let mut safe = len;
        let mut controls = true;
        let mut last: Option<Vec<(usize, usize)>> = None;
        for &rules in &inner.views {
            if rules.rendered && !controls {
                continue;
            }
            controls = view::find(hay, rules, &mut self.spans);
            if last.as_ref() == Some(&self.spans) {
                continue;
            }
            let start = if self.spans.is_empty() {
                let j = inner.prefixes.pending_start(&hay[..u0], &inner.patterns);
                (j < u0).then_some(j)
            } else {
                // The view text before the settled point (a span across
                // it is not settled: the point moves to its start).
                let mut u = u0;
                let mut removed = 0;
                for &(s, l) in &self.spans {
                    if s + l <= u {
                        removed += l;
                    } else {
                        if s < u {
                            u = s;
                        }
                        break;
                    }
                }
                self.view.build(hay, &self.spans);
                let end = u - removed;
                let j = inner
                    .prefixes
                    .pending_start(&self.view.text[..end], &inner.patterns);
                if u < u0 {
                    safe = safe.min(lo + u);
                }
                (j < end).then(|| self.view.original(j))
            };
            if let Some(j) = start {
                safe = safe.min(lo + j);
            }
            last = Some(std::mem::take(&mut self.spans));
        }
        if let Some(spans) = last {
            self.spans = spans;
        }
        // The unsettled tail: held from its first byte a pattern starts
        // with.
        if let Some(y) = hay[u0..].iter().position(|&b| inner.prefixes.begins(b)) {
            safe = safe.min(lo + u0 + y);
        }
        if inner.dumps && safe > bound {
            safe = safe.min(dump::open_from(&self.buf, inner.dump_step, bound));
        }
        safe
    }

    /// Decides `buf[ctx..safe]`, and keeps the context the next call needs.
    fn process(&mut self, safe: usize, extra: Option<Hit>, out: &mut Vec<u8>) {
        let mut hits = std::mem::take(&mut self.hits);
        let mut found = std::mem::take(&mut self.found);
        hits.clear();
        let inner = &self.scrubber.inner;
        let mut searched: Option<Vec<(usize, usize)>> = None;
        let mut controls = true;
        for &rules in &inner.views {
            // The rendered view differs from the inert one only where an
            // escape, a backspace or a NUL is.
            if rules.rendered && !controls {
                continue;
            }
            controls = view::find(&self.buf, rules, &mut self.spans);
            if searched.as_ref() == Some(&self.spans) {
                continue;
            }
            if self.spans.is_empty() {
                inner.matcher.find_all(&self.buf, &mut found);
                hits.extend_from_slice(&found);
            } else {
                // Match on the view, then map back: a hit that spans a
                // removable byte redacts it too.
                self.view.build(&self.buf, &self.spans);
                inner.matcher.find_all(&self.view.text, &mut found);
                hits.extend(found.iter().map(|h| {
                    let (start, end) = self.view.span(h.start, h.end());
                    Hit::new(start, end, h.pattern)
                }));
            }
            searched = Some(std::mem::take(&mut self.spans));
        }
        if let Some(spans) = searched {
            self.spans = spans;
        }
        if inner.dumps {
            // Every pattern, in the bytes dumps spell.
            dump::decode(&self.buf, self.base, inner.dump_step, &mut self.decoded);
            for (kind, run) in &self.decoded.runs {
                inner
                    .matcher
                    .find_all(&self.decoded.bytes[run.clone()], &mut found);
                hits.extend(found.iter().map(|h| {
                    let (start, end) = self.decoded.span(run.start + h.start, run.start + h.end());
                    Hit::new(start, end, dump_pattern(*kind, h.pattern))
                }));
            }
        }
        // Hits in the context were decided before; a hit longer than the
        // span limit is no hit, however the input was split.
        let (ctx, limit) = (self.ctx, inner.span_limit);
        hits.retain(|h| h.start >= ctx && h.end() - h.start <= limit);
        hits.extend(extra);
        hits.sort_unstable();
        hits.dedup();
        let mut at = ctx;
        for h in hits.iter().filter(|h| h.start < safe) {
            let start = self.base + h.start as u64;
            let end = self.base + h.end() as u64;
            match self.open_end {
                Some(open) if start <= open => {
                    self.open_end = Some(open.max(end));
                }
                _ => {
                    self.emit_plain(at, h.start, out);
                    let (secret, form) = self.origin(h.pattern);
                    self.scrubber.render_marker(secret, form, out);
                    *self.stats.entry((secret, form)).or_insert(0) += 1;
                    self.open_end = Some(end);
                }
            }
            at = h.start;
        }
        self.emit_plain(at, safe, out);
        let drop = safe.saturating_sub(self.scrubber.inner.context);
        self.buf.drain(..drop);
        self.base += drop as u64;
        self.ctx = safe - drop;
        self.hits = hits;
        self.found = found;
    }

    /// Emits `buf[from..to]`, minus what the open region suppresses.
    fn emit_plain(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        let skip_to = self
            .open_end
            .map_or(0, |e| e.saturating_sub(self.base).min(to as u64) as usize);
        let from = from.max(skip_to);
        if from < to {
            out.extend_from_slice(&self.buf[from..to]);
        }
    }

    fn origin(&self, pattern: usize) -> (usize, Form) {
        if pattern == usize::MAX {
            return (self.partial_secret, Form::Partial);
        }
        origin(&self.scrubber, pattern)
    }

    /// The longest suffix of the held-back bytes that is a proper prefix of
    /// a pattern, at least as long as that pattern's shortest markable
    /// prefix (see `partial`), as a synthetic hit.
    fn trailing_partial(&mut self) -> Option<Hit> {
        let inner = &self.scrubber.inner;
        let undecided = &self.buf[self.ctx..];
        let last = *undecided.last()?;
        let len = self.buf.len();
        let mut best: Option<(usize, usize)> = None;
        for &(pi, k) in &inner.partial[usize::from(last)] {
            if k <= undecided.len()
                && best.is_none_or(|(_, bk)| k > bk)
                && self.buf[len - k..] == inner.patterns[pi][..k]
            {
                best = Some((pi, k));
            }
        }
        let (pi, k) = best?;
        self.partial_secret = inner.origin[pi].0;
        Some(Hit::new(len - k, len, usize::MAX))
    }
}
