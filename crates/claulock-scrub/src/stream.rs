//! One scrubbed stream: feed chunks, get output, finish.
//!
//! # Chunk safety without timers
//!
//! A byte is decided (emitted or redacted) only once every match that could
//! cover it is known, which is when the stream has seen `longest pattern - 1`
//! bytes past it. So the stream holds back at most that many bytes, and the
//! output is byte-identical for every way of splitting the input. Matches
//! that overlap or touch merge into one marker, chosen at the region's first
//! byte (the longest match starting there, then the earliest pattern), so
//! the choice cannot depend on where chunks end.

use std::collections::BTreeMap;

use crate::forms::Form;
use crate::matcher::Hit;
use crate::scrubber::Scrubber;

/// A scrubbed stream. Call [`feed`](Self::feed) for each chunk, then
/// [`finish`](Self::finish) once at the end.
pub struct Stream {
    scrubber: Scrubber,
    /// Bytes received but not yet decided.
    pending: Vec<u8>,
    /// Absolute stream offset of `pending[0]`.
    base: u64,
    /// Absolute end of the redaction region in progress (bytes before it
    /// are suppressed; a match starting at or before it extends it).
    open_end: Option<u64>,
    hits: Vec<Hit>,
    stats: BTreeMap<(usize, Form), u64>,
    /// The secret a trailing partial match belongs to.
    partial_secret: usize,
    breaks: Vec<(usize, usize)>,
    view: crate::breaks::Compacted,
    finished: bool,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("held_back", &self.pending.len())
            .field("offset", &self.base)
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
            pending: Vec::new(),
            base: 0,
            open_end: None,
            hits: Vec::new(),
            stats: BTreeMap::new(),
            partial_secret: 0,
            breaks: Vec::new(),
            view: crate::breaks::Compacted::default(),
            finished: false,
        }
    }

    /// Scrubs `chunk`, appending what can be decided to `out`. Up to
    /// `longest pattern - 1` bytes may be held back until the next call.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.finished {
            // Bytes after the end cannot be scrubbed consistently; a caller
            // that feeds after finishing gets them scrubbed as a new stream.
            self.finished = false;
            self.base = 0;
            self.open_end = None;
        }
        self.pending.extend_from_slice(chunk);
        let held = self.held_back();
        let safe = self.pending.len().saturating_sub(held);
        if safe > 0 {
            self.process(safe, None, out);
        }
    }

    /// Ends the stream: decides every held-back byte, redacting a cut-off
    /// prefix of a form at the very end.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let len = self.pending.len();
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

    /// How many undecided bytes a stream keeps: a match is at most the
    /// longest pattern, and across line breaks (at most one, of up to two
    /// bytes, between any two of its characters) at most three times that.
    fn held_back(&self) -> usize {
        let longest = self.scrubber.inner.matcher.max_len();
        if self.scrubber.inner.line_breaks {
            (3 * longest).saturating_sub(1)
        } else {
            longest.saturating_sub(1)
        }
    }

    /// Decides `pending[..safe]` and drops it.
    fn process(&mut self, safe: usize, extra: Option<Hit>, out: &mut Vec<u8>) {
        let mut hits = std::mem::take(&mut self.hits);
        let matcher = &self.scrubber.inner.matcher;
        if self.scrubber.inner.line_breaks {
            crate::breaks::find(&self.pending, &mut self.breaks);
        }
        if self.breaks.is_empty() || !self.scrubber.inner.line_breaks {
            matcher.find_all(&self.pending, &mut hits);
        } else {
            // Match on the view without removable breaks, then map back: a
            // hit that spans a break redacts the break too.
            self.view.build(&self.pending, &self.breaks);
            matcher.find_all(&self.view.text, &mut hits);
            for h in &mut hits {
                let (start, end) = self.view.span(h.start, h.end());
                *h = Hit::new(start, end, h.pattern);
            }
        }
        if let Some(h) = extra {
            hits.push(h);
            hits.sort_unstable();
        }
        let mut at = 0usize;
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
        self.pending.drain(..safe);
        self.base += safe as u64;
        self.hits = hits;
    }

    /// Emits `pending[from..to]`, minus what the open region suppresses.
    fn emit_plain(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        let skip_to = self
            .open_end
            .map_or(0, |e| e.saturating_sub(self.base).min(to as u64) as usize);
        let from = from.max(skip_to);
        if from < to {
            out.extend_from_slice(&self.pending[from..to]);
        }
    }

    fn origin(&self, pattern: usize) -> (usize, Form) {
        if pattern == usize::MAX {
            return (self.partial_secret, Form::Partial);
        }
        self.scrubber.inner.origin[pattern]
    }

    /// The longest suffix of the held-back bytes that is a proper prefix of
    /// a pattern, at least as long as that pattern's shortest markable
    /// prefix (see `partial`), as a synthetic hit.
    fn trailing_partial(&mut self) -> Option<Hit> {
        let inner = &self.scrubber.inner;
        let last = *self.pending.last()?;
        let len = self.pending.len();
        let mut best: Option<(usize, usize)> = None;
        for &(pi, k) in &inner.partial[usize::from(last)] {
            if k <= len
                && best.is_none_or(|(_, bk)| k > bk)
                && self.pending[len - k..] == inner.patterns[pi][..k]
            {
                best = Some((pi, k));
            }
        }
        let (pi, k) = best?;
        self.partial_secret = inner.origin[pi].0;
        Some(Hit::new(len - k, len, usize::MAX))
    }
}
